//! Host failures grouped by their reason, so 255 hosts failing the same way read as one line
//! with a compact host set (`lab-[1-120,122]`). Plain output and the report share it. Pure.
//!
//! Reasons name their host ("lab-5: host key SHA256:… is not in known_hosts") and carry
//! per-host details (fingerprints, addresses, known_hosts lines); hosts are grouped by the
//! reason with those generalized. A group whose hosts all said the very same thing shows it
//! verbatim; otherwise it shows the generalized text (`<host>`, `<addr>`, `SHA256:…`).

use crate::executor::HostOutcome;
use crate::executor::nodeset::{compact, natural_cmp};
use regex::Regex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Hosts that failed for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonGroup {
    /// The reason, verbatim when every host gave exactly it, else generalized.
    pub reason: String,
    /// The hosts, in natural order.
    pub hosts: Vec<String>,
    /// The hosts rendered compactly, e.g. `lab-[1-120,122]`.
    pub hostlist: String,
}

/// The text an outcome's failure is grouped by: `unreachable: ` exactly once for a host
/// that could not be asked, the reason as given for one that failed; `None` for the rest.
pub fn of_outcome(outcome: &HostOutcome) -> Option<String> {
    match outcome {
        HostOutcome::Failed { reason, .. } => Some(reason.clone()),
        HostOutcome::Unreachable { reason } => Some(format!("unreachable: {}", bare(reason))),
        _ => None,
    }
}

/// `reason` without any leading `unreachable: ` (some callers add it, some do not).
pub fn bare(reason: &str) -> &str {
    let mut r = reason;
    while let Some(rest) = r.strip_prefix("unreachable: ") {
        r = rest;
    }
    r
}

/// `reason` as shown next to a host set: `unreachable: ` said once, and the host's own
/// `HOST: ` dropped where it opens the reason or follows a `STEP: ` or `unreachable: `
/// prefix, since the host set says who.
pub fn without_host(host: &str, reason: &str) -> String {
    let mut text = reason.to_string();
    while text.contains("unreachable: unreachable: ") {
        text = text.replace("unreachable: unreachable: ", "unreachable: ");
    }
    let needle = format!("{host}: ");
    let at = text
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with(": "));
    if let Some(i) = at {
        text.replace_range(i..i + needle.len(), "");
    }
    text
}

static FINGERPRINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"SHA256:[A-Za-z0-9+/]{16,}=*").unwrap_or_else(|_| unreachable!()));
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-fA-F:]+\](?::\d+)?")
        .unwrap_or_else(|_| unreachable!())
});
static FILE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(/[^\s:]+):\d+\b").unwrap_or_else(|_| unreachable!()));

/// `reason` with what differs from host to host generalized: the host's own name, key
/// fingerprints, addresses and `file:line` positions.
pub fn general(host: &str, reason: &str) -> String {
    let text = without_host(host, reason);
    let text = replace_word(&text, host, "<host>");
    let text = FINGERPRINT.replace_all(&text, "SHA256:…");
    let text = ADDRESS.replace_all(&text, "<addr>");
    FILE_LINE.replace_all(&text, "$1:<line>").into_owned()
}

/// Replaces `word` where it stands alone (not inside a longer host name like `lab-50`).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return text.to_string();
    }
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (i, _) in text.match_indices(word) {
        let end = i + word.len();
        let before = text[..i].chars().next_back();
        let after = text[end..].chars().next();
        if i < from || before.is_some_and(part) || after.is_some_and(part) {
            continue;
        }
        out.push_str(&text[from..i]);
        out.push_str(with);
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

/// Groups `(host, reason)` pairs: most hosts first, then by first host. A host listed twice
/// with the same reason counts once.
pub fn group<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<ReasonGroup> {
    let mut by_key: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (host, reason) in items {
        let slot = by_key.entry(general(host, reason)).or_default();
        slot.0.push(host.to_string());
        slot.1.push(without_host(host, reason));
    }
    let mut groups: Vec<ReasonGroup> = by_key
        .into_iter()
        .map(|(key, (mut hosts, verbatim))| {
            hosts.sort_by(|a, b| natural_cmp(a, b));
            hosts.dedup();
            let same = verbatim.windows(2).all(|w| w[0] == w[1]);
            let reason = match verbatim.into_iter().next() {
                Some(v) if same => v,
                _ => key,
            };
            ReasonGroup {
                hostlist: compact(&hosts),
                reason,
                hosts,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.hosts
            .len()
            .cmp(&a.hosts.len())
            .then_with(|| natural_cmp(&a.hosts[0], &b.hosts[0]))
    });
    groups
}

/// At most this many reason lines per step: past it, the rest is one summary line, so a
/// fleet failing in many different ways still fits a screen (the report lists every one).
pub const MAX_SHOWN: usize = 6;

/// One line per group, indented: `N host(s): REASON  [HOSTS]`; past [`MAX_SHOWN`], one
/// line for the rest.
pub fn lines(groups: &[ReasonGroup], indent: &str) -> String {
    let mut out = String::new();
    for g in groups.iter().take(MAX_SHOWN) {
        out.push_str(&format!(
            "{indent}{} host(s): {}  [{}]\n",
            g.hosts.len(),
            g.reason,
            g.hostlist
        ));
    }
    if groups.len() > MAX_SHOWN {
        let rest = &groups[MAX_SHOWN..];
        let mut hosts: Vec<String> = rest.iter().flat_map(|g| g.hosts.clone()).collect();
        hosts.sort_by(|a, b| natural_cmp(a, b));
        out.push_str(&format!(
            "{indent}… {} more reason(s) on {} host(s)  [{}]  (`cutover report` lists them all)\n",
            rest.len(),
            hosts.len(),
            compact(&hosts)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_said_once_whoever_added_it() {
        let o = HostOutcome::Unreachable {
            reason: "unreachable: unreachable: lab-5: cannot connect".into(),
        };
        assert_eq!(
            of_outcome(&o).as_deref(),
            Some("unreachable: lab-5: cannot connect")
        );
        assert_eq!(
            without_host("lab-5", "unreachable: unreachable: lab-5: cannot connect"),
            "unreachable: cannot connect"
        );
        assert_eq!(
            without_host("lab-5", "preflight[0]: unreachable: lab-5: no route"),
            "preflight[0]: unreachable: no route"
        );
    }

    #[test]
    fn hosts_failing_alike_fold_into_one_group_with_a_compact_set() {
        let reasons: Vec<(String, String)> = (1..=255)
            .map(|i| {
                (
                    format!("lab-{i}"),
                    format!(
                        "unreachable: lab-{i}: host key SHA256:{i:0>43} is not in known_hosts (searched /tmp/kh); run `cutover hostkeys scan`"
                    ),
                )
            })
            .collect();
        let groups = group(reasons.iter().map(|(h, r)| (h.as_str(), r.as_str())));
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].hostlist, "lab-[1-255]");
        assert_eq!(
            groups[0].reason,
            "unreachable: host key SHA256:… is not in known_hosts (searched /tmp/kh); run `cutover hostkeys scan`"
        );
    }

    #[test]
    fn one_host_keeps_its_exact_reason_and_others_theirs() {
        let groups = group([
            (
                "lab-7",
                "unreachable: lab-7: HOST KEY CHANGED: presented SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG, expected the key at /lab/known_hosts:7",
            ),
            ("lab-1", "exit 1: refused on lab-1"),
            ("lab-2", "exit 1: refused on lab-2"),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].hostlist, "lab-[1-2]");
        assert_eq!(groups[0].reason, "exit 1: refused on <host>");
        assert_eq!(groups[1].hostlist, "lab-7");
        assert!(
            groups[1]
                .reason
                .ends_with("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG, expected the key at /lab/known_hosts:7"),
            "{}",
            groups[1].reason
        );
    }

    #[test]
    fn a_host_name_inside_a_longer_one_is_not_generalized() {
        assert_eq!(
            replace_word("lab-5 and lab-50", "lab-5", "<host>"),
            "<host> and lab-50"
        );
        assert_eq!(replace_word("x lab-5.", "lab-5", "<host>"), "x <host>.");
    }

    #[test]
    fn many_reasons_stay_within_a_screen() {
        let reasons: Vec<(String, String)> = (1..=40)
            .map(|i| (format!("h{i}"), format!("exit {i}")))
            .collect();
        let text = lines(
            &group(reasons.iter().map(|(h, r)| (h.as_str(), r.as_str()))),
            "  ",
        );
        assert_eq!(text.lines().count(), MAX_SHOWN + 1, "{text}");
        assert!(
            text.ends_with(
                "… 34 more reason(s) on 34 host(s)  [h[7-40]]  (`cutover report` lists them all)\n"
            ),
            "{text}"
        );
    }
}
