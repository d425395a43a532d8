//! Makes untrusted text safe to show or store: every terminal escape, control, bidi and
//! invisible character is written visibly as `\u{..}`, never passed through.
//!
//! One sanitiser for every edge: host output, diffs, host and inventory names, error
//! snippets, runbooks and every string a run journals. Making a character visible (rather
//! than dropping it) keeps the reviewer able to see that something was there: an OSC 52
//! clipboard write shows as `\u{1b}]52;c;...` instead of running in their terminal.

/// Whether `c` is shown escaped: C0/C1 controls and DEL (but not `\n` and `\t`), bidi
/// controls (Trojan Source), zero-width and other invisible format characters, and line
/// or paragraph separators.
pub fn is_hidden(c: char) -> bool {
    if c == '\n' || c == '\t' {
        return false;
    }
    c.is_control() || is_bidi(c) || is_invisible(c)
}

/// Unicode bidirectional controls that can reorder what a reviewer sees (Trojan Source).
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Zero-width and other invisible format characters (Unicode `Cf` that render as nothing).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180E}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// `text` with every hidden character written as `\u{hex}`; unchanged when there is none.
pub fn visible(text: &str) -> String {
    if !text.chars().any(is_hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Every string and key of a JSON value made visible (before it is serialised, so the
/// `\u{..}` stays valid JSON text).
pub fn visible_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = visible(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(visible_json),
        serde_json::Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut item) in old {
                visible_json(&mut item);
                map.insert(visible(&k), item);
            }
        }
        _ => {}
    }
}

/// Bytes from a host (or any untrusted source) as safe text: decoded lossily (invalid UTF-8
/// becomes U+FFFD), every hidden character made visible.
pub fn clean(bytes: &[u8]) -> String {
    visible(&String::from_utf8_lossy(bytes))
}

/// The first bidi or invisible character of `text` (controls other than `\n`/`\t` too),
/// with its byte offset: what `check` reports in commands and paths.
pub fn first_hidden(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| is_hidden(*c))
}

#[cfg(test)]
mod tests {
    use super::{clean, first_hidden, visible};

    #[test]
    fn plain_text_and_newlines_survive() {
        assert_eq!(clean(b"ok\tdone\nnext line\n"), "ok\tdone\nnext line\n");
    }

    #[test]
    fn escapes_are_made_visible_not_interpreted() {
        assert_eq!(clean(b"\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(
            clean(b"\x1b]52;c;cm0gLXJmIC8=\x07x"),
            "\\u{1b}]52;c;cm0gLXJmIC8=\\u{7}x"
        );
    }

    #[test]
    fn c0_c1_nul_and_del_are_made_visible_but_not_newline_or_tab() {
        assert_eq!(
            visible("a\rb\0c\u{7f}d\u{0085}e\u{009b}f\n\t"),
            "a\\u{d}b\\u{0}c\\u{7f}d\\u{85}e\\u{9b}f\n\t"
        );
    }

    #[test]
    fn bidi_and_zero_width_characters_are_made_visible() {
        assert_eq!(
            visible("access \u{202E}level\u{2066}\u{200B}\u{feff}"),
            "access \\u{202e}level\\u{2066}\\u{200b}\\u{feff}"
        );
        assert_eq!(first_hidden("ab\u{202e}c"), Some((2, '\u{202e}')));
        assert_eq!(first_hidden("ok\n\tfine é"), None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        assert_eq!(clean(b"bad \xff byte"), "bad \u{FFFD} byte");
    }

    #[test]
    fn nothing_hidden_survives_any_input() {
        for c in (0u32..0x11_0000).filter_map(char::from_u32) {
            let out = visible(&c.to_string());
            assert!(first_hidden(&out).is_none(), "{c:?} -> {out:?}");
        }
    }
}
