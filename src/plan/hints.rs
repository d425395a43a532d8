//! What to write instead, for the parser's shape errors: "did you mean" for unknown keys of
//! a kind, and an example value for a value of the wrong type (`batch_size = "5"`). Pure.

use super::diagnostic::{Diagnostic, did_you_mean};

/// The hint for "unexpected keys in table: KEYS, available keys: FIELDS" (a kind's table):
/// the closest field of the kind or of the common fields, else the list of both.
pub fn unexpected_keys(keys: &str, available: &str, common: &[&str]) -> String {
    let fields: Vec<&str> = available
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let first = keys.split(',').next().unwrap_or(keys).trim();
    let known = fields.iter().chain(common).copied();
    match did_you_mean(first, known) {
        Some(k) => format!("did you mean `{k}`?"),
        None if fields.is_empty() => format!(
            "this kind takes only the common fields: {}",
            common.join(", ")
        ),
        None => format!(
            "this kind takes {}, and the common fields: {}",
            fields.join(", "),
            common.join(", ")
        ),
    }
}

/// Adds an example of the right type to "invalid type: …, expected …" errors, naming the
/// key written just before the value in `text`.
pub fn type_hint(d: &mut Diagnostic, text: &str) {
    if d.hint.is_some() || !d.message.starts_with("invalid type:") {
        return;
    }
    let Some(span) = d.span.clone() else { return };
    let Some(key) = key_before(text, span.start) else {
        return;
    };
    let found = text.get(span).unwrap_or("").trim_matches('"');
    let expected = d.message.rsplit("expected ").next().unwrap_or("");
    let hint = if ["i64", "u64", "u32", "u16", "usize", "i32"].contains(&expected) {
        let n: String = found.chars().filter(char::is_ascii_digit).collect();
        let n = if n.is_empty() { "5".to_string() } else { n };
        format!("{key} must be a whole number, without quotes, e.g. {key} = {n}")
    } else if expected == "f64" || expected == "a number" {
        format!("{key} must be a number, without quotes, e.g. {key} = 0.5")
    } else if expected.contains("bool") {
        format!("{key} must be true or false, without quotes, e.g. {key} = true")
    } else if expected.contains("string") && super::schema::DURATION_KEYS.contains(&key) {
        format!("{key} is a duration in quotes, e.g. {key} = \"{found}s\" (units: ms, s, m, h)")
    } else if expected.contains("string") {
        format!("{key} must be a string in quotes, e.g. {key} = \"{found}\"")
    } else if expected.contains("sequence") {
        format!("{key} is a list, e.g. {key} = [\"{found}\"]")
    } else {
        return;
    };
    d.hint = Some(hint);
}

/// The key of `key = value` whose value starts at `at` (also inside an inline table).
fn key_before(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?.trim_end().strip_suffix('=')?.trim_end();
    let start = before
        .rfind(|c: char| c.is_whitespace() || c == '{' || c == ',' || c == '.')
        .map_or(0, |i| i + 1);
    let key = before[start..].trim_matches('"');
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hinted(text: &str, value: &str, message: &str) -> String {
        let at = text.find(value).unwrap();
        let mut d = Diagnostic::error(message, Some(at..at + value.len()));
        type_hint(&mut d, text);
        d.hint.unwrap_or_default()
    }

    #[test]
    fn a_number_in_quotes_gets_an_example() {
        assert_eq!(
            hinted(
                "batch_size = \"5\"\n",
                "\"5\"",
                "invalid type: string \"5\", expected i64"
            ),
            "batch_size must be a whole number, without quotes, e.g. batch_size = 5"
        );
    }

    #[test]
    fn a_bare_duration_gets_quotes_and_a_unit() {
        assert_eq!(
            hinted(
                "arm_deadline = 30\n",
                "30",
                "invalid type: integer `30`, expected a string"
            ),
            "arm_deadline is a duration in quotes, e.g. arm_deadline = \"30s\" (units: ms, s, m, h)"
        );
        assert_eq!(
            hinted(
                "x = { sudo = \"yes\" }",
                "\"yes\"",
                "invalid type: string \"yes\", expected a boolean"
            ),
            "sudo must be true or false, without quotes, e.g. sudo = true"
        );
    }

    #[test]
    fn an_unknown_key_of_a_kind_gets_the_closest_field() {
        let common = ["name", "targets"];
        assert_eq!(
            unexpected_keys(
                "max_ofset",
                "max_offset, ntp_synchronized, timezone",
                &common
            ),
            "did you mean `max_offset`?"
        );
        assert!(
            unexpected_keys("zzzzzz", "max_offset", &common)
                .starts_with("this kind takes max_offset")
        );
        assert!(unexpected_keys("zzzzzz", "", &common).starts_with("this kind takes only"));
    }
}
