//! Bounded capture of a command's output stream: head and tail kept, the middle only counted.

use crate::sanitize;
use std::collections::VecDeque;

/// One stream's output, bounded: the first and last bytes, and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Captured {
    /// An empty capture keeping at most `cap` bytes (half head, half tail).
    pub fn new(cap: usize) -> Self {
        let head_cap = cap / 2;
        Self {
            head_cap,
            tail_cap: cap - head_cap,
            ..Self::default()
        }
    }

    /// Appends bytes; what falls out of both head and tail is only counted.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        let take = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// Total bytes the stream produced.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// Bytes held in memory.
    pub fn kept_bytes(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether some bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.total > self.kept_bytes() as u64
    }

    /// Rewrites the kept text with `f` (redaction), head and tail together when nothing was
    /// dropped between them; the total is adjusted so nothing looks truncated that was not.
    pub fn rewrite(&mut self, f: impl Fn(&str) -> String) {
        let before = self.kept_bytes() as u64;
        if self.truncated() {
            let tail: Vec<u8> = self.tail.iter().copied().collect();
            self.head = f(&String::from_utf8_lossy(&self.head)).into_bytes();
            self.tail = f(&String::from_utf8_lossy(&tail)).into_bytes().into();
        } else {
            self.head = f(&String::from_utf8_lossy(&self.raw())).into_bytes();
            self.tail.clear();
        }
        self.total = self.total - before + self.kept_bytes() as u64;
    }

    /// The kept bytes, raw (head then tail, without a marker).
    pub fn raw(&self) -> Vec<u8> {
        let mut all = self.head.clone();
        all.extend(self.tail.iter());
        all
    }

    /// Sanitized text, with a `[… N bytes omitted …]` marker where bytes were dropped.
    pub fn text(&self) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if !self.truncated() {
            return sanitize::clean(&self.raw());
        }
        let omitted = self.total - self.kept_bytes() as u64;
        format!(
            "{}\n[… {omitted} bytes omitted …]\n{}",
            sanitize::clean(&self.head),
            sanitize::clean(&tail)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Captured;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Captured::new(16);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.text(), "hello world");
        assert!(!c.truncated());
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_counts_the_rest() {
        let mut c = Captured::new(8);
        for chunk in [&b"abcdef"[..], b"ghijkl", b"mnopqrstuvwxyz"] {
            c.push(chunk);
        }
        assert_eq!(c.total_bytes(), 26);
        assert_eq!(c.kept_bytes(), 8);
        assert_eq!(c.text(), "abcd\n[… 18 bytes omitted …]\nwxyz");
    }

    #[test]
    fn tail_rolls_across_small_pushes() {
        let mut c = Captured::new(4);
        for b in b"0123456789" {
            c.push(&[*b]);
        }
        assert_eq!(c.raw(), b"0189");
    }

    #[test]
    fn text_is_sanitized() {
        let mut c = Captured::new(64);
        c.push(b"\x1b[31mred\x1b[0m\xe2\x80\xae");
        assert_eq!(c.text(), "\\u{1b}[31mred\\u{1b}[0m\\u{202e}");
    }

    #[test]
    fn rewriting_spans_head_and_tail_when_whole() {
        let mut c = Captured::new(8);
        c.push(b"ab");
        c.push(b"secret");
        c.rewrite(|t| t.replace("absecret", "[x]"));
        assert_eq!(c.text(), "[x]");
        assert!(!c.truncated());
    }
}
