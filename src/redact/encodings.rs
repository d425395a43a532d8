//! Every form a secret value can take on its way out: raw, JSON- and TOML-escaped, Rust
//! `{:?}`, made visible by the sanitiser, shell-quoted, URL-, hex- and base64-encoded (in all
//! three byte alignments). Redaction searches for each of these, not only the raw value.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Every encoded form of `value` worth searching for, longest first, without duplicates.
pub fn needles(value: &str) -> Vec<String> {
    let mut out = vec![
        value.to_string(),
        json(value),
        json(&json(value)),
        json_ascii(value),
        debug(value),
        crate::sanitize::visible(value),
        toml_basic(value),
        shell_word(value),
        value.replace('\'', r"'\''"),
        double_quoted(value),
        url(value, false, true),
        url(value, false, false),
        url(value, true, true),
        hex::encode(value),
        hex::encode_upper(value),
    ];
    for align in 0..3 {
        out.push(base64_core(value.as_bytes(), align, &STANDARD_NO_PAD));
        out.push(base64_core(value.as_bytes(), align, &URL_SAFE_NO_PAD));
    }
    out.retain(|n| !n.is_empty());
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// The inside of a JSON string literal (serde_json's escaping).
fn json(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    unquote(&quoted)
}

/// JSON with every non-ASCII character as `\uXXXX` (surrogate pairs), as ASCII-only encoders write it.
fn json_ascii(value: &str) -> String {
    let mut out = String::new();
    for c in json(value).chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The inside of Rust's `{:?}` of the string (error messages quote values this way).
fn debug(value: &str) -> String {
    unquote(&format!("{value:?}"))
}

/// The inside of a TOML basic string.
fn toml_basic(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `value` as cutover quotes a shell word, when that is more than one quoted chunk (a single
/// `'...'` or `"..."` chunk is found by its inside, which keeps the quotes around the
/// reference in the redacted text).
fn shell_word(value: &str) -> String {
    let q = crate::remote::quote(value);
    let inner = q.get(1..q.len().saturating_sub(1)).unwrap_or_default();
    let single = q.starts_with('\'') && q.ends_with('\'') && inner == value;
    let double = q.starts_with('"') && q.ends_with('"') && inner == double_quoted(value);
    if single || double { String::new() } else { q }
}

/// The inside of a POSIX double-quoted word.
fn double_quoted(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Percent-encoding of every byte but RFC 3986's unreserved ones; `form` writes space as `+`.
fn url(value: &str, form: bool, upper: bool) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if form => out.push('+'),
            b if upper => out.push_str(&format!("%{b:02X}")),
            b => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// The base64 characters that depend only on `value` when it starts `align` bytes (0..3)
/// into a larger encoded stream: the part of the secret any base64 of it must contain.
fn base64_core(value: &[u8], align: usize, engine: &impl Engine) -> String {
    let mut padded = vec![0u8; align];
    padded.extend_from_slice(value);
    padded.extend_from_slice(&[0, 0, 0]);
    let encoded = engine.encode(&padded);
    let first = (8 * align).div_ceil(6);
    let end = (8 * (align + value.len())) / 6;
    encoded.get(first..end).unwrap_or_default().to_string()
}

fn unquote(quoted: &str) -> String {
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(quoted)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn json_form_of_quotes_and_backslashes_is_searched() {
        let n = needles(r#"Ab\cd9"SECRET"#);
        assert!(n.contains(&r#"Ab\\cd9\"SECRET"#.to_string()), "{n:?}");
    }

    #[test]
    fn every_base64_alignment_is_covered() {
        let secret = b"hunter2-secret";
        let n = needles("hunter2-secret");
        for prefix in 0..6 {
            let mut data = b"xyzzy!"[..prefix].to_vec();
            data.extend_from_slice(secret);
            data.extend_from_slice(b"tail");
            let enc = STANDARD.encode(&data);
            assert!(
                n.iter().any(|needle| enc.contains(needle.as_str())),
                "prefix {prefix}: {enc}"
            );
        }
    }

    #[test]
    fn url_and_shell_forms() {
        let n = needles("a b'c/d");
        assert!(n.contains(&"a%20b%27c%2Fd".to_string()));
        assert!(n.contains(&"a+b%27c%2Fd".to_string()));
        assert!(n.contains(&r"a b'\''c/d".to_string()));
    }
}
