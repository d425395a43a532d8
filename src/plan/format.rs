//! `cutover fmt`: a plan's layout normalised, losslessly (toml_edit keeps every comment and
//! every value as written): one space around `=`, no indentation, at most one blank line in a
//! row, one blank line before each table header, `{ a = 1, b = 2 }` spacing in inline tables
//! and one-line arrays, one newline at the end. Comments after values keep their alignment.
//! Pure; the result must parse to the same values, or it is refused.

use toml_edit::{Decor, DocumentMut, Item, Table, Value};

/// Why a plan cannot be formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not TOML at all (`cutover check` says where).
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// The formatted text would mean something else: a bug, and nothing is written.
    #[error("formatting would change the plan's values; left as it is")]
    Changed,
}

/// `text` with its layout normalised; the same values and comments.
pub fn format(text: &str) -> Result<String, FormatError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| FormatError::Syntax(e.message().to_string()))?;
    let mut first = true;
    table(doc.as_table_mut(), &mut first);
    let trailing = doc.trailing().as_str().map(blank_lines).unwrap_or_default();
    doc.set_trailing(trailing.trim_end_matches('\n').to_string());
    let mut out = doc.to_string();
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let same = |t: &str| t.parse::<toml::Table>().ok();
    if same(text) != same(&out) {
        return Err(FormatError::Changed);
    }
    Ok(out)
}

fn table(t: &mut Table, first: &mut bool) {
    for (mut key, item) in t.iter_mut() {
        match item {
            Item::Value(v) => {
                let decor = key.leaf_decor_mut();
                decor.set_prefix(leading(decor.prefix().and_then(|p| p.as_str()), false));
                decor.set_suffix(" ");
                value(v);
            }
            Item::Table(sub) => header(sub, first),
            Item::ArrayOfTables(list) => {
                for sub in list.iter_mut() {
                    header(sub, first);
                }
            }
            Item::None => {}
        }
    }
}

fn header(t: &mut Table, first: &mut bool) {
    if !t.is_implicit() && !t.is_dotted() {
        let decor = t.decor_mut();
        let prefix = leading(decor.prefix().and_then(|p| p.as_str()), !*first);
        decor.set_prefix(prefix);
        let suffix = trailing_comment(decor.suffix().and_then(|s| s.as_str()));
        decor.set_suffix(suffix);
        *first = false;
    }
    table(t, first);
}

fn value(v: &mut Value) {
    let suffix = trailing_comment(v.decor().suffix().and_then(|s| s.as_str()));
    match v {
        Value::InlineTable(t) if !t.to_string().contains('\n') => t.fmt(),
        Value::Array(a) if !a.to_string().contains('\n') => a.fmt(),
        _ => {}
    }
    let d: &mut Decor = v.decor_mut();
    d.set_prefix(" ");
    d.set_suffix(suffix);
}

/// What stands before a key or header: its comments, without indentation, at most one blank
/// line in a row; a header gets one blank line before it (`blank_before`).
fn leading(prefix: Option<&str>, blank_before: bool) -> String {
    let text = blank_lines(prefix.unwrap_or(""));
    let body = text.trim_start_matches('\n');
    let had_blank = text.len() != body.len();
    if blank_before || (had_blank && !body.is_empty()) {
        format!("\n{body}")
    } else if had_blank {
        "\n".to_string()
    } else {
        body.to_string()
    }
}

/// Lines without indentation or trailing blanks, at most one empty line in a row.
fn blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut empty = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim();
        if bare.is_empty() && line.ends_with('\n') {
            empty += 1;
            if empty <= 1 {
                out.push('\n');
            }
            continue;
        }
        empty = 0;
        out.push_str(bare);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// A value's or header's suffix: a comment keeps its spacing (aligned comments stay
/// aligned), anything else is dropped.
fn trailing_comment(suffix: Option<&str>) -> String {
    match suffix {
        Some(s) if s.contains('#') => {
            let comment = s.trim_end();
            if comment.starts_with([' ', '\t']) {
                comment.to_string()
            } else {
                format!(" {comment}")
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_normalised_and_comments_kept() {
        let text = "# head\n[plan]\n  name   =  \"x\"   # the slug\n\n\n\nowner=\"me\"\n[[stage]]\nstep = \"command\"\nrun = \"true\"\nkeys = {a=1,b=2}\nlist = [ \"a\",\"b\" ]\n\n";
        let out = format(text).unwrap();
        assert_eq!(
            out,
            "# head\n[plan]\nname = \"x\"   # the slug\n\nowner = \"me\"\n\n[[stage]]\nstep = \"command\"\nrun = \"true\"\nkeys = { a = 1, b = 2 }\nlist = [\"a\", \"b\"]\n"
        );
        assert_eq!(format(&out).unwrap(), out, "idempotent");
    }

    #[test]
    fn multi_line_strings_and_arrays_are_left_as_written() {
        let text = "[plan]\nname = \"x\"\ndescription = \"\"\"\n  indented\n\n\n  text\"\"\"\nlist = [\n  \"a\",\n  \"b\",\n]\n";
        assert_eq!(format(text).unwrap(), text);
    }

    #[test]
    fn invalid_toml_is_refused() {
        assert!(matches!(format("[plan"), Err(FormatError::Syntax(_))));
    }
}
