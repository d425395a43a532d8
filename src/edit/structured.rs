//! Setting dotted keys in JSON, TOML and INI files with as small a diff as possible.
//!
//! TOML goes through `toml_edit`, which keeps comments and formatting; JSON keeps key order
//! (serde_json `preserve_order`) and is written pretty with two spaces; INI is edited line by
//! line so comments and layout survive.

use super::EditError;
use crate::plan::model::KeyFormat;

/// Sets every `(dotted.key, value)` in `text`, in order.
pub fn set_keys(
    format: KeyFormat,
    text: &str,
    keys: &[(String, toml::Value)],
) -> Result<String, EditError> {
    match format {
        KeyFormat::Json => json(text, keys),
        KeyFormat::Toml => toml(text, keys),
        KeyFormat::Ini => Ok(ini(text, keys)),
    }
}

fn json(text: &str, keys: &[(String, toml::Value)]) -> Result<String, EditError> {
    let parse = |message: String| EditError::Parse {
        format: "JSON",
        message,
    };
    let mut doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
    for (key, value) in keys {
        let value = serde_json::to_value(value).map_err(|e| parse(e.to_string()))?;
        let (parents, leaf) = split(key);
        let mut node = &mut doc;
        for (i, part) in parents.iter().enumerate() {
            let obj = node
                .as_object_mut()
                .ok_or_else(|| not_table(key, &parents[..i]))?;
            node = obj
                .entry(part.to_string())
                .or_insert_with(|| serde_json::json!({}));
        }
        let obj = node
            .as_object_mut()
            .ok_or_else(|| not_table(key, &parents))?;
        obj.insert(leaf.to_string(), value);
    }
    let mut out = serde_json::to_string_pretty(&doc).map_err(|e| parse(e.to_string()))?;
    if text.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

fn toml(text: &str, keys: &[(String, toml::Value)]) -> Result<String, EditError> {
    let parse = |message: String| EditError::Parse {
        format: "TOML",
        message,
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| parse(e.to_string()))?;
    for (key, value) in keys {
        let value: toml_edit::Value = value
            .to_string()
            .parse()
            .map_err(|e: toml_edit::TomlError| parse(e.to_string()))?;
        let (parents, leaf) = split(key);
        let mut table = doc.as_table_mut() as &mut dyn toml_edit::TableLike;
        for (i, part) in parents.iter().enumerate() {
            let entry = table.entry(part).or_insert(toml_edit::table());
            table = entry
                .as_table_like_mut()
                .ok_or_else(|| not_table(key, &parents[..=i]))?;
        }
        match table.get_mut(leaf).and_then(|item| item.as_value_mut()) {
            Some(existing) => {
                let decor = existing.decor().clone();
                *existing = value;
                *existing.decor_mut() = decor;
            }
            None => {
                table.insert(leaf, toml_edit::value(value));
            }
        }
    }
    Ok(doc.to_string())
}

fn ini(text: &str, keys: &[(String, toml::Value)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (key, value) in keys {
        let (section, name) = match key.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, key.as_str()),
        };
        let value = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        ini_set(&mut lines, section, name, &value);
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        out.push('\n');
    }
    out
}

fn ini_set(lines: &mut Vec<String>, section: Option<&str>, name: &str, value: &str) {
    let (start, end) = ini_section(lines, section).unwrap_or_else(|| {
        if let Some(s) = section {
            lines.push(format!("[{s}]"));
        }
        (lines.len(), lines.len())
    });
    for line in &mut lines[start..end] {
        let trimmed = line.trim_start();
        if trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some((k, _)) = trimmed.split_once('=')
            && k.trim() == name
        {
            let indent = &line[..line.len() - trimmed.len()];
            let spaced = k.ends_with(' ');
            *line = if spaced {
                format!("{indent}{} = {value}", k.trim())
            } else {
                format!("{indent}{}={value}", k.trim())
            };
            return;
        }
    }
    lines.insert(end, format!("{name} = {value}"));
}

/// The line range of a section's body (after its header, up to the next header).
fn ini_section(lines: &[String], section: Option<&str>) -> Option<(usize, usize)> {
    let start = match section {
        None => 0,
        Some(s) => lines.iter().position(|l| l.trim() == format!("[{s}]"))? + 1,
    };
    let end = lines[start..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |i| start + i);
    let end = (start..end)
        .rev()
        .find(|&i| !lines[i].trim().is_empty())
        .map_or(start, |i| i + 1);
    Some((start, end))
}

fn split(key: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().unwrap_or(key);
    (parts, leaf)
}

fn not_table(key: &str, at: &[&str]) -> EditError {
    EditError::NotATable {
        key: key.to_string(),
        at: at.join("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: toml::Value) -> Vec<(String, toml::Value)> {
        vec![(k.to_string(), v)]
    }

    #[test]
    fn json_keeps_key_order_and_sets_nested_keys() {
        let text = "{\n  \"datacenter\": \"gprd\",\n  \"verify_incoming\": true,\n  \"tls\": {\n    \"a\": 1\n  }\n}\n";
        let out = set_keys(KeyFormat::Json, text, &kv("verify_incoming", false.into())).unwrap();
        assert_eq!(
            out,
            text.replace("\"verify_incoming\": true", "\"verify_incoming\": false")
        );
        let out = set_keys(KeyFormat::Json, text, &kv("tls.b", 2.into())).unwrap();
        assert!(out.contains("\"a\": 1,\n    \"b\": 2"), "{out}");
    }

    #[test]
    fn json_refuses_to_descend_into_a_scalar() {
        let e = set_keys(KeyFormat::Json, r#"{"a": 1}"#, &kv("a.b", true.into())).unwrap_err();
        assert_eq!(
            e,
            EditError::NotATable {
                key: "a.b".into(),
                at: "a".into()
            }
        );
        assert!(matches!(
            set_keys(KeyFormat::Json, "{", &kv("a", 1.into())),
            Err(EditError::Parse { .. })
        ));
    }

    #[test]
    fn toml_keeps_comments_and_formatting() {
        let text = "# consul\n[tls]\nverify_incoming = true # was on\nca = \"x\"\n";
        let out = set_keys(
            KeyFormat::Toml,
            text,
            &kv("tls.verify_incoming", false.into()),
        )
        .unwrap();
        assert_eq!(
            out,
            "# consul\n[tls]\nverify_incoming = false # was on\nca = \"x\"\n"
        );
        let out = set_keys(KeyFormat::Toml, text, &kv("tls.new", "y".into())).unwrap();
        assert!(out.contains("new = \"y\""), "{out}");
    }

    #[test]
    fn ini_edits_in_place_or_appends_to_the_section() {
        let text = "; agent\n[main]\nverify=true\n\n[other]\nx = 1\n";
        let out = set_keys(KeyFormat::Ini, text, &kv("main.verify", false.into())).unwrap();
        assert_eq!(out, "; agent\n[main]\nverify=false\n\n[other]\nx = 1\n");
        let out = set_keys(KeyFormat::Ini, text, &kv("main.ca", "/etc/ca.pem".into())).unwrap();
        assert_eq!(
            out,
            "; agent\n[main]\nverify=true\nca = /etc/ca.pem\n\n[other]\nx = 1\n"
        );
        let out = set_keys(KeyFormat::Ini, text, &kv("new.k", 1.into())).unwrap();
        assert!(out.ends_with("[new]\nk = 1\n"), "{out}");
    }
}
