//! Secrets in shell commands as data, never as shell text: each `{{ secrets.NAME }}` of a
//! command becomes a quoted reference to a variable (`"${CUTOVER_SECRET_NAME}"`) that a
//! preamble fills from base64, so no value can change what a command does.
//!
//! A small POSIX-shell lexer finds the quoting context of every reference (`'{{ secrets.X }}'`,
//! single quotes around nothing but the reference, is the same word as the variable). Where
//! a variable reference cannot be made safe the reference is refused, with the reason: inside
//! single quotes with other text (often another program's code: `awk '...'`, `sh -c '...'`),
//! backquotes, `${...}`, `$((...))`, quoted here-documents, after a backslash, or as code of a
//! command that runs its argument as code (`eval`, `ssh`, `su`, `sh -c`, `python -c`, `awk`,
//! `sed`, or a here-document fed to a shell). Pure.

use std::collections::BTreeSet;

/// Prefix of the variable that carries a secret's value on the host.
pub const VAR_PREFIX: &str = "CUTOVER_SECRET_";

/// The shell variable holding secret `name`'s value.
pub fn var_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{VAR_PREFIX}{safe}")
}

/// Where a reference sits when it cannot be made safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Inside `'...'` (or `$'...'`).
    SingleQuotes,
    /// Inside backquotes.
    Backquotes,
    /// Inside `${...}`.
    Parameter,
    /// Inside `$((...))`.
    Arithmetic,
    /// In a here-document whose delimiter is quoted (no expansion).
    QuotedHeredoc,
    /// Right after a backslash.
    Escaped,
    /// Code for a command that interprets it (the command named).
    Code(&'static str),
}

/// A secret reference that cannot be passed as data, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{{{{ secrets.{name} }}}}` {}", explain(*context))]
pub struct UnsafeReference {
    /// The secret.
    pub name: String,
    /// Byte offset of the reference in the command.
    pub offset: usize,
    /// Why it cannot be made safe.
    pub context: Context,
}

fn explain(c: Context) -> String {
    match c {
        Context::SingleQuotes => "is inside single quotes, where its value would become part of the quoted text (often another program's code); put it outside the quotes or in double quotes".into(),
        Context::Backquotes => "is inside backquotes; use $(...) instead".into(),
        Context::Parameter => "is inside ${...}; use it as a word of its own".into(),
        Context::Arithmetic => "is inside $((...)), where its value would be evaluated".into(),
        Context::QuotedHeredoc => "is in a quoted here-document, which does not expand variables; unquote the delimiter (<<EOF)".into(),
        Context::Escaped => "follows a backslash; remove the backslash".into(),
        Context::Code(cmd) => format!("would become code run by `{cmd}`; pass it as a separate argument (sh -c 'cmd \"$1\"' sh {{{{ secrets.NAME }}}}) or through a file"),
    }
}

/// A command with its secret references rewritten, and the secrets it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The command, with `"${CUTOVER_SECRET_NAME}"` where the references were.
    pub script: String,
    /// The secrets referenced.
    pub used: BTreeSet<String>,
}

/// Commands whose arguments are code: a reference among their words is refused.
const RUNS_ARGUMENTS: &[&str] = &[
    "eval", "ssh", "su", "runuser", "awk", "gawk", "mawk", "nawk", "sed", "perl",
];

/// Interpreters whose `-c`/`-e` argument (or here-document) is code.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "python", "python2", "python3", "ruby",
    "node", "php", "lua", "psql", "mysql", "sqlite3", "tclsh",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Top level or `$(...)`, with its open `(` count.
    Code {
        subst: bool,
        depth: u32,
    },
    Double,
    Single,
    Backquote,
    Parameter {
        depth: u32,
    },
    Arithmetic {
        depth: u32,
    },
}

struct Heredoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    code_for: Option<&'static str>,
}

struct Lexer<'a, F: Fn(&str) -> bool> {
    src: &'a str,
    is_secret: F,
    out: String,
    used: BTreeSet<String>,
    stack: Vec<Frame>,
    words: Vec<String>,
    word: String,
    pending: Vec<Heredoc>,
}

/// Rewrites every `{{ secrets.NAME }}` (for which `is_secret(NAME)`) of `script` into a
/// quoted variable reference; other `{{ ... }}` stay as they are.
pub fn rewrite(script: &str, is_secret: impl Fn(&str) -> bool) -> Result<Rewrite, UnsafeReference> {
    let mut l = Lexer {
        src: script,
        is_secret,
        out: String::with_capacity(script.len()),
        used: BTreeSet::new(),
        stack: vec![Frame::Code {
            subst: false,
            depth: 0,
        }],
        words: Vec::new(),
        word: String::new(),
        pending: Vec::new(),
    };
    l.run()?;
    Ok(Rewrite {
        script: l.out,
        used: l.used,
    })
}

/// The secret named by a `{{ secrets.NAME }}` at the start of `text`, and its length.
fn reference_at(text: &str, is_secret: &impl Fn(&str) -> bool) -> Option<(String, usize)> {
    let after = text.strip_prefix("{{")?;
    let close = after.find("}}")?;
    let name = after[..close].trim().strip_prefix("secrets.")?.trim();
    is_secret(name).then(|| (name.to_string(), close + 4))
}

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

impl<F: Fn(&str) -> bool> Lexer<'_, F> {
    fn frame(&self) -> Frame {
        self.stack.last().copied().unwrap_or(Frame::Code {
            subst: false,
            depth: 0,
        })
    }

    fn run(&mut self) -> Result<(), UnsafeReference> {
        let mut i = 0;
        while i < self.src.len() {
            let rest = &self.src[i..];
            if let Some((name, len)) = reference_at(rest, &self.is_secret) {
                self.reference(name, i)?;
                i += len;
                continue;
            }
            // `'{{ secrets.NAME }}'`: single quotes around nothing but the reference are
            // the value as one word, which the quoted variable is too.
            if matches!(self.frame(), Frame::Code { .. })
                && let Some(inner) = rest.strip_prefix('\'')
                && let Some((name, len)) = reference_at(inner, &self.is_secret)
                && inner[len..].starts_with('\'')
            {
                self.reference(name, i + 1)?;
                i += len + 2;
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            i += self.step(c, i)?;
        }
        Ok(())
    }

    fn refuse(&self, name: String, offset: usize, context: Context) -> UnsafeReference {
        UnsafeReference {
            name,
            offset,
            context,
        }
    }

    /// The command of the current words that runs `word` as code, if any.
    fn code_runner(&self) -> Option<&'static str> {
        if let Some(cmd) = self
            .words
            .iter()
            .find_map(|w| RUNS_ARGUMENTS.iter().find(|c| **c == base(w)))
        {
            return Some(*cmd);
        }
        let interp = self
            .words
            .iter()
            .find_map(|w| INTERPRETERS.iter().find(|c| **c == base(w)))?;
        let last = self.words.last()?;
        let code_flag = last == "--command"
            || last == "--eval"
            || (last.starts_with('-')
                && !last.starts_with("--")
                && last.ends_with(['c', 'e', 'E']));
        code_flag.then_some(*interp)
    }

    fn reference(&mut self, name: String, offset: usize) -> Result<(), UnsafeReference> {
        let var = var_name(&name);
        let replacement = match self.frame() {
            Frame::Code { .. } => format!("\"${{{var}}}\""),
            Frame::Double => format!("${{{var}}}"),
            Frame::Single => return Err(self.refuse(name, offset, Context::SingleQuotes)),
            Frame::Backquote => return Err(self.refuse(name, offset, Context::Backquotes)),
            Frame::Parameter { .. } => return Err(self.refuse(name, offset, Context::Parameter)),
            Frame::Arithmetic { .. } => return Err(self.refuse(name, offset, Context::Arithmetic)),
        };
        if let Some(cmd) = self.code_runner() {
            return Err(self.refuse(name, offset, Context::Code(cmd)));
        }
        self.out.push_str(&replacement);
        self.word.push('x');
        self.used.insert(name);
        Ok(())
    }

    fn end_word(&mut self) {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
    }

    fn end_command(&mut self) {
        self.word.clear();
        self.words.clear();
    }

    /// Handles one character (or a short sequence) at `at`; returns the bytes consumed.
    fn step(&mut self, c: char, at: usize) -> Result<usize, UnsafeReference> {
        let next = self.src[at + c.len_utf8()..].chars().next();
        match self.frame() {
            Frame::Code { subst, depth } => self.code(c, next, at, subst, depth),
            Frame::Double => self.double(c, next, at),
            Frame::Single => {
                self.out.push(c);
                if c == '\'' {
                    self.stack.pop();
                } else {
                    self.word.push(c);
                }
                Ok(c.len_utf8())
            }
            Frame::Backquote => {
                self.out.push(c);
                if c == '\\' {
                    return Ok(c.len_utf8() + self.copy(next));
                }
                if c == '`' {
                    self.stack.pop();
                }
                Ok(c.len_utf8())
            }
            Frame::Parameter { depth } => {
                self.out.push(c);
                self.set_nesting(c, depth, '{', '}');
                Ok(c.len_utf8())
            }
            Frame::Arithmetic { depth } => {
                self.out.push(c);
                self.set_nesting(c, depth, '(', ')');
                Ok(c.len_utf8())
            }
        }
    }

    fn set_nesting(&mut self, c: char, depth: u32, open: char, close: char) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        let d = match top {
            Frame::Parameter { depth } | Frame::Arithmetic { depth } => depth,
            _ => return,
        };
        if c == open {
            *d = depth + 1;
        } else if c == close {
            if depth == 0 {
                self.stack.pop();
            } else {
                *d = depth - 1;
            }
        }
    }

    /// Copies the escaped character after a backslash (refusing a reference there).
    fn copy(&mut self, next: Option<char>) -> usize {
        match next {
            Some(n) => {
                self.out.push(n);
                n.len_utf8()
            }
            None => 0,
        }
    }

    fn escaped(&mut self, next: Option<char>, at: usize) -> Result<usize, UnsafeReference> {
        if let Some((name, _)) = reference_at(&self.src[at + 1..], &self.is_secret) {
            return Err(self.refuse(name, at + 1, Context::Escaped));
        }
        self.out.push('\\');
        if let Some(n) = next {
            self.word.push(n);
        }
        Ok(1 + self.copy(next))
    }

    fn double(&mut self, c: char, next: Option<char>, at: usize) -> Result<usize, UnsafeReference> {
        match c {
            '\\' => return self.escaped(next, at),
            '"' => {
                self.stack.pop();
            }
            '`' => self.stack.push(Frame::Backquote),
            '$' => return Ok(self.dollar(next, at)),
            _ => self.word.push(c),
        }
        self.out.push(c);
        Ok(c.len_utf8())
    }

    /// `$(`, `$((`, `${`, `$'`: opens their frame; returns the bytes consumed.
    fn dollar(&mut self, next: Option<char>, at: usize) -> usize {
        let rest = &self.src[at..];
        self.word.push('$');
        if rest.starts_with("$((") {
            self.out.push_str("$((");
            self.stack.push(Frame::Arithmetic { depth: 0 });
            return 3;
        }
        let frame = match next {
            Some('(') => Frame::Code {
                subst: true,
                depth: 0,
            },
            Some('{') => Frame::Parameter { depth: 0 },
            Some('\'') if self.frame() != Frame::Double => Frame::Single,
            _ => {
                self.out.push('$');
                return 1;
            }
        };
        self.out.push('$');
        self.out.extend(next);
        self.stack.push(frame);
        if matches!(frame, Frame::Code { .. }) {
            // A command substitution starts a command of its own.
            self.words.clear();
            self.word.clear();
        }
        2
    }

    fn code(
        &mut self,
        c: char,
        next: Option<char>,
        at: usize,
        subst: bool,
        depth: u32,
    ) -> Result<usize, UnsafeReference> {
        let word_start = self.word.is_empty()
            && self.src[..at]
                .chars()
                .next_back()
                .is_none_or(|p| p.is_whitespace() || ";&|()<>".contains(p));
        match c {
            '#' if word_start => return Ok(self.comment(at)),
            '\\' => return self.escaped(next, at),
            '\'' => self.stack.push(Frame::Single),
            '"' => self.stack.push(Frame::Double),
            '`' => self.stack.push(Frame::Backquote),
            '$' => return Ok(self.dollar(next, at)),
            '<' if next == Some('<') && !self.src[at..].starts_with("<<<") => {
                return Ok(self.heredoc_operator(at));
            }
            '\n' => {
                self.out.push(c);
                self.end_command();
                return self.heredoc_bodies(at + 1).map(|n| 1 + n);
            }
            ' ' | '\t' => self.end_word(),
            ';' | '&' | '|' => self.end_command(),
            '(' => {
                self.end_command();
                self.set_depth(subst, depth + 1);
            }
            ')' => {
                self.end_command();
                if depth == 0 && subst {
                    self.stack.pop();
                } else {
                    self.set_depth(subst, depth.saturating_sub(1));
                }
            }
            _ => self.word.push(c),
        }
        self.out.push(c);
        Ok(c.len_utf8())
    }

    fn set_depth(&mut self, subst: bool, depth: u32) {
        if let Some(top) = self.stack.last_mut() {
            *top = Frame::Code { subst, depth };
        }
    }

    fn comment(&mut self, at: usize) -> usize {
        let len = self.src[at..].find('\n').unwrap_or(self.src.len() - at);
        self.out.push_str(&self.src[at..at + len]);
        len
    }

    /// `<<WORD`, `<<-WORD`, `<< 'WORD'`: queues a here-document read after the line ends.
    fn heredoc_operator(&mut self, at: usize) -> usize {
        let mut i = at + 2;
        let strip_tabs = self.src[i..].starts_with('-');
        if strip_tabs {
            i += 1;
        }
        let blanks = self.src[i..].len() - self.src[i..].trim_start_matches([' ', '\t']).len();
        i += blanks;
        let word_len = self.src[i..]
            .find(|c: char| c.is_whitespace() || ";&|<>()".contains(c))
            .unwrap_or(self.src.len() - i);
        let word = &self.src[i..i + word_len];
        self.pending.push(Heredoc {
            delimiter: word.chars().filter(|c| !"'\"\\".contains(*c)).collect(),
            strip_tabs,
            quoted: word.contains(['\'', '"', '\\']),
            code_for: INTERPRETERS
                .iter()
                .chain(RUNS_ARGUMENTS)
                .find(|c| self.words.iter().any(|w| base(w) == **c))
                .copied(),
        });
        let end = i + word_len;
        self.out.push_str(&self.src[at..end]);
        end - at
    }

    /// Reads the queued here-documents' bodies from `at` (a line start); bytes consumed.
    fn heredoc_bodies(&mut self, at: usize) -> Result<usize, UnsafeReference> {
        let mut i = at;
        for doc in std::mem::take(&mut self.pending) {
            while i < self.src.len() {
                let line_len = self.src[i..]
                    .find('\n')
                    .map_or(self.src.len() - i, |n| n + 1);
                let line = &self.src[i..i + line_len];
                let bare = line.trim_end_matches('\n');
                let bare = if doc.strip_tabs {
                    bare.trim_start_matches('\t')
                } else {
                    bare
                };
                if bare == doc.delimiter {
                    self.out.push_str(line);
                    i += line_len;
                    break;
                }
                self.heredoc_line(&doc, line, i)?;
                i += line_len;
            }
        }
        Ok(i - at)
    }

    fn heredoc_line(
        &mut self,
        doc: &Heredoc,
        line: &str,
        at: usize,
    ) -> Result<(), UnsafeReference> {
        let mut j = 0;
        while j < line.len() {
            if let Some((name, len)) = reference_at(&line[j..], &self.is_secret) {
                let context = match (doc.quoted, doc.code_for) {
                    (_, Some(cmd)) => Context::Code(cmd),
                    (true, None) => Context::QuotedHeredoc,
                    (false, None) => {
                        self.out.push_str(&format!("${{{}}}", var_name(&name)));
                        self.used.insert(name);
                        j += len;
                        continue;
                    }
                };
                return Err(self.refuse(name, at + j, context));
            }
            let Some(c) = line[j..].chars().next() else {
                break;
            };
            self.out.push(c);
            j += c.len_utf8();
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "secret_refs_tests.rs"]
mod tests;
