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
    require(&mut value);
    enums(&mut value);
    durations(&mut value);
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

/// A duration as `humantime` reads it: `"30s"`, `"2m"`, `"500ms"`, `"1h 30m"`.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(\.[0-9]+)?\s*(nsec|ns|usec|us|µs|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y)\s*)+$";

/// Keys whose values are durations, wherever they appear (the schema's pattern, and the
/// parser's hint for a duration written without quotes).
pub(super) const DURATION_KEYS: [&str; 13] = [
    "timeout",
    "arm_window",
    "arm_deadline",
    "reverify_before",
    "stable_for",
    "poll_interval",
    "interval",
    "connect_timeout",
    "keepalive",
    "command_timeout",
    "max_offset",
    "max_latency",
    "settle",
];

/// What `cutover check` demands, also in the schema: a fire time, and a watch that ends.
fn require(schema: &mut serde_json::Value) {
    let required: [(&str, &[&str]); 2] = [
        ("RawAction", &["at", "run"]),
        ("RawWatch", &["timeout", "complete_when"]),
    ];
    for (def, keys) in required {
        let Some(obj) = schema.pointer_mut(&format!("/$defs/{def}")) else {
            continue;
        };
        let mut list: Vec<serde_json::Value> = obj
            .get("required")
            .and_then(|r| r.as_array().cloned())
            .unwrap_or_default();
        for k in keys {
            if !list.iter().any(|v| v == k) {
                list.push((*k).into());
            }
        }
        obj["required"] = list.into();
    }
    if let Some(at) = schema.pointer_mut("/$defs/RawAction/properties/at") {
        at["type"] = "string".into();
        at["format"] = "date-time".into();
    }
    if let Some(cw) = schema.pointer_mut("/$defs/RawWatch/properties/complete_when") {
        cw["minItems"] = 1.into();
        cw["items"] =
            serde_json::json!({ "type": "string", "pattern": "^(quorum|all_probes|probe:.+)$" });
    }
    if let Some(ab) = schema.pointer_mut("/$defs/RawWatch/properties/abort_if") {
        ab["items"] =
            serde_json::json!({ "type": "string", "pattern": "^(quorum_lost|drift|probe:.+)$" });
    }
}

/// Names with a fixed set of values, as enums (so an editor offers and checks them):
/// `mechanism` wherever it appears, a quorum's `source` and a probe's `kind` (an upload's
/// `source` is a path).
fn enums(schema: &mut serde_json::Value) {
    let sets: [(&str, &str, &[&str]); 3] = [
        ("", "mechanism", &["systemd", "at", "waiter", "auto"]),
        ("RawQuorum", "source", &["etcd", "consul", "command"]),
        ("RawProbe", "kind", &["http", "tcp", "command"]),
    ];
    for (def, name, values) in sets {
        let scope = if def.is_empty() {
            Some(&mut *schema)
        } else {
            schema.pointer_mut(&format!("/$defs/{def}"))
        };
        let Some(scope) = scope else { continue };
        each_property(scope, &mut |n, prop| {
            if n == name && takes_string(prop) {
                let mut list: Vec<serde_json::Value> = values.iter().map(|v| (*v).into()).collect();
                if prop["type"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "null"))
                {
                    list.push(serde_json::Value::Null);
                }
                prop["enum"] = list.into();
            }
        });
    }
}

/// Every duration key gets the duration pattern.
fn durations(schema: &mut serde_json::Value) {
    each_property(schema, &mut |name, prop| {
        if DURATION_KEYS.contains(&name) && takes_string(prop) {
            prop["pattern"] = DURATION_PATTERN.into();
        }
    });
}

fn takes_string(prop: &serde_json::Value) -> bool {
    match &prop["type"] {
        serde_json::Value::String(t) => t == "string",
        serde_json::Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// Calls `f` on every named property of every object schema, at any depth.
fn each_property(v: &mut serde_json::Value, f: &mut dyn FnMut(&str, &mut serde_json::Value)) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    f(name, prop);
                }
            }
            for (_, child) in map.iter_mut() {
                each_property(child, f);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                each_property(item, f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> serde_json::Value {
        serde_json::from_str(&json()).unwrap()
    }

    #[test]
    fn required_fields_enums_and_durations_are_encoded() {
        let s = schema();
        let req = |def: &str| s["$defs"][def]["required"].clone();
        assert!(req("RawAction").as_array().unwrap().contains(&"at".into()));
        let watch = req("RawWatch");
        assert!(watch.as_array().unwrap().contains(&"timeout".into()));
        assert!(watch.as_array().unwrap().contains(&"complete_when".into()));
        let mech = &s["$defs"]["RawAction"]["properties"]["mechanism"]["enum"];
        assert!(
            mech.as_array().unwrap().contains(&"waiter".into()),
            "{mech}"
        );
        let dl = &s["$defs"]["RawAction"]["properties"]["arm_deadline"]["pattern"];
        assert_eq!(dl, DURATION_PATTERN);
    }

    #[test]
    fn the_duration_pattern_agrees_with_the_parser() {
        let re = regex::Regex::new(DURATION_PATTERN).unwrap();
        for ok in ["30s", "2m", "500ms", "1h 30m", "10 min"] {
            assert!(re.is_match(ok), "{ok}");
            assert!(humantime::parse_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["30", "soon", "", "5 parsecs"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
