//! Unit tests for known_hosts parsing and matching, with hashed vectors made by `ssh-keygen -H`.

use super::*;

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFGfokvMpT4WUCNtVxcRcb9N8BR8AGcBgfJkEaNrNceO";
const K2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOBg0L4OwB1kthOi+yIxUhNCvrGK9/PSIyGvr7bpgyy9";
/// `ssh-keygen -H` output for `[127.0.9.9]:2222 K1`.
const HASHED_PORT: &str = "|1|KpSPNsr3QKwtYT9DRzEg4sK55jY=|Jm1Rg8iMpaXX1wQ0+BILale4BSI=";
/// `ssh-keygen -H` output for `web1.example.com K1`.
const HASHED_NAME: &str = "|1|8AclF+P95/f7VJ14pfkDag2AnuQ=|Euti/6/HWtFr6ChboN/ezdoTBQk=";

fn key(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).unwrap()
}

fn entries(text: &str) -> Vec<Entry> {
    parse(Path::new("/kh"), text)
}

#[test]
fn lookup_name_brackets_non_default_ports() {
    assert_eq!(lookup_name("10.0.0.1", 22), "10.0.0.1");
    assert_eq!(lookup_name("10.0.0.1", 2222), "[10.0.0.1]:2222");
}

#[test]
fn comments_blank_and_garbage_lines_are_skipped_but_line_numbers_kept() {
    let e = entries(&format!("# c\n\nnot a key line\nhost1 {K1}\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, 4);
}

#[test]
fn plain_entry_trusts_its_key() {
    let e = entries(&format!("host1,10.0.0.1 {K1} comment\n"));
    assert_eq!(check(&e, "10.0.0.1", &key(K1)), Verdict::Trusted);
    assert_eq!(check(&e, "host2", &key(K1)), Verdict::Unknown);
}

#[test]
fn different_key_for_known_host_is_changed_with_file_and_line() {
    let e = entries(&format!("other {K2}\nhost1 {K1}\n"));
    let verdict = check(&e, "host1", &key(K2));
    assert_eq!(
        verdict,
        Verdict::Changed {
            file: "/kh".into(),
            line: 2
        }
    );
}

#[test]
fn hashed_entries_match_only_their_name() {
    let e = entries(&format!("{HASHED_PORT} {K1}\n{HASHED_NAME} {K1}\n"));
    assert_eq!(check(&e, "[127.0.9.9]:2222", &key(K1)), Verdict::Trusted);
    assert_eq!(check(&e, "web1.example.com", &key(K1)), Verdict::Trusted);
    assert_eq!(check(&e, "127.0.9.9", &key(K1)), Verdict::Unknown);
    assert_eq!(
        check(&e, "web1.example.com", &key(K2)),
        Verdict::Changed {
            file: "/kh".into(),
            line: 2
        }
    );
}

#[test]
fn wildcards_and_negation() {
    assert!(host_matches("*.example.com", "web1.example.com"));
    assert!(host_matches("web?.example.com", "WEB1.example.com"));
    assert!(!host_matches("web?.example.com", "web12.example.com"));
    assert!(!host_matches(
        "*.example.com,!db*.example.com",
        "db1.example.com"
    ));
    assert!(host_matches(
        "*.example.com,!db*.example.com",
        "web1.example.com"
    ));
    assert!(!host_matches("!web1", "web1"));
    assert!(host_matches("[127.0.0.*]:2222", "[127.0.0.5]:2222"));
}

#[test]
fn revoked_key_is_refused_even_if_also_trusted() {
    let e = entries(&format!("host1 {K1}\n@revoked * {K1}\n"));
    assert_eq!(
        check(&e, "host1", &key(K1)),
        Verdict::Revoked {
            file: "/kh".into(),
            line: 2
        }
    );
}

#[test]
fn cert_authority_lines_never_trust_a_plain_key() {
    let e = entries(&format!("@cert-authority host1 {K1}\n"));
    assert_eq!(check(&e, "host1", &key(K1)), Verdict::Unknown);
}

#[test]
fn glob_handles_backtracking() {
    assert!(wildcard_matches("a*b*c", "axxbyyc"));
    assert!(!wildcard_matches("a*b*c", "axxbyy"));
    assert!(wildcard_matches("*", ""));
}
