//! Arm, verify and disarm scripts for each mechanism, and parsers for what they print.
//!
//! Each script prints one `armed=<id>` / `verified` / `disarmed` line the shell looks for, so a
//! host that prints anything else (or nothing) is never taken as armed.

use crate::plan::model::Mechanism;
use crate::remote::quote;
use chrono::{DateTime, Utc};

/// The scripts for one concrete mechanism (`auto` is resolved per host before this); the
/// journal names it as the plan does (`systemd`, `at`, `waiter`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Concrete {
    /// systemd-run transient timer.
    Systemd,
    /// at / atd.
    At,
    /// A detached sleeper.
    Waiter,
}

impl Concrete {
    /// The plan's (and the journal's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Concrete::Systemd => "systemd",
            Concrete::At => "at",
            Concrete::Waiter => "waiter",
        }
    }

    /// Who bounds this mechanism's verify and disarm scripts on the host: a waiter's are file
    /// reads and writes and a signal, bounded by themselves; systemd's and `at`'s ask a
    /// daemon, which can hang, so they run under `timeout`.
    pub fn limit(self) -> crate::transport::Limit {
        match self {
            Concrete::Waiter => crate::transport::Limit::Script,
            Concrete::Systemd | Concrete::At => crate::transport::Limit::Remote,
        }
    }

    /// From the plan's mechanism; `None` for `auto`.
    pub fn from_plan(m: Mechanism) -> Option<Self> {
        match m {
            Mechanism::Systemd => Some(Concrete::Systemd),
            Mechanism::At => Some(Concrete::At),
            Mechanism::Waiter => Some(Concrete::Waiter),
            Mechanism::Auto => None,
        }
    }
}

impl std::fmt::Display for Concrete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `auto`: prefer systemd timers (microsecond accuracy), then the waiter; `at` only when asked
/// (minute resolution). Input: what [`auto_script`] printed on the host.
pub fn pick_auto(probe_stdout: &str) -> Concrete {
    match probe_stdout.lines().any(|l| l.trim() == "auto=systemd") {
        true => Concrete::Systemd,
        false => Concrete::Waiter,
    }
}

/// Decides `auto` on a host by doing what arming a systemd timer does, as the same user and
/// through the same `sudo -n`: `systemd-run` being installed is not enough (a non-root user
/// without sudo gets "Access denied" from the system manager). Prints `auto=systemd` or
/// `auto=waiter`.
pub fn auto_script() -> String {
    format!(
        "if ( {} ) >/dev/null 2>&1; then echo auto=systemd; else echo auto=waiter; fi",
        probe_script(crate::plan::model::Mechanism::Systemd)
    )
}

/// The systemd unit name for a run.
pub fn unit_name(run_id: &str) -> String {
    format!("cutover-{run_id}")
}

/// The arming script; `dir` holds the installed `job.sh`. It refuses to arm once the host's
/// clock passes `deadline`: an arming command delayed past the deadline (a slow host, a
/// cancelled session) must not arm after the orchestrator has given up and disarmed. The
/// waiter checks the deadline itself as it starts (no `date` process on the way).
pub fn arm_script(
    m: Concrete,
    run_id: &str,
    dir: &str,
    at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> String {
    match m {
        Concrete::Waiter => arm_body(m, run_id, dir, (at, deadline)),
        Concrete::Systemd | Concrete::At => format!(
            "[ \"$(date +%s)\" -lt {} ] || {{ echo '{DEADLINE_PASSED}' >&2; exit 1; }}\n{}",
            deadline.timestamp(),
            arm_body(m, run_id, dir, (at, deadline))
        ),
    }
}

/// What a host says when a disarm came while its waiter was starting: the waiter writes
/// its pid before it looks for the tombstone, and a disarm writes the tombstone before it
/// reads the pid, so one of them always sees the other and no waiter outlives a disarm.
const DISARMED_WHILE_ARMING: &str =
    "cutover: the run was disarmed on this host while it was being armed; the waiter stopped";

/// What a host says when arming reached it after the deadline.
const DEADLINE_PASSED: &str = "cutover: the arming deadline has passed; refusing to arm";

/// Install, arm and verify in one command (one round trip, one shell on the host instead of
/// three): the wrapper is written (the script stops at a failed write), the job armed, and
/// the job checked to be queued. Prints `armed=<id>` then `verified`. The wrapper's bytes
/// are proved by hash at T-minus and on resume ([`verify_script`]); hashing them here, in
/// the script that has just written them, cost a process per host and proved nothing more.
/// Travels on stdin (the wrapper may carry the action's secrets), never on a command line.
pub fn prepare_script(
    m: Concrete,
    run_id: &str,
    dir: &str,
    wrapper: &str,
    times: (DateTime<Utc>, DateTime<Utc>),
    rearm: bool,
) -> String {
    let (at, deadline) = times;
    format!(
        "{}\n{}\n{}\necho verified",
        crate::arm::job::install_body(dir, wrapper, rearm),
        arm_script(m, run_id, dir, at, deadline),
        queued_check(m, run_id, dir)
    )
}

/// The mechanism's own arming, for `times`: the fire time and the arming deadline.
fn arm_body(m: Concrete, run_id: &str, dir: &str, times: (DateTime<Utc>, DateTime<Utc>)) -> String {
    let (at, deadline) = times;
    let d = quote(dir);
    match m {
        Concrete::Systemd => format!(
            "{SUDO}out=$($s systemd-run --unit={unit} --description={desc} --uid=\"$(id -u)\" --gid=\"$(id -g)\" --on-calendar={cal} --timer-property=AccuracySec=1us --timer-property=Persistent=false --timer-property=RemainAfterElapse=yes --property=Type=oneshot /bin/sh {d}/job.sh 2>&1) || {{ echo \"cutover: systemd-run: $out\" >&2; exit 1; }}\necho armed={unit}",
            unit = unit_name(run_id),
            desc = quote(&format!("cutover {run_id}")),
            cal = quote(&on_calendar(at)),
        ),
        Concrete::At => format!(
            "out=$(echo \"/bin/sh {d}/job.sh\" | TZ=UTC at -t {t} 2>&1) || {{ echo \"$out\" >&2; exit 1; }}\njob=$(echo \"$out\" | sed -n 's/^job \\([0-9][0-9]*\\) at .*/\\1/p')\n[ -n \"$job\" ] || {{ echo \"$out\" >&2; exit 1; }}\necho \"$job\" > {d}/at.job\necho armed=$job",
            t = at.format("%Y%m%d%H%M.%S"),
        ),
        // The waiter says its own pid on stdout (then closes it), so a waiter started by
        // `setsid` is known the moment it runs, with no polling; one started as a systemd
        // unit writes it to `waiter.pid`, which is polled. Its niceness is read from
        // `/proc` by the shell itself: no process but the waiter's own is started.
        Concrete::Waiter => format!(
            "fire={fire}\nbase=0\nif read -r st < /proc/$$/stat 2>/dev/null; then set -- ${{st##*) }}; base=${{17:-0}}; fi\nif command -v bash >/dev/null 2>&1; then\nset -- bash -c '{BASH_WAITER}'; prio=-10\nelse\nset -- sh -c '{SH_WAITER}'; prio=\nfi\nif {SYSTEMD_BOOTED}; then\n{SUDO}$s systemctl reset-failed {unit}.service >/dev/null 2>&1\nesc=$(printf '%s' \"$3\" | sed 's/\\$/$$/g')\nout=$($s systemd-run --quiet --collect --unit={unit} --property=StandardOutput=null --uid=\"$(id -u)\" --gid=\"$(id -g)\" ${{prio:+--nice=$prio}} -- \"$1\" \"$2\" \"$esc\" {unit} {d} \"$fire\" \"$base\" {deadline} 2>&1) || {{ echo \"cutover: systemd-run: $out\" >&2; exit 1; }}\ni=0\nwhile [ ! -s {d}/waiter.pid ] && [ $i -lt {polls} ]; do sleep 0.05; i=$((i+1)); done\npid=\nread -r pid < {d}/waiter.pid 2>/dev/null\nelse\npid=$(setsid ${{prio:+nice -n $prio}} \"$@\" {unit} {d} \"$fire\" \"$base\" {deadline} </dev/null 2>/dev/null &)\nfi\ncase \"$pid\" in\nlate) rm -f {d}/waiter.pid; echo '{DEADLINE_PASSED}' >&2; exit 1;;\ndisarmed) echo '{DISARMED_WHILE_ARMING}' >&2; exit 1;;\n''|*[!0-9]*) echo 'cutover: the waiter did not start within {secs} s (a host this busy may fire late)' >&2; exit 1;;\nesac\necho armed=$pid",
            fire = at.timestamp_nanos_opt().unwrap_or(i64::MAX),
            deadline = deadline.timestamp(),
            unit = waiter_name(run_id),
            polls = WAITER_START_POLLS,
            secs = WAITER_START_POLLS / 20,
        ),
    }
}

/// Polls (50 ms apart) for a new waiter to write its pid: 10 s. A loaded host can take
/// seconds to start `bash`; one second was too short on the 2-core lab at 2,000 hosts, where
/// the arm command then exited 1 with no word and all or nothing disarmed the fleet.
const WAITER_START_POLLS: u32 = 200;

/// Polls (50 ms apart) for a signalled waiter to be gone: 5 s. On a host this loaded (or a lab
/// of hundreds of hosts on one machine) a waiter can take over a second to be scheduled and
/// die; giving up sooner reports a host as "may still fire" that was about to be disarmed.
const WAITER_STOP_POLLS: u32 = 100;

/// Sets `$s` to the prefix that reaches the system manager as this user: nothing for root,
/// `sudo -n` (never a prompt) for anyone else. Arming and the `scheduler` preflight share it.
const SUDO: &str = "if [ \"$(id -u)\" = 0 ]; then s=; else s='sudo -n'; fi\n";

/// systemd expands `$` in a unit's command line (`$$` is a literal `$`) and systemd-run before
/// v254 cannot turn that off, so the waiter's script (`$3` of `set -- bash -c SCRIPT`) goes to
/// systemd-run with every `$` doubled; systemd hands bash the script exactly as written.
///
/// Whether the host booted with systemd (`sd_booted()`'s test) and has `systemd-run`: then a
/// waiter starts as a transient system unit, outside any login session, so logind's
/// `KillUserProcesses=yes` cannot kill it when the SSH connection closes.
const SYSTEMD_BOOTED: &str = "[ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1";

/// The waiter's process and unit name for a run: what verify and disarm look for.
pub fn waiter_name(run_id: &str) -> String {
    format!("cutover-waiter-{run_id}")
}

/// `OnCalendar=` for the fire time, to the microsecond (systemd accepts fractional seconds):
/// a timer written to whole seconds would fire up to a second early.
pub fn on_calendar(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

/// The `scheduler` preflight: does, as the same user, what arming will do, and prints why not.
/// `systemd`: a running (or `degraded`) manager that accepts a transient timer through `$s`;
/// `waiter`: the same transient unit where systemd is booted, `setsid` elsewhere; `at`: `at`
/// and a queue this user may read.
pub fn probe_script(m: crate::plan::model::Mechanism) -> String {
    use crate::plan::model::Mechanism as M;
    let systemd_state = "st=$(systemctl is-system-running 2>/dev/null)\ncase \"$st\" in running|degraded) ;; *) echo \"systemd is '$st', not running or degraded\"; exit 1 ;; esac\n";
    let unit = "u=cutover-preflight-$$-$(date +%s)\n";
    match m {
        M::Systemd => format!(
            "command -v systemd-run >/dev/null || {{ echo 'systemd-run not found'; exit 1; }}\n{systemd_state}{SUDO}{unit}out=$($s systemd-run --quiet --unit=$u --uid=\"$(id -u)\" --gid=\"$(id -g)\" --on-calendar='2099-01-01 00:00:00.000001 UTC' --timer-property=AccuracySec=1us /bin/true 2>&1) || {{ echo \"cannot arm a transient timer as $(id -un): $out\"; exit 1; }}\n$s systemctl stop $u.timer >/dev/null 2>&1\necho ok"
        ),
        M::Waiter => format!(
            "if {SYSTEMD_BOOTED}; then\n{SUDO}{unit}out=$($s systemd-run --quiet --collect --wait --unit=$u --uid=\"$(id -u)\" --gid=\"$(id -g)\" /bin/true 2>&1) || {{ echo \"cannot start a transient unit as $(id -un): $out\"; exit 1; }}\nelse\ncommand -v setsid >/dev/null && command -v sleep >/dev/null || {{ echo 'setsid or sleep not found'; exit 1; }}\nfi\necho ok"
        ),
        M::At => "command -v at >/dev/null || { echo 'at not found'; exit 1; }\nout=$(atq 2>&1) || { echo \"atq as $(id -un): $out\"; exit 1; }\nif [ -d /run/systemd/system ]; then systemctl is-active atd >/dev/null || { echo 'atd is not active'; exit 1; }; fi\necho ok".into(),
        // What `auto` will pick must work: a usable systemd timer, else the waiter's check.
        M::Auto => format!(
            "if ( {} ) >/dev/null 2>&1; then echo ok; exit 0; fi\n{}",
            probe_script(M::Systemd),
            probe_script(M::Waiter)
        ),
    }
}

/// The waiter where bash is installed. Arguments: 0 its name, 1 the job dir, 2 the fire time
/// in ns, 3 the niceness it was armed with, 4 the arming deadline (epoch s). Past the
/// deadline it says `late` and exits. Otherwise it records its pid in its file, and then,
/// if the run's tombstone is there (a disarm came while it started), says `disarmed` and
/// exits; if not, it says its pid on stdout and closes it, then waits with `read -t` on a pipe
/// nobody writes (`3<> <(:)`), a timed wait inside bash itself with no process of its own (a
/// `sleep` child cost every host a process start to arm and a death to disarm), straight to
/// the fire time in slices of at most 30 s (each slice re-reads the clock, so a clock stepped
/// during a long wait is followed), to the microsecond (bash ≥ 5, `$EPOCHREALTIME`; bash 4
/// reads `date` each round). `trap : CONT` keeps a stopped waiter exact: without it, a `read
/// -t` restarts its whole timeout when a stopped bash is continued (a paused or busy host
/// would wake up to one slice late); with it, it wakes at its deadline, or at once when
/// continued past it. A `read` that ends without timing out (no such pipe) `sleep`s the slice
/// rather than spin. The clock
/// read that ends the loop is the wake time, taken with no fork or exec after the wait (bash
/// ≥ 5), and handed to the job wrapper. It waits at a raised priority (`nice -n -10`, where allowed: root) so
/// that on a busy host the wake is not queued behind other work, and hands the job back the
/// niceness it was armed with, so the action itself runs at normal priority.
/// No single quotes: it is quoted in `'…'`.
const BASH_WAITER: &str = "d=$1; base=${3:-0}; now=${EPOCHSECONDS:-$(date +%s)}; if (( now >= $4 )); then echo late > \"$d/waiter.pid\"; echo late; exit 1; fi; read -r -a st < /proc/$$/stat 2>/dev/null; n=${st[18]:-$base}; echo $$ > \"$d/waiter.pid\"; if [ -e \"$d/disarmed\" ]; then echo disarmed; exit 1; fi; echo $$; exec >/dev/null; exec 3<> <(:) || exit 1; trap : CONT; fire_us=$(( $2 / 1000 )); while :; do if [ -n \"$EPOCHREALTIME\" ]; then now=${EPOCHREALTIME//[!0-9]/}; else now=$(( $(date +%s%N) / 1000 )); fi; rem=$(( fire_us - now )); (( rem <= 0 )) && break; (( rem > 30000000 )) && rem=30000000; printf -v t \"%d.%06d\" $(( rem / 1000000 )) $(( rem % 1000000 )); read -r -t \"$t\" -u 3 _; (( $? > 128 )) || sleep \"$t\"; done; woke=${now}000; exec 3>&-; (( n < base )) && exec nice -n $(( base - n )) /bin/sh \"$d/job.sh\" $woke; exec /bin/sh \"$d/job.sh\" $woke";

/// The POSIX sh waiter for hosts without bash (the same arguments): `sleep` to about a second
/// before, then a fractional `sleep`; the job wrapper reads the wake time itself.
const SH_WAITER: &str = "d=$1; fire=$2; [ \"$(date +%s)\" -lt \"$4\" ] || { echo late > \"$d/waiter.pid\"; echo late; exit 1; }; echo $$ > \"$d/waiter.pid\"; if [ -e \"$d/disarmed\" ]; then echo disarmed; exit 1; fi; echo $$; exec >/dev/null; while :; do now=$(date +%s%N); rem=$((fire - now)); [ \"$rem\" -le 0 ] && break; if [ \"$rem\" -gt 2000000000 ]; then sleep $(( (rem - 1000000000) / 1000000000 )); else sleep \"$(printf \"%d.%09d\" $((rem / 1000000000)) $((rem % 1000000000)))\"; fi; done; exec /bin/sh \"$d/job.sh\"";

/// The verification script: prints `verified` only if the job is queued and its wrapper hash matches.
pub fn verify_script(m: Concrete, run_id: &str, dir: &str, job_sha: &str) -> String {
    let d = quote(dir);
    let hash = format!(
        "echo '{job_sha}  '{d}/job.sh | sha256sum -c --status || {{ echo 'job.sh changed' >&2; exit 1; }}"
    );
    format!("{hash}\n{}\necho verified", queued_check(m, run_id, dir))
}

/// The part of [`verify_script`] that checks the job is still queued (or its waiter still
/// running), by the mechanism's own means.
fn queued_check(m: Concrete, run_id: &str, dir: &str) -> String {
    let d = quote(dir);
    // Each says on stderr what is gone: the T-minus check shows it as the host's reason.
    match m {
        Concrete::Systemd => format!(
            "st=$(systemctl show -p ActiveState --value {u}.timer 2>/dev/null)\n[ \"$st\" = active ] || {{ echo \"timer {u}.timer is no longer active (${{st:-unknown}}): stopped, or lost in a reboot\" >&2; exit 1; }}",
            u = unit_name(run_id)
        ),
        Concrete::At => format!(
            "job=$(cat {d}/at.job) && atq | awk '{{print $1}}' | grep -qx \"$job\" && at -c \"$job\" | grep -qF {d}/job.sh || {{ echo \"at job ${{job:-?}} is no longer queued (removed, or lost with the spool)\" >&2; exit 1; }}"
        ),
        Concrete::Waiter => format!(
            "{ours}\nread -r pid < {d}/waiter.pid && ours \"$pid\" || {{ echo \"waiter ${{pid:-?}} is no longer running (killed, or lost in a reboot)\" >&2; exit 1; }}",
            ours = ours_fn(run_id, dir)
        ),
    }
}

/// A shell function `ours PID`: whether PID is this run's waiter, by shell builtins only.
/// `read` drops the NULs between a process's arguments, so the waiter's name runs straight
/// into its directory (its next argument), which no other run's waiter can match: the name
/// `cutover-waiter-r1` followed by `/var/tmp/cutover/r1` is not inside `…-r10/…/r10`.
fn ours_fn(run_id: &str, dir: &str) -> String {
    format!(
        "ours() {{ c=; IFS= read -r c < /proc/$1/cmdline 2>/dev/null; case \"$c\" in *'{w}'{d}*) return 0;; esac; return 1; }}",
        w = waiter_name(run_id),
        d = quote(dir)
    )
}

/// What a waiter's disarm waits for once the tombstone is down and the waiter signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// Nothing: the tombstone alone keeps the job from acting. The waiter's process is
    /// checked to still be the waiter (not yet the job) only after the tombstone is written,
    /// and the job reads the tombstone after it starts, so a waiter that takes a moment to
    /// die can no longer act. Aborting a run and `cutover disarm`: no `sleep` per host.
    Signalled,
    /// Until the waiter is gone (up to 5 s): before a re-arm, which clears the tombstone, an
    /// old waiter must be gone, or it would wake to the new run's commit.
    Gone,
}

/// The disarm script: idempotent; prints `disarmed` only when nothing remains queued.
pub fn disarm_script(m: Concrete, run_id: &str, dir: &str, reap: Reap) -> String {
    let d = quote(dir);
    let body = match m {
        Concrete::Systemd => {
            // The timer only: stopping the `.service` would kill an action already running.
            let u = unit_name(run_id);
            format!(
                "{SUDO}$s systemctl stop {u}.timer 2>/dev/null || true\n$s systemctl reset-failed {u}.timer 2>/dev/null || true\n[ \"$(systemctl show -p ActiveState --value {u}.timer 2>/dev/null)\" != active ] || exit 1"
            )
        }
        Concrete::At => format!(
            "if [ -s {d}/at.job ]; then job=$(cat {d}/at.job); atrm \"$job\" 2>/dev/null || true; ! atq | awk '{{print $1}}' | grep -qx \"$job\" || exit 1; fi"
        ),
        // The waiter leads its own process group (setsid): the group is signalled, so its
        // `sleep` goes too (`kill -TERM -PID`: dash, Debian's `sh`, refuses `kill -- -PID`,
        // which left every waiter's `sleep` running until its time was up).
        // Forks are what a disarm of thousands of hosts at once costs: the pid is read,
        // checked to be this run's waiter and its liveness judged with shell builtins (a
        // zombie counts as gone); only waiting for it to go (`Reap::Gone`) forks (`sleep`).
        Concrete::Waiter => {
            let wait = match reap {
                Reap::Signalled => String::new(),
                Reap::Gone => format!(
                    " i=0; while alive \"$pid\" && [ $i -lt {WAITER_STOP_POLLS} ]; do sleep 0.05; i=$((i+1)); done; alive \"$pid\" && exit 1;"
                ),
            };
            format!(
                "{ours}\nalive() {{ IFS= read -r st < /proc/$1/stat 2>/dev/null || return 1; case \"${{st##*) }}\" in Z*|X*) return 1;; esac; }}\nif [ -s {d}/waiter.pid ] && read -r pid < {d}/waiter.pid && ours \"$pid\"; then kill -TERM -\"$pid\" 2>/dev/null || kill -TERM \"$pid\";{wait} fi",
                ours = ours_fn(run_id, dir)
            )
        }
    };
    // The tombstone first: a job that wakes later anyway (an arming command that finished
    // after the orchestrator gave up, a waiter still dying) sees it and does not act. A job
    // that woke before it was written keeps `receipt.tmp` until it has decided (and moves it
    // to `receipt` before it acts): wait for that decision (5 s) rather than call it disarmed.
    format!(
        "{{ [ -d {d} ] || mkdir -p -m 0700 {d}; }} && : > {d}/disarmed || exit 1\n{body}\ni=0; while [ -e {d}/receipt.tmp ] && [ $i -lt {WAITER_STOP_POLLS} ]; do sleep 0.05; i=$((i+1)); done\n[ ! -e {d}/receipt.tmp ] || {{ echo 'cutover: a job woke and has not recorded whether it acts' >&2; exit 1; }}\n[ -e {d}/receipt ] && ! grep -q '^skipped=' {d}/receipt && echo 'already fired' >&2 && exit 2\necho disarmed"
    )
}

/// The script that prints the receipt (empty when the job has not written one). The receipt
/// (`key=value` lines) is printed by shell builtins; `cat` runs only for an output tail.
pub fn collect_script(dir: &str) -> String {
    let d = quote(dir);
    format!(
        "[ ! -e {d}/receipt ] || while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done < {d}/receipt\necho '--- output tail'\n[ ! -s {d}/output.tail ] || cat {d}/output.tail\ntrue"
    )
}

/// The armed id a successful arm script printed (`armed=<id>`), if any.
pub fn parse_armed(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("armed="))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// Parses `systemctl show -p ActiveState -p NextElapseUSecRealtime ...` key=value output.
pub fn parse_systemctl_show(stdout: &str) -> std::collections::BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Job ids in `atq` output (`5\tThu Jan 14 02:20:00 2027 a root`).
pub fn parse_atq(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 14, 2, 20, 0).unwrap()
    }

    #[test]
    fn systemd_timer_is_accurate_to_the_microsecond_through_sudo_and_not_persistent() {
        let at = at() + chrono::Duration::microseconds(250_001);
        let s = arm_body(Concrete::Systemd, "r1", "/var/tmp/cutover/r1", (at, at));
        assert!(s.starts_with(SUDO), "{s}");
        assert!(
            s.contains("out=$($s systemd-run --unit=cutover-r1 --description='cutover r1' --uid=\"$(id -u)\" --gid=\"$(id -g)\" --on-calendar='2027-01-14 02:20:00.250001 UTC' --timer-property=AccuracySec=1us --timer-property=Persistent=false"),
            "{s}"
        );
        assert!(s.ends_with("echo armed=cutover-r1"));
    }

    #[test]
    fn disarm_stops_the_timer_never_the_service() {
        let s = disarm_script(Concrete::Systemd, "r1", "/d", Reap::Gone);
        assert!(s.contains("$s systemctl stop cutover-r1.timer "), "{s}");
        assert!(!s.contains(".service"), "{s}");
    }

    #[test]
    fn probes_accept_degraded_and_arm_as_the_same_user() {
        use crate::plan::model::Mechanism as M;
        let p = probe_script(M::Systemd);
        assert!(
            p.contains("running|degraded)") && p.contains("$s systemd-run"),
            "{p}"
        );
        assert!(probe_script(M::Waiter).contains(SYSTEMD_BOOTED));
    }

    #[test]
    fn at_runs_in_utc_and_records_its_job() {
        let s = arm_script(Concrete::At, "r1", "/var/tmp/cutover/r1", at(), at());
        assert!(s.contains("TZ=UTC at -t 202701140220.00"), "{s}");
        assert!(s.contains("at.job"));
    }

    #[test]
    fn waiter_is_detached_and_named_for_its_run() {
        let s = arm_body(Concrete::Waiter, "r1", "/var/tmp/cutover/r1", (at(), at()));
        assert!(s.starts_with(&format!("fire={}\n", at().timestamp_nanos_opt().unwrap())));
        assert!(s.contains("set -- bash -c 'd=$1;") && s.contains("set -- sh -c 'd=$1;"));
        assert!(
            s.contains(&format!("if {SYSTEMD_BOOTED}; then\n{SUDO}")),
            "{s}"
        );
        assert!(
            s.contains("$s systemd-run --quiet --collect --unit=cutover-waiter-r1 --property=StandardOutput=null --uid=\"$(id -u)\" --gid=\"$(id -g)\" ${prio:+--nice=$prio} -- \"$1\" \"$2\" \"$esc\" cutover-waiter-r1 /var/tmp/cutover/r1 \"$fire\" \"$base\""),
            "{s}"
        );
        assert!(s.contains(
            "pid=$(setsid ${prio:+nice -n $prio} \"$@\" cutover-waiter-r1 /var/tmp/cutover/r1 \"$fire\""
        ));
        let setsid = &s[s.find("else\npid=$(setsid").unwrap()..];
        assert!(
            !setsid.contains("sleep"),
            "only the systemd path polls: {setsid}"
        );
        assert!(!BASH_WAITER.contains('\'') && !SH_WAITER.contains('\''));
        assert!(
            !BASH_WAITER.contains("mkfifo")
                && BASH_WAITER.matches("sleep").count() == 1
                && BASH_WAITER.contains("(( $? > 128 )) || sleep"),
            "the wait starts no process (only a read that cannot wait sleeps)"
        );
        let (wait, wake) = (
            BASH_WAITER.find("read -r -t").unwrap(),
            BASH_WAITER.find("woke=${now}").unwrap(),
        );
        assert!(
            wait < wake && !BASH_WAITER[wait..wake].contains("$("),
            "no fork between the fine wait and reading the wake time"
        );
        // The loop reads the clock first thing, and with bash 5 by a builtin.
        let (top, clock) = (
            BASH_WAITER.find("while :; do").unwrap(),
            BASH_WAITER.find("then now=${EPOCHREALTIME").unwrap(),
        );
        assert!(top < clock && !BASH_WAITER[top..clock].contains("$("));
    }

    #[test]
    fn arming_refuses_after_the_deadline() {
        let deadline = at() - chrono::Duration::seconds(120);
        let s = arm_script(Concrete::Systemd, "r1", "/d", at(), deadline);
        assert!(
            s.starts_with(&format!(
                "[ \"$(date +%s)\" -lt {} ] || ",
                deadline.timestamp()
            )),
            "{s}"
        );
        // The waiter checks it as it starts, and says `late`.
        let s = arm_script(Concrete::Waiter, "r1", "/d", at(), deadline);
        assert!(
            s.contains(&format!("\"$base\" {} </dev/null", deadline.timestamp())),
            "{s}"
        );
        assert!(BASH_WAITER.contains("if (( now >= $4 )); then echo late"));
        assert!(SH_WAITER.contains("-lt \"$4\" ] || { echo late"));
        assert!(
            s.contains("late) rm -f /d/waiter.pid; echo 'cutover: the arming deadline has passed"),
            "{s}"
        );
    }

    #[test]
    fn the_receipt_is_read_whole_with_or_without_a_tail() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let run = || {
            let out = std::process::Command::new("sh")
                .args(["-c", &collect_script(&d)])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert_eq!(run(), "--- output tail\n");
        std::fs::write(dir.path().join("receipt"), "planned_ns=1\nexit=0").unwrap();
        assert_eq!(run(), "planned_ns=1\nexit=0\n--- output tail\n");
        std::fs::write(dir.path().join("output.tail"), "a\\b $x\n").unwrap();
        assert_eq!(run(), "planned_ns=1\nexit=0\n--- output tail\na\\b $x\n");
    }

    #[test]
    fn only_an_explicit_armed_line_counts() {
        assert_eq!(parse_armed("noise\narmed=17\n"), Some("17".into()));
        assert_eq!(parse_armed("armed=\n"), None);
        assert_eq!(parse_armed(""), None);
    }

    #[test]
    fn parses_systemctl_show_and_atq() {
        let m = parse_systemctl_show(
            "ActiveState=active\nNextElapseUSecRealtime=Thu 2027-01-14 02:20:00 UTC\n",
        );
        assert_eq!(m["ActiveState"], "active");
        assert_eq!(
            parse_atq("5\tThu Jan 14 02:20:00 2027 a root\n12\tThu Jan 14 02:21:00 2027 a root\n"),
            vec![5, 12]
        );
    }

    #[test]
    fn auto_prefers_systemd_timers_it_can_arm() {
        assert_eq!(pick_auto("auto=systemd\n"), Concrete::Systemd);
        assert_eq!(pick_auto("auto=waiter\n"), Concrete::Waiter);
        assert_eq!(pick_auto("/usr/bin/systemd-run\n"), Concrete::Waiter);
    }

    /// On a host where `systemd-run` exists but cannot reach a system manager (this test
    /// machine, or a non-root user without sudo), `auto` falls back to the waiter.
    #[test]
    fn auto_falls_back_to_the_waiter_when_no_timer_can_be_armed() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("systemd-run");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'Failed to connect to bus: Access denied' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &auto_script()])
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(
            pick_auto(&String::from_utf8_lossy(&out.stdout)),
            Concrete::Waiter,
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// `Reap::Signalled` returns without waiting for the waiter to die: the tombstone is down
    /// before the waiter is checked, so the job it would become sees it. A job that woke
    /// before the tombstone is waited for until it records its decision, and a job that
    /// decided to act is reported as fired, never as disarmed.
    #[test]
    fn a_signalled_disarm_leaves_a_tombstone_and_waits_for_a_job_deciding() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let run = |script: String| {
            std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap()
        };
        let plain = run(disarm_script(Concrete::Waiter, "r1", &d, Reap::Signalled));
        assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), "disarmed");
        assert!(
            dir.path().join("disarmed").exists(),
            "the tombstone comes first"
        );
        assert!(
            !disarm_script(Concrete::Waiter, "r1", &d, Reap::Signalled)
                .contains("alive \"$pid\" &&")
        );

        // A job between its wake and its decision: it acts (moves receipt.tmp to receipt).
        let tmp = dir.path().join("receipt.tmp");
        std::fs::write(&tmp, "planned_ns=1\nwoke_ns=2\n").unwrap();
        let (from, to) = (tmp.clone(), dir.path().join("receipt"));
        let decide = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::rename(from, to).unwrap();
        });
        let fired = run(disarm_script(Concrete::Waiter, "r1", &d, Reap::Signalled));
        decide.join().unwrap();
        assert_eq!(fired.status.code(), Some(2), "{fired:?}");
        assert!(String::from_utf8_lossy(&fired.stderr).contains("already fired"));
    }

    /// A stand-in waiter, `sh -c SCRIPT sh NAME DIR` (its name then its directory, as verify
    /// and disarm match them), its pid in `DIR/waiter.pid`; killed and reaped on drop.
    struct FakeWaiter(std::process::Child);

    impl FakeWaiter {
        fn start(script: &str, name: &str, dir: &str, own_group: bool) -> Self {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", script, "sh", name, dir]);
            if own_group {
                cmd.process_group(0);
            }
            let waiter = FakeWaiter(cmd.spawn().unwrap());
            std::fs::write(format!("{dir}/waiter.pid"), format!("{}\n", waiter.0.id())).unwrap();
            waiter
        }
    }

    impl Drop for FakeWaiter {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// The waiter leads its process group; disarming signals the group, so its `sleep`
    /// child goes with it, under dash (Debian's `sh`) as under bash.
    #[test]
    fn disarm_takes_the_waiters_sleep_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let script = "sleep 300 & echo $! > \"$2/sleep.pid\"; wait";
        let waiter = FakeWaiter::start(script, "cutover-waiter-r7", &d, true);
        let sleep_pid = (0..100)
            .find_map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::fs::read_to_string(dir.path().join("sleep.pid")).ok()
            })
            .unwrap();
        for shell in ["sh", "bash"] {
            let out = std::process::Command::new(shell)
                .args(["-c", &disarm_script(Concrete::Waiter, "r7", &d, Reap::Gone)])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "disarmed",
                "{shell}"
            );
        }
        drop(waiter);
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", sleep_pid.trim()))
                .unwrap_or_default();
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
        });
        if !gone {
            let _ = std::process::Command::new("kill")
                .arg(sleep_pid.trim())
                .status();
        }
        assert!(
            gone,
            "the waiter's sleep {} outlived its disarm",
            sleep_pid.trim()
        );
    }

    /// A waiter of run `r10` is not one of run `r1`: the name is matched whole, so a pid
    /// reused by another run's waiter never passes verify or gets killed by disarm.
    #[test]
    fn a_waiter_is_matched_by_its_whole_run_name() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let other = FakeWaiter::start("sleep 30; :", "cutover-waiter-r10", &d, false);
        let pid = other.0.id();
        std::fs::write(dir.path().join("job.sh"), "true\n").unwrap();
        let real_sha = {
            use sha2::Digest;
            let h = sha2::Sha256::digest(b"true\n");
            h.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let verify = |run: &str| {
            let script = verify_script(Concrete::Waiter, run, &d, &real_sha);
            std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap()
        };
        let theirs = verify("r10");
        assert_eq!(
            String::from_utf8_lossy(&theirs.stdout).trim(),
            "verified",
            "{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert!(!verify("r1").status.success(), "r1 matched r10's waiter");
        assert!(!verify("r").status.success(), "r matched r10's waiter");
        assert!(
            !ours_fn("r1", &d).contains("tr ") && !ours_fn("r1", &d).contains("grep"),
            "the check forks nothing"
        );
        let disarm = disarm_script(Concrete::Waiter, "r1", &d, Reap::Gone);
        let _ = std::process::Command::new("sh")
            .args(["-c", &disarm])
            .output()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        assert!(
            matches!(state, Some('S' | 'R')),
            "disarming r1 killed r10's waiter: {stat}"
        );
        // Its own run's disarm takes it down; left a zombie (nobody reaps it here), it counts
        // as gone.
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &disarm_script(Concrete::Waiter, "r10", &d, Reap::Gone),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "disarmed",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
