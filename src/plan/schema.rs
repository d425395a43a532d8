//! JSON Schema of the plan format, generated from the raw syntax types so it cannot drift.

use super::raw::RawPlan;

/// The schema as pretty JSON, ending with a newline.
pub fn json() -> String {
    let mut schema = schemars::schema_for!(RawPlan);
    schema.insert(
        "$id".into(),
        "https://cutover.invalid/plan.schema.json".into(),
    );
    schema.insert("title".into(), "cutover plan".into());
    let mut value = schema.to_value();
    close_tagged_tables(&mut value);
    format!(
        "{}\n",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    )
}

/// Tagged tables flatten the common fields beside a `oneOf` of kinds; only
/// `unevaluatedProperties: false` rejects a typo there (as `cutover check` does) without
/// rejecting the common fields.
fn close_tagged_tables(schema: &mut serde_json::Value) {
    for name in ["RawCheck", "RawStep"] {
        if let Some(def) = schema
            .pointer_mut(&format!("/$defs/{name}"))
            .and_then(|d| d.as_object_mut())
        {
            def.insert("unevaluatedProperties".into(), false.into());
        }
    }
}
