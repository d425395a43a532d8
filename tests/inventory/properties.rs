//! Property tests: range expansion arithmetic and parsers that never panic.

use cutover::inventory::{Format, Selector, expand_hostlist, parse};
use proptest::prelude::*;

proptest! {
    #[test]
    fn count_is_the_product_of_range_sizes(ranges in prop::collection::vec((0u32..50, 0u32..6), 1..4)) {
        let pattern: String = ranges.iter().map(|(lo, len)| format!("n[{lo}-{}]", lo + len)).collect();
        let expected: usize = ranges.iter().map(|(_, len)| *len as usize + 1).product();
        prop_assert_eq!(expand_hostlist(&pattern).unwrap().len(), expected);
    }

    #[test]
    fn zero_padding_keeps_the_low_bound_width(width in 2usize..5, lo in 0u32..9, len in 0u32..20) {
        let pattern = format!("h[{lo:0width$}-{}]", lo + len);
        let names = expand_hostlist(&pattern).unwrap();
        let expected: Vec<String> = (lo..=lo + len).map(|n| format!("h{n:0width$}")).collect();
        prop_assert_eq!(names, expected);
    }

    #[test]
    fn simple_patterns_round_trip(prefix in "[a-z]{1,6}-?", lo in 0u32..100, len in 0u32..30) {
        let pattern = format!("{prefix}[{lo}-{}]", lo + len);
        let names = expand_hostlist(&pattern).unwrap();
        let expected: Vec<String> = (lo..=lo + len).map(|n| format!("{prefix}{n}")).collect();
        prop_assert_eq!(names, expected);
    }

    #[test]
    fn plain_names_expand_to_themselves(name in "[a-z0-9.-]{1,20}") {
        prop_assert_eq!(expand_hostlist(&name).unwrap(), vec![name]);
    }

    #[test]
    fn random_text_never_panics(text in ".{0,200}") {
        let _ = expand_hostlist(&text);
        let _ = Selector::parse(&text);
        for format in [Format::Native, Format::Ansible, Format::HostList] {
            let _ = parse(&text, format, "fuzz");
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        for format in [Format::Native, Format::Ansible, Format::HostList] {
            let _ = parse(&text, format, "fuzz");
        }
        let _ = expand_hostlist(&text);
    }
}
