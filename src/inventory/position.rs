//! Line/column positions in inventory text, so errors can point at the offending line.

use std::fmt;

/// A 1-based line and column in an inventory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text's end).
    pub fn from_offset(text: &str, offset: usize) -> Self {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Position { line, col }
    }

    /// The byte offset of this position in `text` (clamped to the text's end).
    pub fn to_offset(&self, text: &str) -> usize {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(self.line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = &text[line_start.min(text.len())..];
        line_start
            + rest
                .char_indices()
                .nth(self.col.saturating_sub(1))
                .map_or(rest.len(), |(i, _)| i)
    }

    /// The start of 1-based `line`.
    pub fn line(line: usize) -> Self {
        Position { line, col: 1 }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn offsets_map_to_line_and_column() {
        let text = "ab\ncdé\nx";
        assert_eq!(Position::from_offset(text, 0), Position { line: 1, col: 1 });
        assert_eq!(Position::from_offset(text, 3), Position { line: 2, col: 1 });
        assert_eq!(Position::from_offset(text, 7), Position { line: 2, col: 4 });
        assert_eq!(
            Position::from_offset(text, 999),
            Position { line: 3, col: 2 }
        );
    }

    #[test]
    fn offsets_inside_a_character_round_down() {
        let text = "é";
        assert_eq!(Position::from_offset(text, 1), Position { line: 1, col: 1 });
    }
}
