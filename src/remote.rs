//! The exact shell each step and check sends to a host: pure, so the runbook shows what runs.
//!
//! Every plan value that lands in a script is quoted with `shlex` (or passed base64-encoded),
//! so no plan value or host variable can inject shell. Scripts go to a fixed `sh -s` on stdin.

pub mod files;
pub mod restore;
pub mod secret_refs;

use crate::plan::model::{CheckKind, Mechanism, StepKind};

/// Quotes one word for a POSIX shell.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| "''".to_string())
}

/// What a step does on a host: a script, or a description when the step is not a plain script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Sent to `sh -s` on the host.
    Remote(String),
    /// Runs on the orchestrator, without a shell.
    Local(Vec<String>),
    /// Computed per host at run time (file edits: read, edit, diff, atomic write).
    PerHost(String),
}

/// The script for a staging or post step.
pub fn step(kind: &StepKind) -> Script {
    match kind {
        StepKind::Command { run } => Script::Remote(run.clone()),
        StepKind::DisableService { unit } => {
            let u = quote(unit);
            Script::Remote(format!(
                "systemctl disable --now {u}\nsystemctl is-enabled --quiet {u} && exit 1\nsystemctl is-active --quiet {u} && exit 1\nexit 0"
            ))
        }
        StepKind::EnableService { unit } => {
            Script::Remote(format!("systemctl enable --now {}", quote(unit)))
        }
        StepKind::EditFile { path, edit } => Script::PerHost(format!(
            "read {p}; apply {e}; show the diff; write {p}.cutover-tmp (same owner and mode), fsync, keep {p}.cutover-bak, rename over {p}; record sha256",
            p = path,
            e = describe_edit(edit)
        )),
        StepKind::Upload { source, dest, mode } => Script::PerHost(format!(
            "copy {source} (base64 on stdin) to {dest}.cutover-tmp, chmod {mode:04o}, fsync, rename over {dest}; record sha256"
        )),
        // A subshell, not `sh -c '...'`: the command stays the plan's own text, so its
        // secret references become variables of this script (see `secret_refs`).
        StepKind::WaitFor { run, interval } => Script::Remote(format!(
            "until (\n{run}\n); do sleep {}; done",
            interval.as_secs_f64()
        )),
        StepKind::Local { argv } => Script::Local(argv.clone()),
    }
}

fn describe_edit(edit: &crate::plan::model::Edit) -> String {
    use crate::plan::model::Edit;
    match edit {
        Edit::Replace { pattern, with, .. } => format!("replace /{pattern}/ with {with:?}"),
        Edit::SetKeys { format, keys } => {
            let kv: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("set {format:?} keys {}", kv.join(", "))
        }
        Edit::Template { .. } => "the template, rendered with the host's variables".to_string(),
    }
}

/// The script for a read-only check (checks `http` and `tcp` run on the orchestrator).
pub fn check(kind: &CheckKind) -> Script {
    match kind {
        CheckKind::Clock { .. } => Script::Remote(
            "timedatectl show -p NTPSynchronized -p Timezone 2>/dev/null || chronyc tracking 2>/dev/null || true\ncat /etc/timezone 2>/dev/null || readlink /etc/localtime"
                .to_string(),
        ),
        CheckKind::Sudo => Script::Remote("sudo -n true\necho 'sudo -n true' | env -i PATH=/usr/bin:/bin sh".to_string()),
        CheckKind::Scheduler { mechanism } => Script::Remote(scheduler_probe(*mechanism)),
        CheckKind::Service { unit, .. } => {
            let u = quote(unit);
            Script::Remote(format!("systemctl is-active {u}; systemctl is-enabled {u}; true"))
        }
        CheckKind::AgentDisabled { unit, cron_pattern } => {
            let u = quote(unit);
            let mut s = format!("systemctl is-active {u}; systemctl is-enabled {u}");
            if let Some(p) = cron_pattern {
                s.push_str(&format!("\n( crontab -l 2>/dev/null; cat /etc/crontab /etc/cron.d/* 2>/dev/null ) | grep -F -- {} || true", quote(p)));
            }
            Script::Remote(s + "\ntrue")
        }
        CheckKind::File { path, .. } => Script::Remote(format!("sha256sum -- {p}\ncat -- {p}", p = quote(path))),
        CheckKind::Command { run, .. } => Script::Remote(run.clone()),
        CheckKind::Http { url, .. } => Script::Local(vec!["GET".into(), url.clone()]),
        CheckKind::Tcp { port } => Script::Local(vec!["connect".into(), format!("<host address>:{port}")]),
    }
}

fn scheduler_probe(m: Mechanism) -> String {
    crate::arm::mechanism::probe_script(m)
}

/// How the action's command is invoked when it fires (with `sudo -n` when asked).
pub fn fired_command(run: &str, sudo: bool) -> String {
    if sudo {
        format!("sudo -n sh -c {}", quote(run))
    } else {
        run.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_cannot_inject_shell() {
        let s = step(&StepKind::DisableService {
            unit: "x; touch /tmp/pwned".into(),
        });
        let Script::Remote(s) = s else { panic!() };
        assert!(s.contains("'x; touch /tmp/pwned'"));
        let w = step(&StepKind::WaitFor {
            run: "test -f $(touch /tmp/p)".into(),
            interval: Duration::from_secs(2),
        });
        assert_eq!(
            w,
            Script::Remote("until (\ntest -f $(touch /tmp/p)\n); do sleep 2; done".into())
        );
    }

    #[test]
    fn fired_command_goes_through_sudo_without_prompt() {
        assert_eq!(
            fired_command("systemctl restart consul", true),
            "sudo -n sh -c 'systemctl restart consul'"
        );
        assert_eq!(fired_command("true", false), "true");
    }
}
