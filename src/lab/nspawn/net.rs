//! The network of an `nspawn` lab: one bridge on the controller (`SUBNET.254`), and per host a
//! network namespace the lab creates, joined to the bridge by a veth pair, with its own address.
//! Network faults are nftables rules inside the host's namespace (this kernel has no `netem`).
//!
//! `ruleset` is pure; the rest runs `ip` and `nft` on namespaces and links the lab named.

use super::{LabError, Names, run};
use crate::lab::faults::Fault;
use crate::lab::spec::{LabHost, LabSpec};
use std::process::Command;

/// The nftables table a host's faults live in (inside the host's namespace).
pub const FAULT_TABLE: &str = "cutover_fault";

/// The queue number the delayer of host `i` reads (`delay` faults).
pub fn queue_number(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Refuses a subnet some interface already uses (another lab, a real network).
pub fn check_subnet_free(spec: &LabSpec) -> Result<(), LabError> {
    let out = run(
        "listing addresses",
        Command::new("ip").args(["-o", "-4", "addr", "show"]),
    )?;
    let prefix = format!(" {}.", spec.subnet);
    match out.lines().find(|l| l.contains(&prefix)) {
        Some(line) => Err(LabError::Usage(format!(
            "--subnet {}: already in use here ({}); pick another, e.g. --subnet 10.254.{}",
            spec.subnet,
            line.split_whitespace().nth(1).unwrap_or("?"),
            spec.hosts.min(250)
        ))),
        None => Ok(()),
    }
}

/// Creates the lab's bridge with the controller's address.
pub fn bridge(spec: &LabSpec, names: &Names) -> Result<(), LabError> {
    let br = names.bridge.as_str();
    run(
        "the lab bridge",
        Command::new("ip").args(["link", "add", br, "type", "bridge"]),
    )?;
    let addr = format!("{}/24", spec.bridge_address());
    run(
        "the lab bridge",
        Command::new("ip").args(["addr", "add", &addr, "dev", br]),
    )?;
    run(
        "the lab bridge",
        Command::new("ip").args(["link", "set", br, "up"]),
    )?;
    Ok(())
}

/// Creates host `i`'s namespace and veth pair (`eth0` inside) on the bridge.
pub fn host(names: &Names, i: usize, h: &LabHost) -> Result<(), LabError> {
    let (ns, veth) = (names.netns(i), names.veth(i));
    let what = format!("the network of {}", h.name);
    let ip = |args: &[&str]| run(&what, Command::new("ip").args(args)).map(|_| ());
    ip(&["netns", "add", &ns])?;
    ip(&[
        "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ])?;
    ip(&["link", "set", &veth, "master", &names.bridge, "up"])?;
    ip(&[
        "-n",
        &ns,
        "addr",
        "add",
        &format!("{}/24", h.addr),
        "dev",
        "eth0",
    ])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])
}

/// Removes host `i`'s namespace (its veth pair goes with it); quiet when already gone.
pub fn remove_host(names: &Names, i: usize) -> Result<(), LabError> {
    let ns = names.netns(i);
    // The host-side veth goes with its peer, but the kernel tears a namespace down in
    // deferred work: delete it outright so nothing is left once `lab down` returns.
    let veth = std::path::Path::new("/sys/class/net").join(names.veth(i));
    if veth.exists() {
        let _ = Command::new("ip")
            .args(["link", "del", &names.veth(i)])
            .stderr(std::process::Stdio::null())
            .status();
    }
    if std::path::Path::new("/run/netns").join(&ns).exists() {
        run(
            "removing a host's namespace",
            Command::new("ip").args(["netns", "del", &ns]),
        )?;
    }
    let deadline = crate::clock::instant() + std::time::Duration::from_secs(5);
    while veth.exists() && crate::clock::instant() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// Removes the bridge; quiet when already gone.
pub fn remove_bridge(names: &Names) -> Result<(), LabError> {
    if !std::path::Path::new("/sys/class/net")
        .join(&names.bridge)
        .exists()
    {
        return Ok(());
    }
    run(
        "removing the lab bridge",
        Command::new("ip").args(["link", "del", &names.bridge]),
    )
    .map(|_| ())
}

/// The nftables script that replaces host `i`'s fault table with `faults` (an empty table for
/// none). Traffic on the host's own `lo` is never touched.
pub fn ruleset(spec: &LabSpec, faults: &[Fault]) -> String {
    let mut input = Vec::new();
    let mut output = Vec::new();
    let (mut drop_in, mut drop_out) = (false, false);
    for f in faults {
        match f {
            Fault::Blackhole => (drop_in, drop_out) = (true, true),
            Fault::Loss { percent } => input.push(if *percent >= 100 {
                "iifname \"eth0\" drop".to_string()
            } else {
                format!("iifname \"eth0\" numgen random mod 100 < {percent} drop")
            }),
            Fault::Partition { from } => {
                let set: Vec<String> = spec
                    .lab_hosts()
                    .into_iter()
                    .filter(|h| from.contains(&h.name))
                    .map(|h| h.addr)
                    .collect();
                if !set.is_empty() {
                    input.push(format!("ip saddr {{ {} }} drop", set.join(", ")));
                    output.push(format!("ip daddr {{ {} }} drop", set.join(", ")));
                }
            }
            // nftables' `queue` is not in this kernel (no module loading); the NFQUEUE rules
            // of `delay` and `rate` are iptables ones, see `delay_rules`.
            _ => {}
        }
    }
    let chain = |name: &str, hook: &str, drop: bool, rules: &[String]| {
        let policy = if drop { "drop" } else { "accept" };
        let lo = if hook == "input" {
            "iifname"
        } else {
            "oifname"
        };
        let mut c = format!(
            "  chain {name} {{\n    type filter hook {hook} priority -10; policy {policy};\n    {lo} \"lo\" accept\n"
        );
        for r in rules {
            c.push_str(&format!("    {r}\n"));
        }
        c.push_str("  }\n");
        c
    };
    format!(
        "table inet {FAULT_TABLE}\ndelete table inet {FAULT_TABLE}\ntable inet {FAULT_TABLE} {{\n{}{}}}\n",
        chain("in", "input", drop_in, &input),
        chain("out", "output", drop_out, &output),
    )
}

/// The iptables arguments (mangle table, after `-A`/`-D`) that send host `i`'s outgoing
/// packets, and with `inbound` its incoming ones too, to its delayer's NFQUEUE (bypassed while
/// no delayer reads it).
pub fn delay_rules(i: usize, inbound: bool) -> Vec<Vec<String>> {
    let q = queue_number(i).to_string();
    let rule = |chain: &str, dir: &str| -> Vec<String> {
        [
            chain,
            dir,
            "eth0",
            "-j",
            "NFQUEUE",
            "--queue-num",
            &q,
            "--queue-bypass",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut rules = vec![rule("OUTPUT", "-o")];
    if inbound {
        rules.push(rule("INPUT", "-i"));
    }
    rules
}

/// Adds host `i`'s NFQUEUE rules in its namespace (`Some`: both ways when `inbound`), or
/// removes any it has (`None`).
pub fn set_delay_rules(
    names: &Names,
    i: usize,
    h: &LabHost,
    on: Option<bool>,
) -> Result<(), LabError> {
    let ns = names.netns(i);
    let iptables = |op: &str, rule: &[String]| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns, "iptables", "-t", "mangle", op])
            .args(rule);
        cmd
    };
    match on {
        Some(inbound) => {
            for rule in delay_rules(i, inbound) {
                run(
                    &format!("the delay of {}", h.name),
                    &mut iptables("-A", &rule),
                )?;
            }
        }
        None => {
            for rule in delay_rules(i, true) {
                // Absent already: nothing to remove.
                let _ = iptables("-D", &rule).output();
            }
        }
    }
    Ok(())
}

/// Loads `ruleset` into host `i`'s namespace.
pub fn apply(names: &Names, i: usize, h: &LabHost, ruleset: &str) -> Result<(), LabError> {
    use std::io::Write as _;
    let mut child = Command::new("ip")
        .args(["netns", "exec", &names.netns(i), "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Start {
            what: format!("nft for {}", h.name),
            reason: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(ruleset.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| LabError::Start {
        what: format!("nft for {}", h.name),
        reason: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Start {
            what: format!("the network faults of {}", h.name),
            reason: format!(
                "nft: {}\n{ruleset}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;
    use crate::lab::spec::Backend;

    fn spec() -> LabSpec {
        LabSpec {
            hosts: 3,
            etcd: None,
            backend: Backend::Nspawn,
            dir: "/tmp/l".into(),
            subnet: "10.253.0".into(),
            port: 22,
            faults: Faults::new(),
        }
    }

    #[test]
    fn no_fault_is_an_empty_accepting_table() {
        let r = ruleset(&spec(), &[]);
        assert!(r.starts_with("table inet cutover_fault\ndelete table inet cutover_fault\n"));
        assert_eq!(r.matches("policy accept").count(), 2, "{r}");
        assert!(!r.contains("drop;"));
    }

    #[test]
    fn blackhole_drops_everything_but_loopback() {
        let r = ruleset(&spec(), &[Fault::Blackhole]);
        assert_eq!(r.matches("policy drop").count(), 2, "{r}");
        assert!(r.contains("iifname \"lo\" accept") && r.contains("oifname \"lo\" accept"));
    }

    #[test]
    fn loss_partition_and_delay_rules() {
        let r = ruleset(
            &spec(),
            &[
                Fault::Loss { percent: 30 },
                Fault::Partition {
                    from: vec!["lab-3".into()],
                },
                Fault::Delay { millis: 40 },
            ],
        );
        assert!(r.contains("numgen random mod 100 < 30 drop"), "{r}");
        assert!(r.contains("ip saddr { 10.253.0.3 } drop"), "{r}");
        assert!(r.contains("ip daddr { 10.253.0.3 } drop"), "{r}");
        assert!(!r.contains("queue"), "the NFQUEUE rule is iptables': {r}");
        assert_eq!(
            delay_rules(2, false),
            [[
                "OUTPUT",
                "-o",
                "eth0",
                "-j",
                "NFQUEUE",
                "--queue-num",
                "2",
                "--queue-bypass"
            ]]
        );
        assert_eq!(
            delay_rules(2, true)[1].join(" "),
            "INPUT -i eth0 -j NFQUEUE --queue-num 2 --queue-bypass",
            "a rate shapes what the host receives too"
        );
    }
}
