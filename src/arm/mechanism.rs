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
/// cancelled session) must not arm after the orchestrator has given up and disarmed.
pub fn arm_script(
    m: Concrete,
    run_id: &str,
    dir: &str,
    at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> String {
    let guard = format!(
        "[ \"$(date +%s)\" -lt {} ] || {{ echo 'cutover: the arming deadline has passed; refusing to arm' >&2; exit 1; }}\n",
        deadline.timestamp()
    );
    format!("{guard}{}", arm_body(m, run_id, dir, at))
}

fn arm_body(m: Concrete, run_id: &str, dir: &str, at: DateTime<Utc>) -> String {
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
        Concrete::Waiter => format!(
            "fire={fire}\nbase=$(nice 2>/dev/null || echo 0)\nif command -v bash >/dev/null 2>&1 && [ -n \"$(bash -c 'echo $EPOCHREALTIME' 2>/dev/null)\" ]; then\nset -- bash -c '{BASH_WAITER}'; prio=-10\nelse\nset -- sh -c '{SH_WAITER}'; prio=\nfi\nif {SYSTEMD_BOOTED}; then\n{SUDO}$s systemctl reset-failed {unit}.service >/dev/null 2>&1\nesc=$(printf '%s' \"$3\" | sed 's/\\$/$$/g')\nout=$($s systemd-run --quiet --collect --unit={unit} --uid=\"$(id -u)\" --gid=\"$(id -g)\" ${{prio:+--nice=$prio}} -- \"$1\" \"$2\" \"$esc\" {unit} {d} \"$fire\" \"$base\" 2>&1) || {{ echo \"cutover: systemd-run: $out\" >&2; exit 1; }}\nelse\nsetsid ${{prio:+nice -n $prio}} \"$@\" {unit} {d} \"$fire\" \"$base\" </dev/null >/dev/null 2>&1 &\nfi\ni=0\nwhile [ ! -s {d}/waiter.pid ] && [ $i -lt {polls} ]; do sleep 0.05; i=$((i+1)); done\nread -r pid < {d}/waiter.pid 2>/dev/null && [ -n \"$pid\" ] || {{ echo 'cutover: the waiter did not start within {secs} s (a host this busy may fire late)' >&2; exit 1; }}\necho armed=$pid",
            fire = at.timestamp_nanos_opt().unwrap_or(i64::MAX),
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

/// The waiter where bash (≥ 5, `$EPOCHREALTIME`) is installed: `sleep` (a fork, well before the
/// fire) until about a second before, then `read -t` on a FIFO nobody writes for the rest, a
/// timed wait with microsecond resolution inside bash itself; it reads the clock the moment it
/// wakes, with no fork or exec in between, and hands that wake time to the job wrapper.
/// It waits at a raised priority (`nice -n -10`, where allowed: root) so that on a busy host
/// the wake is not queued behind other work, and hands the job back the niceness it was armed
/// with (argument 3), so the action itself runs at normal priority.
/// Argument 1 is the job dir, 2 the fire time in ns. No single quotes: it is quoted in `'…'`.
const BASH_WAITER: &str = "d=$1; fire_us=$(( $2 / 1000 )); base=${3:-0}; read -r -a st < /proc/$$/stat 2>/dev/null; n=${st[18]:-$base}; echo $$ > \"$d/waiter.pid\"; rm -f \"$d/tick\"; mkfifo \"$d/tick\" && exec 3<>\"$d/tick\" || exit 1; while :; do now=${EPOCHREALTIME//[!0-9]/}; rem=$(( fire_us - now )); (( rem <= 0 )) && break; if (( rem > 2000000 )); then sleep $(( (rem - 1000000) / 1000000 )); else printf -v t \"%d.%06d\" $(( rem / 1000000 )) $(( rem % 1000000 )); read -r -t \"$t\" -u 3 _; fi; done; woke=${EPOCHREALTIME//[!0-9]/}000; (( n < base )) && exec nice -n $(( base - n )) /bin/sh \"$d/job.sh\" \"$woke\"; exec /bin/sh \"$d/job.sh\" \"$woke\"";

/// The POSIX sh waiter for hosts without bash: `sleep` to about a second before, then a
/// fractional `sleep`; the job wrapper reads the wake time itself (one fork later).
const SH_WAITER: &str = "d=$1; fire=$2; echo $$ > \"$d/waiter.pid\"; while :; do now=$(date +%s%N); rem=$((fire - now)); [ \"$rem\" -le 0 ] && break; if [ \"$rem\" -gt 2000000000 ]; then sleep $(( (rem - 1000000000) / 1000000000 )); else sleep \"$(printf \"%d.%09d\" $((rem / 1000000000)) $((rem % 1000000000)))\"; fi; done; exec /bin/sh \"$d/job.sh\"";

/// The verification script: prints `verified` only if the job is queued and its wrapper hash matches.
pub fn verify_script(m: Concrete, run_id: &str, dir: &str, job_sha: &str) -> String {
    let d = quote(dir);
    let hash = format!(
        "echo '{job_sha}  '{d}/job.sh | sha256sum -c --status || {{ echo 'job.sh changed' >&2; exit 1; }}"
    );
    // Each says on stderr what is gone: the T-minus check shows it as the host's reason.
    let queued = match m {
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
    };
    format!("{hash}\n{queued}\necho verified")
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

/// The disarm script: idempotent; prints `disarmed` only when nothing remains queued.
pub fn disarm_script(m: Concrete, run_id: &str, dir: &str) -> String {
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
        // Forks are what a disarm of hundreds of hosts at once costs: the pid is read, checked
        // to be this run's waiter and its liveness judged with shell builtins (a zombie counts
        // as gone); only the wait for it to go after the signal forks (`sleep`).
        Concrete::Waiter => format!(
            "{ours}\nalive() {{ IFS= read -r st < /proc/$1/stat 2>/dev/null || return 1; case \"${{st##*) }}\" in Z*|X*) return 1;; esac; }}\nif [ -s {d}/waiter.pid ] && read -r pid < {d}/waiter.pid && ours \"$pid\"; then kill -TERM -- \"-$pid\" 2>/dev/null || kill -TERM \"$pid\"; i=0; while alive \"$pid\" && [ $i -lt {polls} ]; do sleep 0.05; i=$((i+1)); done; alive \"$pid\" && exit 1; fi",
            polls = WAITER_STOP_POLLS,
            ours = ours_fn(run_id, dir)
        ),
    };
    // The tombstone first: a job that wakes later anyway (an arming command that finished
    // after the orchestrator gave up) sees it and does not act.
    format!(
        "{{ [ -d {d} ] || mkdir -p {d}; }} && : > {d}/disarmed || exit 1\n{body}\n[ -e {d}/receipt ] && ! grep -q '^skipped=' {d}/receipt && echo 'already fired' >&2 && exit 2\necho disarmed"
    )
}

/// The script that prints the receipt (empty when the job has not written one).
pub fn collect_script(dir: &str) -> String {
    let d = quote(dir);
    format!(
        "cat {d}/receipt 2>/dev/null; echo '--- output tail'; cat {d}/output.tail 2>/dev/null; true"
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
        let s = arm_body(Concrete::Systemd, "r1", "/var/tmp/cutover/r1", at);
        assert!(s.starts_with(SUDO), "{s}");
        assert!(
            s.contains("out=$($s systemd-run --unit=cutover-r1 --description='cutover r1' --uid=\"$(id -u)\" --gid=\"$(id -g)\" --on-calendar='2027-01-14 02:20:00.250001 UTC' --timer-property=AccuracySec=1us --timer-property=Persistent=false"),
            "{s}"
        );
        assert!(s.ends_with("echo armed=cutover-r1"));
    }

    #[test]
    fn disarm_stops_the_timer_never_the_service() {
        let s = disarm_script(Concrete::Systemd, "r1", "/d");
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
        let s = arm_body(Concrete::Waiter, "r1", "/var/tmp/cutover/r1", at());
        assert!(s.starts_with(&format!("fire={}\n", at().timestamp_nanos_opt().unwrap())));
        assert!(s.contains("set -- bash -c 'd=$1;") && s.contains("set -- sh -c 'd=$1;"));
        assert!(
            s.contains(&format!("if {SYSTEMD_BOOTED}; then\n{SUDO}")),
            "{s}"
        );
        assert!(
            s.contains("$s systemd-run --quiet --collect --unit=cutover-waiter-r1 --uid=\"$(id -u)\" --gid=\"$(id -g)\" ${prio:+--nice=$prio} -- \"$1\" \"$2\" \"$esc\" cutover-waiter-r1 /var/tmp/cutover/r1 \"$fire\" \"$base\""),
            "{s}"
        );
        assert!(s.contains(
            "setsid ${prio:+nice -n $prio} \"$@\" cutover-waiter-r1 /var/tmp/cutover/r1 \"$fire\""
        ));
        assert!(!BASH_WAITER.contains('\'') && !SH_WAITER.contains('\''));
        let (wait, wake) = (
            BASH_WAITER.find("read -r -t").unwrap(),
            BASH_WAITER.find("woke=${EPOCHREALTIME").unwrap(),
        );
        assert!(
            wait < wake && !BASH_WAITER[wait..wake].contains("$("),
            "no fork between the fine wait and reading the wake time"
        );
    }

    #[test]
    fn arming_refuses_after_the_deadline() {
        let s = arm_script(
            Concrete::Waiter,
            "r1",
            "/d",
            at(),
            at() - chrono::Duration::seconds(120),
        );
        assert!(
            s.starts_with(&format!(
                "[ \"$(date +%s)\" -lt {} ] || ",
                at().timestamp() - 120
            )),
            "{s}"
        );
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

    /// A waiter of run `r10` is not one of run `r1`: the name is matched whole, so a pid
    /// reused by another run's waiter never passes verify or gets killed by disarm.
    #[test]
    fn a_waiter_is_matched_by_its_whole_run_name() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let mut other = std::process::Command::new("sh")
            .args(["-c", "sleep 30; :", "sh", "cutover-waiter-r10", &d])
            .spawn()
            .unwrap();
        struct Reap<'a>(&'a mut std::process::Child);
        impl Drop for Reap<'_> {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let pid = other.id();
        let _reap = Reap(&mut other);
        std::fs::write(dir.path().join("waiter.pid"), format!("{pid}\n")).unwrap();
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
        let disarm = disarm_script(Concrete::Waiter, "r1", &d);
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
            .args(["-c", &disarm_script(Concrete::Waiter, "r10", &d)])
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
