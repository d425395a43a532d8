//! The files a lab hands to cutover: its inventory and known_hosts, as text.
//!
//! Pure. The inventory carries the vars the lab plans expect: `root` (the host's own tree, where
//! `etc/consul.json` lives) and `cutover_dir` (where armed jobs go, so hosts sharing one
//! machine never share a job directory).

use super::spec::{Backend, LabSpec};

/// The native TOML inventory of a lab: groups `servers` and `clients`, vars `root` and `cutover_dir`.
pub fn inventory(spec: &LabSpec) -> String {
    let mut out = format!(
        "# Written by `cutover lab up` ({} backend{}); `cutover lab down` removes it.\n# No user: lab hosts log you in as yourself, the transport's default.\n[inventory]\nname = \"lab\"\nproduction = false\n",
        spec.backend.as_str(),
        spec.etcd.map_or(String::new(), |n| format!(
            ", {n} etcd members on the servers"
        )),
    );
    if spec.backend == Backend::Nspawn {
        return nspawn_inventory(spec, out);
    }
    for h in spec.lab_hosts() {
        out.push_str(&format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\n{}groups = [\"{}\"]\nvars = {{ root = {}, cutover_dir = {} }}\n",
            h.name,
            h.addr,
            if h.port == 22 { String::new() } else { format!("port = {}\n", h.port) },
            h.group,
            toml_str(&h.root.display().to_string()),
            toml_str(&h.cutover_dir().display().to_string()),
        ));
    }
    out
}

/// Real hosts: each logs in as the operator (`ops`, NOPASSWD sudo); `root` is empty (files
/// live where a real host keeps them) and jobs go to the default `/var/tmp/cutover`.
fn nspawn_inventory(spec: &LabSpec, out: String) -> String {
    let mut out = out.replace(
        "# No user: lab hosts log you in as yourself, the transport's default.\n",
        "# Real hosts (systemd-nspawn): you log in as `ops`, who has NOPASSWD sudo.\n",
    );
    for h in spec.lab_hosts() {
        out.push_str(&format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"{}\"\ngroups = [\"{}\"]\nvars = {{ root = \"\" }}\n",
            h.name,
            h.addr,
            crate::lab::nspawn::OPERATOR,
            h.group,
        ));
    }
    out
}

/// known_hosts lines: `NAME KEYTYPE KEY` per host (`NAME` as the transport looks it up).
pub fn known_hosts(hosts: &[(String, String)]) -> String {
    hosts
        .iter()
        .map(|(addr, key)| format!("{addr} {key}\n"))
        .collect()
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;

    #[test]
    fn the_inventory_parses_with_groups_and_vars() {
        let spec = LabSpec {
            hosts: 4,
            etcd: Some(3),
            backend: Backend::Embedded,
            dir: "/tmp/lab dir".into(),
            subnet: "127.0.10".into(),
            port: 22,
            faults: Faults::new(),
        };
        let text = inventory(&spec);
        let inv =
            crate::inventory::parse(&text, crate::inventory::Format::Native, "lab.toml").unwrap();
        assert_eq!(inv.hosts.len(), 4);
        assert!(inv.hosts[3].groups.contains("clients"));
        assert_eq!(inv.hosts[0].vars["root"], "/tmp/lab dir/hosts/lab-1");
    }
}
