//! Reading a journal back: every complete record, tolerating a torn last line.

use super::{JournalError, Record};
use serde::de::DeserializeOwned;

/// What was read: the records, and whether the last line was torn (and ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Read<E> {
    /// Complete records in order.
    pub records: Vec<Record<E>>,
    /// True when the final line was incomplete or unparsable and was skipped.
    pub torn_tail: bool,
}

/// Parses journal text. A bad line in the middle is corruption; a bad final line is a torn write.
pub fn parse<E: DeserializeOwned>(path: &str, text: &str) -> Result<Read<E>, JournalError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut records = Vec::with_capacity(lines.len());
    let mut torn_tail = false;
    for (i, raw) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let line = raw.trim_end_matches('\n');
        if line.trim().is_empty() {
            continue;
        }
        match (serde_json::from_str::<Record<E>>(line), last) {
            (Ok(r), false) => records.push(r),
            (Ok(r), true) if raw.ends_with('\n') => records.push(r),
            (_, true) => torn_tail = true,
            (Err(e), false) => {
                return Err(JournalError::Corrupt {
                    path: path.into(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(Read { records, torn_tail })
}

/// Reads a journal file.
pub fn read<E: DeserializeOwned>(path: &std::path::Path) -> Result<Read<E>, JournalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&shown, &text)
}

/// One timeline from a run's journal and its side journals: ordered by time, the main
/// journal first among equal times. Sequence numbers stay those of each record's own file.
pub fn merge<E>(main: Vec<Record<E>>, sides: Vec<Vec<Record<E>>>) -> Vec<Record<E>> {
    let mut all: Vec<(usize, Record<E>)> = main.into_iter().map(|r| (0, r)).collect();
    for (i, side) in sides.into_iter().enumerate() {
        all.extend(side.into_iter().map(|r| (i + 1, r)));
    }
    all.sort_by(|a, b| a.1.ts.cmp(&b.1.ts).then(a.0.cmp(&b.0)));
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_journals_merge_in_by_time() {
        let main: Read<String> = parse("j", &format!("{A}\n{B}\n")).unwrap();
        let side = r#"{"seq":1,"ts":"2027-01-14T02:05:00.500Z","event":"disarm"}"#;
        let side: Read<String> = parse("d", &format!("{side}\n")).unwrap();
        let merged = merge(main.records, vec![side.records]);
        let order: Vec<&str> = merged.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(order, ["a", "disarm", "b"]);
    }

    const A: &str = r#"{"seq":1,"ts":"2027-01-14T02:05:00Z","event":"a"}"#;
    const B: &str = r#"{"seq":2,"ts":"2027-01-14T02:05:01Z","event":"b"}"#;

    #[test]
    fn reads_complete_records() {
        let r: Read<String> = parse("j", &format!("{A}\n{B}\n")).unwrap();
        assert_eq!(
            r.records
                .iter()
                .map(|r| r.event.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(!r.torn_tail);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_reported() {
        let r: Read<String> = parse("j", &format!("{A}\n{}", &B[..20])).unwrap();
        assert_eq!(r.records.len(), 1);
        assert!(r.torn_tail);
        // A complete JSON object without its newline was also cut short of its terminator.
        let r: Read<String> = parse("j", &format!("{A}\n{B}")).unwrap();
        assert_eq!((r.records.len(), r.torn_tail), (1, true));
    }

    #[test]
    fn corruption_in_the_middle_is_an_error_naming_the_line() {
        let e = parse::<String>("j.jsonl", &format!("{A}\ngarbage\n{B}\n")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("journal j.jsonl:2: not a valid record"),
            "{e}"
        );
    }
}
