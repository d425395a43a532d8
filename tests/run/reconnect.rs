//! An action that kills its own host's sshd: the fire still happens, cutover reconnects to
//! collect the receipt, and a host that stays unreachable is reported as such, never as fired.

use super::*;

/// Makes host `victim`'s action stop its sshd (with every connection, the pooled one too),
/// then run `after` (e.g. starting sshd again, as `systemctl restart sshd` does).
fn kill_own_sshd(s: &Setup, victim: usize, after: &str) {
    for h in &s.fleet.hosts {
        h.install_sshd_control();
    }
    let name = &s.fleet.hosts[victim].name;
    let action = format!(
        "run = \"if [ \\\"$CUTOVER_HOST\\\" = {name} ]; then sshd-stop; {after} fi; echo fired >> \\\"$HOME/fired\\\"\""
    );
    let plan = std::fs::read_to_string(&s.plan)
        .unwrap()
        .replace("run = \"echo fired >> \\\"$HOME/fired\\\"\"", &action);
    assert!(plan.contains("sshd-stop"), "the action was not replaced");
    std::fs::write(&s.plan, plan).unwrap();
}

#[test]
fn an_action_that_restarts_its_own_sshd_fires_and_its_receipt_is_collected_after_reconnecting() {
    let s = setup(3, "");
    // sshd comes back 3 s later: after the first collection attempt (fire + 2 s) failed.
    kill_own_sshd(&s, 1, "sleep 3; sshd-start;");
    let r = fire_in(&s, 12);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("fire spread:"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("3 fired") && !line.contains("MISSING") && !line.contains("UNREACHABLE"),
        "{line}"
    );
    assert_receipts_in_bounds(&journal_text(&s), 3);
    let log = s.fleet.hosts[1].log_text();
    assert!(
        log.matches("Server listening on").count() >= 2,
        "sshd did not restart:\n{log}"
    );
    assert!(
        s.fleet.hosts[1].dir.join("post-done").exists(),
        "post steps ran on the restarted host"
    );
}

#[test]
fn a_host_whose_sshd_stays_down_after_the_fire_is_reported_unreachable_not_fired() {
    let s = setup(3, "");
    kill_own_sshd(&s, 1, "");
    let r = fire_in(&s, 12);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        s.fleet.hosts[1].dir.join("fired").exists(),
        "the action itself ran"
    );
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("fire spread:"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("2 fired")
            && line.contains("UNREACHABLE after the fire (fired status unknown): host-02")
            && !line.contains("MISSING"),
        "{line}"
    );
    assert!(
        r.stdout
            .contains("1 host(s) unreachable after the fire (fired status unknown)"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
