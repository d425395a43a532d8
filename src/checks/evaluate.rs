//! Verdicts from observed output, one function per check kind.

use super::clock::{Offset, TimeStatus, same_zone};
use super::{Observed, Verdict};
use crate::plan::model::CheckKind;
use std::time::Duration;

/// True when stderr shows sudo wanted a password (or a terminal to ask for one).
pub fn sudo_wants_password(stderr: &str) -> bool {
    stderr.contains("a password is required")
        || stderr.contains("a terminal is required")
        || stderr.contains("no tty present")
        || stderr.contains("[sudo] password for")
}

/// Evaluates every kind whose verdict depends only on one command's output.
/// `clock`, `http` and `tcp` have their own functions; passing them here is an error verdict.
pub fn evaluate(kind: &CheckKind, out: &Observed) -> Verdict {
    if sudo_wants_password(&out.stderr) {
        return Verdict::fail("sudo: a password is required (cutover only uses sudo -n)");
    }
    match kind {
        CheckKind::Sudo => sudo(out),
        CheckKind::Scheduler { mechanism } => match out.exit {
            Some(0) => Verdict::Pass,
            _ => Verdict::fail(format!(
                "mechanism `{}` unavailable: {}",
                mechanism.as_str(),
                first_line(&out.stdout, &out.stderr)
            )),
        },
        CheckKind::Service {
            unit,
            active,
            enabled,
        } => service(unit, *active, *enabled, out),
        CheckKind::AgentDisabled { unit, .. } => agent_disabled(unit, out),
        CheckKind::File {
            sha256,
            contains,
            absent,
            ..
        } => file(
            sha256.as_deref(),
            contains.as_deref(),
            absent.as_deref(),
            out,
        ),
        CheckKind::Command {
            expect_exit,
            stdout_matches,
            ..
        } => command(*expect_exit, stdout_matches.as_deref(), out),
        CheckKind::Clock { .. } | CheckKind::Http { .. } | CheckKind::Tcp { .. } => {
            Verdict::Error {
                reason: "internal: this check is not evaluated from one command".into(),
            }
        }
    }
}

fn first_line<'a>(stdout: &'a str, stderr: &'a str) -> &'a str {
    stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
}

fn sudo(out: &Observed) -> Verdict {
    match out.exit {
        Some(0) => Verdict::Pass,
        Some(code) => Verdict::fail(format!(
            "sudo -n failed (exit {code}): {}",
            first_line(&out.stdout, &out.stderr)
        )),
        None => Verdict::fail("sudo -n did not finish"),
    }
}

fn service(unit: &str, active: Option<bool>, enabled: Option<bool>, out: &Observed) -> Verdict {
    let mut lines = out.stdout.lines().map(str::trim);
    let (state, enablement) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let is_active = state == "active";
    let is_enabled = matches!(
        enablement,
        "enabled" | "enabled-runtime" | "static" | "alias"
    );
    if active.is_some_and(|want| want != is_active) {
        return Verdict::fail(format!(
            "{unit} is {}",
            if state.is_empty() { "unknown" } else { state }
        ));
    }
    if enabled.is_some_and(|want| want != is_enabled) {
        return Verdict::fail(format!(
            "{unit} is {}",
            if enablement.is_empty() {
                "not installed"
            } else {
                enablement
            }
        ));
    }
    Verdict::Pass
}

fn agent_disabled(unit: &str, out: &Observed) -> Verdict {
    let mut lines = out.stdout.lines().map(str::trim);
    let state = lines.next().unwrap_or("");
    let enablement = lines.next().unwrap_or("");
    let cron: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    if matches!(state, "active" | "activating" | "reloading") {
        return Verdict::fail(format!("{unit} is running"));
    }
    if matches!(enablement, "enabled" | "enabled-runtime" | "static") {
        return Verdict::fail(format!("{unit} is enabled (it will come back)"));
    }
    if let Some(line) = cron.first() {
        return Verdict::fail(format!("{unit} is scheduled by cron: {line}"));
    }
    Verdict::Pass
}

fn file(
    sha256: Option<&str>,
    contains: Option<&str>,
    absent: Option<&str>,
    out: &Observed,
) -> Verdict {
    if out.exit != Some(0) {
        return Verdict::fail(format!("cannot read: {}", first_line("", &out.stderr)));
    }
    let (sum_line, content) = out.stdout.split_once('\n').unwrap_or((&out.stdout, ""));
    let actual = sum_line.split_whitespace().next().unwrap_or("");
    if let Some(want) = sha256
        && actual != want
    {
        return Verdict::fail(format!("sha256 is {actual}, expected {want}"));
    }
    if let Some(re) = contains.and_then(|p| regex::Regex::new(p).ok())
        && !re.is_match(content)
    {
        return Verdict::fail(format!("content does not match /{}/", re.as_str()));
    }
    if let Some(re) = absent.and_then(|p| regex::Regex::new(p).ok())
        && re.is_match(content)
    {
        return Verdict::fail(format!(
            "content matches /{}/, which must be absent",
            re.as_str()
        ));
    }
    Verdict::Pass
}

fn command(expect_exit: i32, stdout_matches: Option<&str>, out: &Observed) -> Verdict {
    match out.exit {
        Some(code) if code as i64 == i64::from(expect_exit) => {}
        Some(code) => {
            return Verdict::fail(format!(
                "exit {code}, expected {expect_exit}: {}",
                first_line(&out.stdout, &out.stderr)
            ));
        }
        None => return Verdict::fail("no exit status (killed or disconnected)"),
    }
    match stdout_matches.and_then(|p| regex::Regex::new(p).ok()) {
        Some(re) if !re.is_match(out.stdout.trim_end_matches('\n')) => Verdict::fail(format!(
            "stdout does not match /{}/: {}",
            re.as_str(),
            first_line(&out.stdout, "")
        )),
        _ => Verdict::Pass,
    }
}

/// The clock verdict from a measured offset and the host's NTP/zone status.
pub fn clock(
    offset: Option<Offset>,
    status: &TimeStatus,
    max: Duration,
    ntp: bool,
    zone: Option<&str>,
) -> Verdict {
    let Some(o) = offset else {
        return Verdict::Error {
            reason: "clock offset could not be measured".into(),
        };
    };
    if !o.within(max) {
        return Verdict::fail(format!(
            "clock offset {:+.0} ms (±{:.0} ms) exceeds {} ms",
            o.millis(),
            o.error_ns as f64 / 1e6,
            max.as_millis()
        ));
    }
    if ntp && status.ntp_synchronized != Some(true) {
        let why = if status.ntp_synchronized.is_none() {
            "NTP status unknown (no timedatectl or chronyc)"
        } else {
            "NTP not synchronised"
        };
        return Verdict::fail(why);
    }
    match (zone, &status.timezone) {
        (Some(want), Some(have)) if !same_zone(want, have) => {
            Verdict::fail(format!("time zone is {have}, expected {want}"))
        }
        (Some(want), None) => Verdict::fail(format!("time zone unknown, expected {want}")),
        _ => Verdict::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::Mechanism;

    fn out(exit: u32, stdout: &str, stderr: &str) -> Observed {
        Observed {
            exit: Some(exit),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn sudo_password_prompts_fail_with_one_reason() {
        let v = evaluate(
            &CheckKind::Sudo,
            &out(1, "", "sudo: a password is required\n"),
        );
        assert_eq!(
            v.reason(),
            Some("sudo: a password is required (cutover only uses sudo -n)")
        );
        assert!(evaluate(&CheckKind::Sudo, &out(0, "", "")).passed());
    }

    #[test]
    fn agent_must_be_stopped_disabled_and_out_of_cron() {
        let k = CheckKind::AgentDisabled {
            unit: "chef-client".into(),
            cron_pattern: Some("chef".into()),
        };
        assert!(evaluate(&k, &out(0, "inactive\ndisabled\n", "")).passed());
        assert_eq!(
            evaluate(&k, &out(0, "inactive\nenabled\n", "")).reason(),
            Some("chef-client is enabled (it will come back)")
        );
        assert_eq!(
            evaluate(&k, &out(0, "active\ndisabled\n", "")).reason(),
            Some("chef-client is running")
        );
        let cron = evaluate(
            &k,
            &out(0, "inactive\nmasked\n*/30 * * * * root chef-client\n", ""),
        );
        assert_eq!(
            cron.reason(),
            Some("chef-client is scheduled by cron: */30 * * * * root chef-client")
        );
    }

    #[test]
    fn service_state_and_enablement() {
        let k = CheckKind::Service {
            unit: "consul".into(),
            active: Some(true),
            enabled: Some(true),
        };
        assert!(evaluate(&k, &out(0, "active\nenabled\n", "")).passed());
        assert_eq!(
            evaluate(&k, &out(0, "failed\nenabled\n", "")).reason(),
            Some("consul is failed")
        );
        assert_eq!(
            evaluate(&k, &out(0, "active\ndisabled\n", "")).reason(),
            Some("consul is disabled")
        );
    }

    #[test]
    fn file_checksum_and_patterns() {
        let sum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let k = CheckKind::File {
            path: "/x".into(),
            sha256: Some(sum.into()),
            contains: None,
            absent: Some("verify = true".into()),
        };
        assert!(evaluate(&k, &out(0, &format!("{sum}  /x\n"), "")).passed());
        assert!(
            evaluate(&k, &out(0, &format!("{sum}  /x\nverify = true\n"), ""))
                .reason()
                .unwrap()
                .contains("must be absent")
        );
        assert!(
            evaluate(&k, &out(1, "", "sha256sum: /x: No such file or directory"))
                .reason()
                .unwrap()
                .contains("No such file")
        );
    }

    #[test]
    fn command_exit_and_stdout() {
        let k = CheckKind::Command {
            run: "x".into(),
            expect_exit: 0,
            stdout_matches: Some("^0$".into()),
        };
        assert!(evaluate(&k, &out(0, "0\n", "")).passed());
        assert!(
            evaluate(&k, &out(0, "12\n", ""))
                .reason()
                .unwrap()
                .starts_with("stdout does not match")
        );
        assert_eq!(
            evaluate(&k, &Observed::default()).reason(),
            Some("no exit status (killed or disconnected)")
        );
    }

    #[test]
    fn scheduler_missing() {
        let k = CheckKind::Scheduler {
            mechanism: Mechanism::At,
        };
        assert_eq!(
            evaluate(&k, &out(1, "", "")).reason(),
            Some("mechanism `at` unavailable: no output")
        );
    }

    #[test]
    fn clock_verdicts() {
        let ok = Offset {
            offset_ns: 1_000_000,
            error_ns: 500_000,
        };
        let st = TimeStatus {
            ntp_synchronized: Some(true),
            timezone: Some("Etc/UTC".into()),
        };
        let max = Duration::from_millis(500);
        assert!(clock(Some(ok), &st, max, true, Some("UTC")).passed());
        let skew = Offset {
            offset_ns: 3_000_000_000,
            error_ns: 500_000,
        };
        assert_eq!(
            clock(Some(skew), &st, max, true, None).reason(),
            Some("clock offset +3000 ms (±0 ms) exceeds 500 ms")
        );
        let berlin = TimeStatus {
            timezone: Some("Europe/Berlin".into()),
            ..st.clone()
        };
        assert_eq!(
            clock(Some(ok), &berlin, max, true, Some("UTC")).reason(),
            Some("time zone is Europe/Berlin, expected UTC")
        );
        assert!(matches!(
            clock(None, &st, max, true, None),
            Verdict::Error { .. }
        ));
    }
}
