//! The demo plan: the reference story (255 Consul agents restarted at the same second) in
//! miniature, written for one lab. Pure: text from the lab's spec.

use super::spec::LabSpec;
use chrono::{DateTime, Utc};

/// Name of the demo plan (run directories end with it).
pub const PLAN_NAME: &str = "cutover-demo";

/// How the demo plan is shaped beyond the lab itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// The file's `at` (the demo overrides it with `--at now+30s`; it must only be valid).
    pub nominal_fire: DateTime<Utc>,
    /// Use the built-in `sudo` check (it also runs the machine's `/usr/bin/sudo`); without
    /// sudo installed the lab's own `sudo -n true` is checked instead.
    pub system_sudo: bool,
}

/// The demo plan for `spec`, with a quorum watch when the lab runs etcd.
pub fn plan(spec: &LabSpec, opts: &DemoOptions) -> String {
    let q = |p: std::path::PathBuf| toml::Value::String(p.display().to_string()).to_string();
    let mut out = format!(
        r#"# Written by `cutover demo`: the reference cutover in miniature, on a {n}-host lab.
[plan]
name = "{PLAN_NAME}"
description = "Disable the config agent, turn off TLS date verification in batches, restart the service on every host at the same instant, watch it come back."
owner = "you"
break_glass = "It is a lab: the demo tears it down; `cutover lab down --dir {dir}` if it did not."

[inventory]
path = {inv}

[ssh]
known_hosts = [{kh}]
identities = [{key}]
connect_timeout = "5s"

[execution]
batch_size = 2
max_failures = 0
connect_rate = 50
command_timeout = "20s"

[[preflight]]
check = "clock"
max_offset = "250ms"
ntp_synchronized = {ntp}

{sudo}
[[preflight]]
check = "scheduler"
mechanism = "waiter"

[[preflight]]
name = "config agent present"
check = "service"
unit = "chef-client"
enabled = true

[[stage]]
name = "disable the config agent (it would revert the edit)"
step = "disable_service"
unit = "chef-client"

[[stage]]
name = "stop verifying TLS dates"
step = "edit_file"
path = "{{{{ vars.root }}}}/etc/consul.json"
set = {{ format = "json", keys = {{ verify_incoming = false, verify_outgoing = false }} }}

[[verify]]
check = "agent_disabled"
unit = "chef-client"

[[verify]]
check = "file"
path = "{{{{ vars.root }}}}/etc/consul.json"
contains = '"verify_outgoing":\s*false'

[action]
at = {at}
run = "lab-service restart consul"
mechanism = "waiter"
arm_window = "5m"
arm_deadline = "10s"
reverify_before = "5s"

[watch]
poll_interval = "500ms"
stable_for = "5s"
timeout = "2m"
{complete}
[[watch.probe]]
name = "service-up"
kind = "command"
targets = "all"
run = "lab-service status consul"

[[post]]
name = "re-enable the config agent"
step = "enable_service"
unit = "chef-client"
"#,
        n = spec.hosts,
        dir = spec.dir.display(),
        inv = q(spec.inventory_path()),
        kh = q(spec.known_hosts_path()),
        key = q(spec.client_key_path()),
        sudo = sudo_check(opts.system_sudo),
        at = opts.nominal_fire.format("%Y-%m-%dT%H:%M:00Z"),
        complete = complete(spec),
        // nspawn hosts share the controller's kernel clock: its offset is measured, but whether
        // the machine itself is NTP-synchronised is not the lab's to promise.
        ntp = spec.backend != super::spec::Backend::Nspawn,
    );
    out.push('\n');
    out
}

fn sudo_check(system_sudo: bool) -> &'static str {
    if system_sudo {
        "[[preflight]]\ncheck = \"sudo\"\n"
    } else {
        "[[preflight]]\nname = \"sudo without password (lab sudo)\"\ncheck = \"command\"\nrun = \"sudo -n true\"\n"
    }
}

fn complete(spec: &LabSpec) -> String {
    let Some(voters) = spec.etcd else {
        return "complete_when = [\"all_probes\"]\n".into();
    };
    let eps: Vec<String> = spec
        .etcd_endpoints()
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect();
    format!(
        "complete_when = [\"quorum\", \"all_probes\"]\nabort_if = [\"quorum_lost\"]\n\n[watch.quorum]\nsource = \"etcd\"\ntargets = \"servers\"\nvoters = {voters}\nendpoints = [{}]\n",
        eps.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;
    use crate::lab::spec::Backend;

    fn spec(etcd: Option<usize>) -> LabSpec {
        LabSpec {
            hosts: 5,
            etcd,
            backend: Backend::Embedded,
            dir: "/tmp/demo".into(),
            subnet: "127.0.20".into(),
            port: 22,
            faults: Faults::new(),
        }
    }

    fn opts() -> DemoOptions {
        DemoOptions {
            nominal_fire: "2030-01-01T00:00:00Z".parse().unwrap(),
            system_sudo: false,
        }
    }

    #[test]
    fn the_demo_plan_is_toml_with_a_quorum_watch_only_with_etcd() {
        for etcd in [None, Some(3)] {
            let text = plan(&spec(etcd), &opts());
            let table: toml::Table = toml::from_str(&text).unwrap();
            assert_eq!(table["action"]["at"].to_string(), "2030-01-01T00:00:00Z");
            assert_eq!(text.contains("[watch.quorum]"), etcd.is_some());
        }
    }
}
