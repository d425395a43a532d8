//! The canonical text of a resolved inventory, hashed into the plan digest.

use serde_json::Value;

use super::{Host, Inventory};

impl Inventory {
    /// Canonical, deterministic text of the resolved inventory for the plan digest.
    ///
    /// It covers the name, the production flag and every host field; maps are sorted so
    /// how the source spelled them does not matter. Host order *is* included, because
    /// batches follow inventory order. The source path and format are left out: moving or
    /// converting a file without changing what it resolves to keeps the digest.
    pub fn digest_input(&self) -> String {
        let mut out = format!(
            "inventory {} production={}\n",
            quote(&self.name),
            self.production
        );
        for host in &self.hosts {
            out.push_str(&host_line(host));
            out.push('\n');
        }
        out
    }
}

fn host_line(host: &Host) -> String {
    let user = host.user.as_deref().map_or("-".to_string(), quote);
    let groups: Vec<String> = host.groups.iter().map(|g| quote(g)).collect();
    let pairs = |m: &std::collections::BTreeMap<String, String>| -> String {
        m.iter()
            .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "host {} address={} port={} user={} groups=[{}] labels={{{}}} vars={{{}}}",
        quote(&host.name),
        quote(&host.address),
        host.port,
        user,
        groups.join(","),
        pairs(&host.labels),
        pairs(&host.vars),
    )
}

/// JSON string quoting: unambiguous for any content, stable across Rust versions.
fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}
