//! Output folding like `dshbak -c` / `clush -b`: hosts with identical output shown once.
//!
//! Input output must already be sanitized (control sequences stripped) by the transport.

use super::nodeset::{compact, natural_cmp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Hosts that printed exactly the same output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputGroup {
    /// The hosts, in natural order.
    pub hosts: Vec<String>,
    /// The hosts rendered compactly, e.g. `web[01-03,07]`.
    pub hostlist: String,
    /// The shared output.
    pub output: String,
}

/// Groups `(host, output)` pairs by identical output: largest group first, then by first host.
pub fn fold<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<OutputGroup> {
    let mut by_output: HashMap<&str, Vec<String>> = HashMap::new();
    for (host, output) in items {
        by_output.entry(output).or_default().push(host.to_owned());
    }
    let mut groups: Vec<OutputGroup> = by_output
        .into_iter()
        .map(|(output, mut hosts)| {
            hosts.sort_by(|a, b| natural_cmp(a, b));
            hosts.dedup();
            OutputGroup {
                hostlist: compact(&hosts),
                hosts,
                output: output.to_owned(),
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

/// Renders groups as text in the style of `clush -b`: a header per group, then its output.
pub fn render(groups: &[OutputGroup]) -> String {
    let mut out = String::new();
    for group in groups {
        let header = format!("{} ({})", group.hostlist, group.hosts.len());
        let rule = "-".repeat(header.chars().count().clamp(16, 80));
        out.push_str(&format!("{rule}\n{header}\n{rule}\n"));
        out.push_str(&group.output);
        if !group.output.is_empty() && !group.output.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Vec<OutputGroup> {
        fold([
            ("web03", "ok\n"),
            ("web10", "ok\n"),
            ("db1", "disk full\n"),
            ("web01", "ok\n"),
            ("web02", "ok\n"),
            ("db2", "disk full\n"),
            ("cache1", "timeout\n"),
        ])
    }

    #[test]
    fn groups_identical_output_largest_first() {
        let groups = sample();
        let lists: Vec<&str> = groups.iter().map(|g| g.hostlist.as_str()).collect();
        assert_eq!(lists, ["web[01-03,10]", "db[1-2]", "cache1"]);
        assert_eq!(groups[0].hosts, ["web01", "web02", "web03", "web10"]);
    }

    #[test]
    fn equal_sizes_are_ordered_by_first_host_naturally() {
        let groups = fold([("n10", "b"), ("n9", "a"), ("n2", "c")]);
        let lists: Vec<&str> = groups.iter().map(|g| g.hostlist.as_str()).collect();
        assert_eq!(lists, ["n2", "n9", "n10"]);
    }

    #[test]
    fn output_differing_only_in_whitespace_is_not_merged() {
        assert_eq!(fold([("a1", "x"), ("a2", "x\n")]).len(), 2);
    }

    #[test]
    fn renders_like_clush_b() {
        let text = render(&fold([("web1", "ok"), ("web2", "ok"), ("db1", "")]));
        assert_eq!(
            text,
            "----------------\nweb[1-2] (2)\n----------------\nok\n\
             ----------------\ndb1 (1)\n----------------\n"
        );
    }

    #[test]
    fn json_shape_is_a_list_of_groups() {
        let value = serde_json::to_value(fold([("web1", "ok"), ("web2", "ok")])).unwrap();
        assert_eq!(
            value,
            json!([{"hosts": ["web1", "web2"], "hostlist": "web[1-2]", "output": "ok"}])
        );
    }

    #[test]
    fn no_hosts_fold_to_nothing() {
        assert!(fold(std::iter::empty()).is_empty());
        assert_eq!(render(&[]), "");
    }
}
