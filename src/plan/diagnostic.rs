//! Problems found in a plan, each pointing at a place in its file, rendered like a compiler's.
//!
//! The renderer is hand-written rather than miette's graphical report: the output is plain
//! `file:line:col: error: ...` that greps, pastes into a merge request, and snapshots stably.

use crate::sanitize::visible;
use serde::Serialize;
use std::fmt::Write as _;
use std::ops::Range;

/// How bad a problem is: errors fail `cutover check`, warnings only inform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The plan cannot run.
    Error,
    /// The plan can run, but a reviewer should look.
    Warning,
}

/// One problem in a plan or inventory file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Which file (plan or inventory) the span refers to.
    pub file: FileId,
    /// Byte range in that file, when known.
    pub span: Option<Range<usize>>,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Which of the run's input files a diagnostic points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileId {
    /// The plan file.
    Plan,
    /// The inventory file.
    Inventory,
}

impl Diagnostic {
    /// An error in the plan file at `span`.
    pub fn error(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: FileId::Plan,
            span,
            hint: None,
        }
    }

    /// A warning in the plan file at `span`.
    pub fn warning(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message, span)
        }
    }

    /// Adds what to do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Marks the diagnostic as pointing into the inventory file.
    pub fn in_inventory(mut self) -> Self {
        self.file = FileId::Inventory;
        self
    }
}

/// A file's name and text, to turn byte offsets into lines and snippets.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    /// Name as shown to the user.
    pub name: &'a str,
    /// Full text.
    pub text: &'a str,
}

impl SourceFile<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders one diagnostic: location, message, the offending line with a caret, and the hint.
pub fn render(d: &Diagnostic, file: SourceFile<'_>) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = String::new();
    // Everything shown goes through the sanitiser: a plan's escapes, bidi controls and NULs
    // are shown as `\u{..}`, and the caret is placed under the text as shown.
    let (name, message) = (visible(file.name), visible(&d.message));
    let Some(span) = &d.span else {
        let _ = writeln!(out, "{name}: {level}: {message}");
        push_hint(&mut out, d, 0);
        return out;
    };
    let (line, col) = file.line_col(span.start);
    let _ = writeln!(out, "{name}:{line}:{col}: {level}: {message}");
    let text = file.line_text(line);
    let gutter = line.to_string().len();
    let width = caret_width(file, span, text, col);
    let shown_col = visible(&text.chars().take(col - 1).collect::<String>())
        .chars()
        .count();
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{line} | {}", visible(text));
    let _ = writeln!(
        out,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(shown_col),
        "^".repeat(width)
    );
    push_hint(&mut out, d, gutter);
    out
}

fn caret_width(file: SourceFile<'_>, span: &Range<usize>, line_text: &str, col: usize) -> usize {
    let end = floor_char_boundary(file.text, span.end.min(file.text.len()));
    let start = floor_char_boundary(file.text, span.start.min(end));
    let spanned = file.text[start..end].split('\n').next().unwrap_or("");
    let rest: String = line_text.chars().skip(col - 1).collect();
    let rest_of_line = visible(&rest).chars().count();
    visible(spanned)
        .chars()
        .count()
        .clamp(1, rest_of_line.max(1))
}

fn push_hint(out: &mut String, d: &Diagnostic, gutter: usize) {
    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "{:gutter$} = hint: {}", "", visible(hint));
    }
}

/// Suggests the closest known name to a misspelt one, if any is close enough.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(wrong, k), k))
        .filter(|(d, k)| *d <= (k.len().max(wrong.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[plan]\nname = \"x\"\n\n[execution]\nbatch_size = 0\n";

    #[test]
    fn renders_location_snippet_caret_and_hint() {
        let at = TEXT.find("0\n").unwrap();
        let d = Diagnostic::error("batch_size must be at least 1", Some(at..at + 1))
            .with_hint("the reference run used 20");
        let out = render(
            &d,
            SourceFile {
                name: "p.toml",
                text: TEXT,
            },
        );
        assert_eq!(
            out,
            "p.toml:5:14: error: batch_size must be at least 1\n  |\n5 | batch_size = 0\n  |              ^\n  = hint: the reference run used 20\n"
        );
    }

    #[test]
    fn renders_without_span() {
        let d = Diagnostic::warning("no [watch] section", None);
        let out = render(
            &d,
            SourceFile {
                name: "p.toml",
                text: TEXT,
            },
        );
        assert_eq!(out, "p.toml: warning: no [watch] section\n");
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let f = SourceFile {
            name: "x",
            text: "a = \"é\"\nb = 1",
        };
        assert_eq!(f.line_col(f.text.find('b').unwrap()), (2, 1));
        assert_eq!(f.line_col(f.text.find('"').unwrap() + 3), (1, 7));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("exection", ["execution", "action"]),
            Some("execution")
        );
        assert_eq!(did_you_mean("zzz", ["execution", "action"]), None);
    }
}
