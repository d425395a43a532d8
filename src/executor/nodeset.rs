//! Natural host ordering and compact host-range rendering (`web[01-03,07]`), as clush does.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Compares host names naturally: digit runs by value, so `web2` sorts before `web10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut left, mut right) = (tokens(a), tokens(b));
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match compare_token(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

fn compare_token(x: &str, y: &str) -> Ordering {
    match (is_digits(x), is_digits(y)) {
        (true, true) => compare_numbers(x, y),
        _ => x.cmp(y),
    }
}

fn compare_numbers(x: &str, y: &str) -> Ordering {
    let (tx, ty) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
    tx.len()
        .cmp(&ty.len())
        .then_with(|| tx.cmp(ty))
        .then_with(|| x.len().cmp(&y.len()))
}

fn is_digits(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Splits a string into alternating runs of digits and non-digits.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.bytes().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .bytes()
            .position(|b| b.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

/// A host split around its last digit run: `web07.dc1` is ("web07.dc", "1", "").
fn split_host(host: &str) -> Option<(&str, &str, &str)> {
    let end = host.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = host[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    Some((&host[..start], &host[start..end], &host[end..]))
}

/// Renders hosts compactly, e.g. `db1,web[01-03,07]`; duplicates are kept once.
pub fn compact(hosts: &[String]) -> String {
    let mut plain: Vec<&str> = Vec::new();
    let mut ranged: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for host in hosts {
        match split_host(host) {
            Some((prefix, digits, suffix)) => {
                ranged.entry((prefix, suffix)).or_default().push(digits)
            }
            None => plain.push(host),
        }
    }
    let mut parts: Vec<(String, String)> = plain
        .iter()
        .map(|h| (h.to_string(), h.to_string()))
        .collect();
    for ((prefix, suffix), mut numbers) in ranged {
        numbers.sort_by(|a, b| compare_numbers(a, b));
        numbers.dedup();
        let first = format!("{prefix}{}{suffix}", numbers[0]);
        parts.push((first, render_group(prefix, &numbers, suffix)));
    }
    parts.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    parts.dedup();
    parts
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

fn render_group(prefix: &str, numbers: &[&str], suffix: &str) -> String {
    if numbers.len() == 1 {
        return format!("{prefix}{}{suffix}", numbers[0]);
    }
    let ranges: Vec<String> = runs(numbers)
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_owned()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    format!("{prefix}[{}]{suffix}", ranges.join(","))
}

/// Groups sorted digit strings into runs of consecutive values with compatible padding.
fn runs<'a>(numbers: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for &n in numbers {
        match out.last_mut() {
            Some((_, end)) if follows(end, n) => *end = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// Whether `next` is `prev + 1` and a range `prev-next` would still read unambiguously.
fn follows(prev: &str, next: &str) -> bool {
    let padded = |s: &str| s.len() > 1 && s.starts_with('0');
    let same_style = if padded(prev) || padded(next) {
        prev.len() == next.len()
    } else {
        true
    };
    let (Ok(a), Ok(b)) = (prev.parse::<u128>(), next.parse::<u128>()) else {
        return false;
    };
    same_style && a.checked_add(1) == Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn natural_order_compares_digit_runs_by_value() {
        let mut list = hosts(&["web10", "web2", "db1", "web01", "web1", "web"]);
        list.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            list,
            hosts(&["db1", "web", "web1", "web01", "web2", "web10"])
        );
    }

    #[test]
    fn compacts_padded_ranges() {
        let list = hosts(&["web07", "web02", "web01", "web03"]);
        assert_eq!(compact(&list), "web[01-03,07]");
    }

    #[test]
    fn compacts_unpadded_ranges_across_widths() {
        assert_eq!(compact(&hosts(&["n9", "n10", "n11", "n1"])), "n[1,9-11]");
    }

    #[test]
    fn padded_and_unpadded_do_not_merge() {
        assert_eq!(compact(&hosts(&["n09", "n10", "n9"])), "n[9,09-10]");
    }

    #[test]
    fn keeps_single_hosts_and_names_without_digits_plain() {
        let list = hosts(&["web07", "bastion", "db1", "db2", "web07"]);
        assert_eq!(compact(&list), "bastion,db[1-2],web07");
    }

    #[test]
    fn ranges_over_the_last_digit_run_keeping_suffixes_apart() {
        let list = hosts(&["web1.dc1", "web2.dc1", "web1.dc2"]);
        assert_eq!(compact(&list), "web1.dc[1-2],web2.dc1");
        assert_eq!(compact(&hosts(&["r1n1", "r1n2", "r2n1"])), "r1n[1-2],r2n1");
    }

    #[test]
    fn empty_list_renders_empty() {
        assert_eq!(compact(&[]), "");
    }
}
