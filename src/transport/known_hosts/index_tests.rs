//! The index agrees with the linear matcher: fixed cases, then random files and lookups.

use super::super::{Entry, Verdict, check, parse};
use super::KnownHosts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use russh::keys::PublicKey;
use sha1::Sha1;
use std::path::Path;

const KEYS: [&str; 3] = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFGfokvMpT4WUCNtVxcRcb9N8BR8AGcBgfJkEaNrNceO",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBg0L4OwB1kthOi+yIxUhNCvrGK9/PSIyGvr7bpgyy9",
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBG6AP1iQowPhLkvnxrk+o6XedeyFiPEvVUWptAYKmBFvoTzTJ/0DXlPfk4/+JLyWorsLe0aDwMwdfvGDUUbBwMA=",
];
const NAMES: [&str; 8] = [
    "web1",
    "WEB1",
    "web2",
    "db1",
    "127.0.0.1",
    "[127.0.0.1]:2222",
    "web1.example.com",
    "Db1.Example.com",
];
const WILDCARDS: [&str; 7] = [
    "*",
    "web*",
    "web?",
    "[127.0.0.*]:2222",
    "*.example.com",
    "DB*",
    "",
];

fn key(i: usize) -> PublicKey {
    PublicKey::from_openssh(KEYS[i]).unwrap()
}

/// `|1|salt|hash` for `name`, as `ssh-keygen -H` writes it.
fn hashed(salt: &[u8], name: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(salt).unwrap();
    mac.update(name.as_bytes());
    let hash = mac.finalize().into_bytes();
    format!("|1|{}|{}", STANDARD.encode(salt), STANDARD.encode(hash))
}

fn parsed(text: &str) -> Vec<Entry> {
    parse(Path::new("/kh"), text)
}

/// Both matchers' verdicts for every name and key.
fn assert_agree(text: &str) {
    let entries = parsed(text);
    let index = KnownHosts::new(entries.clone());
    for name in NAMES {
        for k in 0..KEYS.len() {
            assert_eq!(
                index.check(name, &key(k)),
                check(&entries, name, &key(k)),
                "name {name} key {k} in\n{text}"
            );
        }
    }
}

#[test]
fn literal_names_are_found_case_insensitively_with_their_line() {
    let index = KnownHosts::new(parsed(&format!("web2 {}\nWeb1,db1 {}\n", KEYS[0], KEYS[1])));
    assert_eq!(index.check("web1", &key(1)), Verdict::Trusted);
    assert_eq!(index.check("DB1", &key(1)), Verdict::Trusted);
    assert_eq!(
        index.check("web1", &key(0)),
        Verdict::Changed {
            file: "/kh".into(),
            line: 2
        }
    );
    assert_eq!(index.check("web3", &key(0)), Verdict::Unknown);
}

#[test]
fn a_negation_on_a_literal_line_still_vetoes() {
    let text = format!("web1,!web1 {}\nweb*,!web2 {}\n", KEYS[0], KEYS[1]);
    let index = KnownHosts::new(parsed(&text));
    assert_eq!(
        index.check("web1", &key(0)),
        Verdict::Changed {
            file: "/kh".into(),
            line: 2
        }
    );
    assert_eq!(index.check("web2", &key(1)), Verdict::Unknown);
    assert_agree(&text);
}

#[test]
fn changed_points_at_the_first_line_of_the_same_algorithm_across_exact_wildcard_and_hashed() {
    let text = format!(
        "{} {}\nweb* {}\nweb1 {}\n",
        hashed(b"salt", "web1"),
        KEYS[2],
        KEYS[0],
        KEYS[0]
    );
    let index = KnownHosts::new(parsed(&text));
    assert_eq!(
        index.check("web1", &key(1)),
        Verdict::Changed {
            file: "/kh".into(),
            line: 2
        }
    );
    assert_agree(&text);
}

#[test]
fn revoked_keys_win_whatever_the_host() {
    let text = format!(
        "web1 {}\n@revoked db1 {}\n@revoked * {}\n",
        KEYS[0], KEYS[0], KEYS[0]
    );
    let index = KnownHosts::new(parsed(&text));
    assert_eq!(
        index.check("web1", &key(0)),
        Verdict::Revoked {
            file: "/kh".into(),
            line: 2
        }
    );
    assert_agree(&text);
}

/// One random known_hosts line.
fn line() -> impl Strategy<Value = String> {
    let pattern = prop_oneof![
        (0..NAMES.len()).prop_map(|i| NAMES[i].to_string()),
        (0..WILDCARDS.len()).prop_map(|i| WILDCARDS[i].to_string()),
    ];
    let field = prop_oneof![
        3 => prop::collection::vec((any::<bool>(), pattern), 1..4).prop_map(|ps| {
            ps.into_iter()
                .map(|(neg, p)| if neg { format!("!{p}") } else { p })
                .collect::<Vec<_>>()
                .join(",")
        }),
        1 => (prop::collection::vec(any::<u8>(), 1..8), 0..NAMES.len())
            .prop_map(|(salt, i)| hashed(&salt, NAMES[i])),
        1 => Just("|1|not base64|!!".to_string()),
    ];
    let marker = prop_oneof![
        6 => Just(""),
        2 => Just("@revoked "),
        1 => Just("@cert-authority "),
        1 => Just("@bogus "),
    ];
    (marker, field, 0..KEYS.len()).prop_map(|(m, f, k)| format!("{m}{f} {}", KEYS[k]))
}

proptest! {
    #[test]
    fn index_agrees_with_the_linear_matcher(lines in prop::collection::vec(line(), 0..14)) {
        assert_agree(&lines.join("\n"));
    }
}
