//! Diffs grouped by the change itself, not by their context: 255 hosts whose one-line edit
//! is the same but whose surrounding lines differ (a node name, an address) are one group.
//! Plain output and the report share it. Pure.

use crate::executor::nodeset::{compact, natural_cmp};

/// Hosts whose diff of one file by one step makes the same change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeGroup {
    /// The step's plan path.
    pub path: String,
    /// The file.
    pub file: String,
    /// The hosts, in natural order.
    pub hosts: Vec<String>,
    /// The hosts, compactly.
    pub hostlist: String,
    /// The first host's diff (empty: no change).
    pub diff: String,
    /// True when the hosts' diffs differ in their context lines (only the first is kept).
    pub context_differs: bool,
}

/// The lines a diff adds and removes, without its headers and context: what it changes.
pub fn change_of(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| !l.starts_with("+++") && !l.starts_with("---"))
        .filter(|l| l.starts_with('+') || l.starts_with('-'))
        .collect()
}

/// Groups `(path, file, hosts, diff)` by step, file and change, in first-seen order.
pub fn group<'a>(
    diffs: impl IntoIterator<Item = (&'a str, &'a str, &'a [String], &'a str)>,
) -> Vec<ChangeGroup> {
    let mut groups: Vec<ChangeGroup> = Vec::new();
    for (path, file, hosts, diff) in diffs {
        let same = |g: &&mut ChangeGroup| {
            g.path == path && g.file == file && change_of(&g.diff) == change_of(diff)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => {
                g.context_differs |= g.diff != diff;
                g.hosts.extend(hosts.iter().cloned());
            }
            None => groups.push(ChangeGroup {
                path: path.to_string(),
                file: file.to_string(),
                hosts: hosts.to_vec(),
                hostlist: String::new(),
                diff: diff.to_string(),
                context_differs: false,
            }),
        }
    }
    for g in &mut groups {
        g.hosts.sort_by(|a, b| natural_cmp(a, b));
        g.hosts.dedup();
        g.hostlist = compact(&g.hosts);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(node: &str, to: &str) -> String {
        format!(
            "--- f\n+++ f\n@@ -1,3 +1,3 @@\n   \"node\": \"{node}\",\n-  \"verify\": true\n+  \"verify\": {to}\n }}\n"
        )
    }

    #[test]
    fn diffs_differing_only_in_context_are_one_change() {
        let (a, b, c) = (
            diff("lab-1", "false"),
            diff("lab-2", "false"),
            diff("lab-3", "0"),
        );
        let h = |n: &str| vec![n.to_string()];
        let (h1, h2, h3) = (h("lab-1"), h("lab-2"), h("lab-3"));
        let groups = group([
            ("stage[1]", "f", h1.as_slice(), a.as_str()),
            ("stage[1]", "f", h2.as_slice(), b.as_str()),
            ("stage[1]", "f", h3.as_slice(), c.as_str()),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].hostlist, "lab-[1-2]");
        assert!(groups[0].context_differs);
        assert_eq!(groups[0].diff, a);
        assert_eq!(groups[1].hostlist, "lab-3");
        assert!(!groups[1].context_differs);
    }

    #[test]
    fn no_change_and_a_change_stay_apart() {
        let h = vec!["a1".to_string()];
        let d = diff("x", "false");
        assert_eq!(
            group([
                ("s", "f", h.as_slice(), ""),
                ("s", "f", h.as_slice(), d.as_str())
            ])
            .len(),
            2
        );
    }
}
