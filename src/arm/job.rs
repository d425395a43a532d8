//! The job wrapper every mechanism fires: late guard, wake/start/end times, receipt.

use crate::remote::quote;

/// How late a job may wake and still fire. Past this the job records `skipped=late` instead:
/// a host that was down or suspended must not restart a service minutes after the fleet did
/// (`at` runs missed jobs when atd comes back; systemd's `Persistent=` would too).
pub const MAX_LATE_NS: i64 = 5_000_000_000;

/// What the job needs to know: where its files live, when it should fire, and what to run.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// Per-run directory on the host.
    pub dir: &'a str,
    /// Planned fire time, ns since the epoch (UTC).
    pub fire_ns: i64,
    /// The action, e.g. `sudo -n sh -c 'systemctl restart consul'`.
    pub command: &'a str,
}

/// The wrapper script written to `DIR/job.sh` at arming time.
///
/// Prepare, then commit: the wrapper acts only if the run committed on this host (a
/// `committed` file, written by the commit round once every host is armed and verified) and
/// did not take it back (no `disarmed` tombstone). A job that wakes without its commit
/// records `skipped=uncommitted` and does nothing, so a crash or an abort before the commit
/// round leaves nothing that fires.
///
/// The receipt is `key=value` lines, appended as the job progresses, so a crash mid-action
/// still leaves `woke_ns` and `started_ns` behind. A mechanism that read the clock the moment
/// it woke passes that time (ns) as argument 1; otherwise the wrapper reads it first thing.
pub fn script(job: &Job<'_>) -> String {
    format!(
        "#!/bin/sh\n# cutover job: fires the action once, records a receipt.\nd={dir}\nr=\"$d/receipt\"\nwoke=${{1:-$(date +%s%N)}}\nplanned={fire}\nif [ \"$woke\" -lt \"$planned\" ]; then e=$((planned - woke)); sleep \"$(printf '%d.%09d' $((e / 1000000000)) $((e % 1000000000)))\"; woke=$(date +%s%N); fi\necho \"planned_ns=$planned\" > \"$r.tmp\"\necho \"woke_ns=$woke\" >> \"$r.tmp\"\nif [ -e \"$d/disarmed\" ]; then echo 'skipped=disarmed' >> \"$r.tmp\"; mv \"$r.tmp\" \"$r\"; exit 0; fi\nif [ ! -e \"$d/committed\" ]; then echo 'skipped=uncommitted' >> \"$r.tmp\"; mv \"$r.tmp\" \"$r\"; exit 0; fi\nif [ $((woke - planned)) -gt {late} ]; then echo 'skipped=late' >> \"$r.tmp\"; mv \"$r.tmp\" \"$r\"; exit 0; fi\nmv \"$r.tmp\" \"$r\"\necho \"started_ns=$(date +%s%N)\" >> \"$r\"\n(\n{cmd}\n) > \"$d/output\" 2>&1\nrc=$?\necho \"ended_ns=$(date +%s%N)\" >> \"$r\"\necho \"exit=$rc\" >> \"$r\"\ntail -c 4096 \"$d/output\" > \"$d/output.tail\" 2>/dev/null\necho 'done=1' >> \"$r\"\n",
        dir = quote(job.dir),
        fire = job.fire_ns,
        late = MAX_LATE_NS,
        cmd = job.command,
    )
}

/// The script that installs the wrapper and prints its sha256 (see [`install_body`]).
pub fn install_script(dir: &str, wrapper: &str, rearm: bool) -> String {
    format!(
        "{}\nsum=$(sha256sum \"$d/job.sh\") || exit 1\necho \"${{sum%% *}}\"\n",
        install_body(dir, wrapper, rearm)
    )
}

/// Writes the wrapper to `DIR/job.sh` with shell builtins only (a quoted `printf`, under
/// `umask 077`: never readable by others; the directory is made 0700): on a host that never
/// held this run, no process is started, and each process is a start on every host, which
/// the 10,000-host lab pays on two cores. What an earlier attempt left (receipt, output,
/// commit, waiter pid) is removed with one `rm`, only when there is any.
///
/// A `disarmed` tombstone means the orchestrator took this run back on the host: a first
/// arming refuses (an install still in flight when the run was aborted must not undo the
/// disarm); only a deliberate re-arm (`rearm`, after resume took back what an interrupted
/// attempt left) clears it.
pub fn install_body(dir: &str, wrapper: &str, rearm: bool) -> String {
    let tombstone = if rearm {
        "[ ! -e \"$d/disarmed\" ] || rm -f \"$d/disarmed\" || exit 1\n"
    } else {
        "[ ! -e \"$d/disarmed\" ] || { echo 'cutover: this run was disarmed on this host; refusing to arm' >&2; exit 1; }\n"
    };
    format!(
        "d={d}\n[ -d \"$d\" ] || mkdir -p -m 0700 \"$d\" || exit 1\numask 077\n{tombstone}set --\nfor f in receipt receipt.tmp output output.tail committed waiter.pid job.sh.tmp; do [ ! -e \"$d/$f\" ] || set -- \"$@\" \"$d/$f\"; done\n[ $# -eq 0 ] || rm -f \"$@\" || exit 1\nprintf '%s' {w} > \"$d/job.sh\" || exit 1",
        d = quote(dir),
        w = quote(wrapper),
    )
}

/// The commit round's one write per host: the job becomes live. Refuses a host whose job is
/// missing or that was disarmed (the tombstone wins); prints `committed`.
pub fn commit_script(dir: &str) -> String {
    format!(
        "d={d}\n[ -s \"$d/job.sh\" ] || {{ echo 'cutover: no armed job to commit' >&2; exit 1; }}\n[ ! -e \"$d/disarmed\" ] || {{ echo 'cutover: this run was disarmed on this host' >&2; exit 1; }}\necho committed > \"$d/committed\" && echo committed\n",
        d = quote(dir)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_records_before_it_acts_and_guards_lateness() {
        let s = script(&Job {
            dir: "/var/tmp/cutover/r1",
            fire_ns: 1_800_000_000_000_000_000,
            command: "true",
        });
        let woke = s.find("woke=").unwrap();
        let started = s.find("started_ns").unwrap();
        let act = s.find("(\ntrue\n) > \"$d/output\"").unwrap();
        assert!(woke < started && started < act);
        assert!(s.contains("-gt 5000000000"));
        assert!(
            s.find("$d/disarmed").unwrap() < act,
            "a disarmed job must never act"
        );
        assert!(s.contains("planned=1800000000000000000"));
        let guard = s.find("if [ \"$woke\" -lt \"$planned\" ]").unwrap();
        assert!(
            guard < s.find("echo \"woke_ns").unwrap(),
            "an early wake waits first"
        );
    }
}
