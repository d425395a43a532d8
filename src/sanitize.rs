//! Makes untrusted remote output safe to show on a terminal: no escapes, controls or bidi tricks.

/// Unicode bidirectional controls that can reorder what a reviewer sees (Trojan Source).
const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Strips terminal escapes, C0/C1 controls (except `\n` and `\t`) and bidi controls; decodes lossily.
pub fn clean(bytes: &[u8]) -> String {
    // strip-ansi-escapes also drops tabs, so strip each tab-separated piece on its own.
    let pieces: Vec<Vec<u8>> = bytes
        .split(|b| *b == b'\t')
        .map(strip_ansi_escapes::strip)
        .collect();
    String::from_utf8_lossy(&pieces.join(&b'\t'))
        .chars()
        .filter(|c| keep(*c))
        .collect()
}

/// Whether a character may reach the terminal.
fn keep(c: char) -> bool {
    if c == '\n' || c == '\t' {
        return true;
    }
    !(c.is_control() || BIDI_CONTROLS.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn plain_text_and_newlines_survive() {
        assert_eq!(clean(b"ok\tdone\nnext line\n"), "ok\tdone\nnext line\n");
    }

    #[test]
    fn ansi_colour_and_cursor_escapes_are_removed() {
        assert_eq!(clean(b"\x1b[31mred\x1b[0m \x1b[2J\x1b[Hhome"), "red home");
    }

    #[test]
    fn osc_title_and_hyperlink_escapes_are_removed() {
        let input = b"\x1b]0;owned title\x07text \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\";
        assert_eq!(clean(input), "text link");
    }

    #[test]
    fn c0_and_c1_controls_are_removed_but_not_newline_or_tab() {
        assert_eq!(
            clean("a\rb\x08c\x07d\u{0085}e\u{009b}f\n".as_bytes()),
            "abcdef\n"
        );
    }

    #[test]
    fn bidi_controls_are_removed() {
        let input = "access \u{202E}level\u{202C} \u{2066}admin\u{2069}\u{200F}\u{061C}";
        assert_eq!(clean(input.as_bytes()), "access level admin");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        assert_eq!(clean(b"bad \xff byte"), "bad \u{FFFD} byte");
    }
}
