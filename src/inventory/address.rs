//! Host addresses as SSH can dial them: an IPv4 or IPv6 address, or a host name (letters,
//! digits, `-`, `_`, dot-separated labels of 1-63 characters). Pure.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest DNS name, in characters.
const MAX_NAME: usize = 253;
/// Longest DNS label, in characters.
const MAX_LABEL: usize = 63;

/// Checks one address; the error says what is wrong with it.
pub fn check_address(address: &str) -> Result<(), String> {
    if address.is_empty() {
        return Err("the address is empty: give an IP address or a host name".into());
    }
    if address.chars().any(char::is_whitespace) {
        return Err(format!(
            "address `{address}` has spaces: give one IP address or host name"
        ));
    }
    if address.contains(':') {
        let bare = address.trim_start_matches('[').trim_end_matches(']');
        return bare
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("address `{address}` is not a valid IPv6 address"));
    }
    if address.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return address.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| {
            format!("address `{address}` is not a valid IPv4 address (four numbers 0-255)")
        });
    }
    check_name(address)
}

/// A host name: dot-separated labels of letters, digits, `-` and `_`, no label starting or
/// ending with `-`.
fn check_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("address `{name}` is not a valid host name: {why}"));
    if name.len() > MAX_NAME {
        return bad("longer than 253 characters");
    }
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > MAX_LABEL {
            return bad("each dot-separated part must have 1 to 63 characters");
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return bad(&format!("`{c}` is not allowed (letters, digits, `-`, `_`)"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a part cannot start or end with `-`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_address;

    #[test]
    fn ips_and_host_names_pass() {
        for ok in [
            "10.0.0.1",
            "::1",
            "[fe80::1]",
            "web-01.example.com",
            "web_1",
            "db1.",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn impossible_addresses_say_why() {
        let cases = [
            ("999.1.1.1", "not a valid IPv4"),
            ("", "empty"),
            ("host name with space", "has spaces"),
            ("-web", "cannot start or end with `-`"),
            ("web..example", "1 to 63"),
            ("we$b", "`$` is not allowed"),
            ("fe80::zz", "not a valid IPv6"),
        ];
        for (bad, why) in cases {
            let e = check_address(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
