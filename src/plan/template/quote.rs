//! Where a shell text stands (outside quotes, in `"..."`, in `'...'`, in `$(...)`) and how a
//! value is written there so that it reads back as itself. Pure.

/// One level of quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Bare,
    Double,
    Single,
}

/// Where a shell text stands after the characters seen so far: outside quotes, in
/// `"..."`, or in `'...'` (backslash escapes honoured where the shell honours them); a
/// command substitution `$(...)` starts afresh, outside quotes, until its `)`.
#[derive(Debug, Clone)]
pub(super) struct QuoteState {
    /// Innermost last; the bottom is the command itself. A `Bare` above the bottom is a
    /// `$(...)`, with its open parentheses.
    stack: Vec<(Quote, u32)>,
}

impl Default for QuoteState {
    fn default() -> Self {
        Self {
            stack: vec![(Quote::Bare, 0)],
        }
    }
}

impl QuoteState {
    fn top(&self) -> Quote {
        self.stack.last().map_or(Quote::Bare, |t| t.0)
    }

    /// Moves past `text`.
    pub(super) fn advance(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let nested = self.stack.len() > 1;
            match (self.top(), c) {
                (Quote::Bare | Quote::Double, '\\') => {
                    chars.next();
                }
                (Quote::Bare | Quote::Double, '$') if chars.peek() == Some(&'(') => {
                    chars.next();
                    self.stack.push((Quote::Bare, 0));
                }
                (Quote::Bare, '\'') => self.stack.push((Quote::Single, 0)),
                (Quote::Bare, '"') => self.stack.push((Quote::Double, 0)),
                (Quote::Bare, '(') if nested => self.depth(1),
                (Quote::Bare, ')') if nested => {
                    if self.stack.last().is_some_and(|t| t.1 == 0) {
                        self.stack.pop();
                    } else {
                        self.depth(-1);
                    }
                }
                (Quote::Single, '\'') | (Quote::Double, '"') => {
                    self.stack.pop();
                }
                _ => {}
            }
        }
    }

    fn depth(&mut self, by: i32) {
        if let Some(top) = self.stack.last_mut() {
            top.1 = top.1.saturating_add_signed(by);
        }
    }

    /// `value` as shell text that reads back as exactly `value` here (`None`: a NUL).
    pub(super) fn quote(&self, value: &str) -> Option<String> {
        if value.contains('\0') {
            return None;
        }
        Some(match self.top() {
            Quote::Bare => shlex::try_quote(value).ok()?.into_owned(),
            Quote::Double => value.chars().fold(String::new(), |mut s, c| {
                if matches!(c, '\\' | '"' | '$' | '`') {
                    s.push('\\');
                }
                s.push(c);
                s
            }),
            Quote::Single => value.replace('\'', r"'\''"),
        })
    }
}
