//! The commands that make a lab host behave like a fleet host: PATH shims, as shell scripts.
//!
//! Pure: each function returns a script's text for one host. The checks and arming scripts of
//! `remote` and `arm` run unchanged on a lab host; these shims answer them truthfully from the
//! host's own tree (`$LAB_ROOT/units/<unit>/{enabled,active}`, `$LAB_ROOT/etc`), or, for an
//! injected fault, the way a broken host would.

use super::faults::Fault;
use super::spec::LabHost;
use crate::remote::quote;

/// Absolute paths of the real tools the shims wrap (found when the lab starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// `date`.
    pub date: String,
    /// `timeout`.
    pub timeout: String,
    /// `setsid` (services detach with it even on a host whose PATH hides it).
    pub setsid: String,
}

/// Every shim of `host`: `(file name in its bin dir, script)`.
pub fn all(host: &LabHost, tools: &Tools) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("sudo", sudo(host)),
        ("systemctl", systemctl(host)),
        ("timedatectl", TIMEDATECTL.to_string()),
        ("lab-service", lab_service(tools)),
    ];
    if let Some(ms) = host.faults.iter().find_map(|f| match f {
        Fault::ClockSkew { millis } => Some(*millis),
        _ => None,
    }) {
        out.push(("date", date(tools, ms)));
    }
    let slow = host.faults.iter().find_map(|f| match f {
        Fault::Slow { millis } => Some(*millis),
        _ => None,
    });
    let hostile = host.has(|f| *f == Fault::HostileOutput);
    if slow.is_some() || hostile {
        out.push(("timeout", timeout(tools, slow, hostile)));
    }
    out
}

fn sudo(host: &LabHost) -> String {
    let refuse = if host.has(|f| *f == Fault::SudoPassword) {
        "echo 'sudo: a password is required' >&2\nexit 1\n"
    } else {
        ""
    };
    format!(
        "#!/bin/sh\n# lab sudo: passwordless (fault sudo-password: asks, as `sudo -n` fails).\n{refuse}while [ $# -gt 0 ]; do\n  case \"$1\" in\n    --) shift; break ;;\n    -u|-g|-C|-D|-h|-p|-r|-t|-U) shift 2 ;;\n    -*) shift ;;\n    *) break ;;\n  esac\ndone\n[ $# -gt 0 ] || exit 0\nexec \"$@\"\n"
    )
}

fn systemctl(host: &LabHost) -> String {
    let reenable_ms = host
        .faults
        .iter()
        .find_map(|f| match f {
            Fault::AgentReenables { millis } => Some(*millis),
            _ => None,
        })
        .map_or(String::new(), |ms| ms.to_string());
    SYSTEMCTL.replace("@REENABLE_MS@", &reenable_ms)
}

const SYSTEMCTL: &str = r#"#!/bin/sh
# lab systemctl: units are directories under $LAB_ROOT/units (files `enabled`, `active`);
# a unit with a `managed` file is a lab-service service (with etcd: the host's etcd member).
# The agent `chef-client` re-enables itself after @REENABLE_MS@ ms on a host with that fault.
st="$LAB_ROOT/units"
cmd=${1:-}; [ $# -gt 0 ] && shift
quiet=; now=; unit=
for a in "$@"; do
  case "$a" in
    --now) now=1 ;;
    --quiet|-q) quiet=1 ;;
    -*) ;;
    *) [ -z "$unit" ] && unit=${a%.service} ;;
  esac
done
say() { [ -n "$quiet" ] || echo "$1"; }
case "$cmd" in
  is-system-running) say running; exit 0 ;;
  daemon-reload) exit 0 ;;
esac
[ -n "$unit" ] || { echo "systemctl: unit name required" >&2; exit 1; }
d="$st/$unit"
reenable_ms="@REENABLE_MS@"
if [ "$unit" = chef-client ] && [ -n "$reenable_ms" ] && [ -f "$d/disabled_at" ]; then
  since=$(( ($(date +%s%N) - $(cat "$d/disabled_at")) / 1000000 ))
  if [ "$since" -ge "$reenable_ms" ]; then
    rm -f "$d/disabled_at"; touch "$d/enabled" "$d/active"
  fi
fi
if [ ! -d "$d" ]; then
  case "$cmd" in
    is-active) say inactive; exit 3 ;;
    is-enabled) echo "Failed to get unit file state for $unit.service: No such file or directory" >&2; exit 1 ;;
    *) echo "Unit $unit.service not found." >&2; exit 5 ;;
  esac
fi
active() { if [ -f "$d/managed" ]; then lab-service status "$unit" >/dev/null; else [ -f "$d/active" ]; fi; }
start() { if [ -f "$d/managed" ]; then lab-service start "$unit"; else touch "$d/active"; fi; }
stop() { if [ -f "$d/managed" ]; then lab-service stop "$unit"; else rm -f "$d/active"; fi; }
case "$cmd" in
  is-active) if active; then say active; exit 0; else say inactive; exit 3; fi ;;
  is-enabled) if [ -f "$d/enabled" ]; then say enabled; exit 0; else say disabled; exit 1; fi ;;
  enable) touch "$d/enabled"; rm -f "$d/disabled_at"; [ -z "$now" ] || start ;;
  disable) rm -f "$d/enabled"; date +%s%N > "$d/disabled_at"; [ -z "$now" ] || stop ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if active; then echo "* $unit.service: active (running)"; exit 0; else echo "* $unit.service: inactive (dead)"; exit 3; fi ;;
  *) echo "lab systemctl: \`$cmd\` is not modelled" >&2; exit 1 ;;
esac
"#;

const TIMEDATECTL: &str = "#!/bin/sh\n# lab timedatectl: UTC, synchronised.\nif [ \"${1:-}\" = show ]; then\n  echo NTPSynchronized=yes\n  echo Timezone=Etc/UTC\nelse\n  echo \"               Local time: $(date)\"\n  echo '                Time zone: Etc/UTC (UTC, +0000)'\n  echo 'System clock synchronized: yes'\n  echo '              NTP service: active'\nfi\n";

fn lab_service(tools: &Tools) -> String {
    LAB_SERVICE.replace("@SETSID@", &quote(&tools.setsid))
}

const LAB_SERVICE: &str = r#"#!/bin/sh
# lab-service start|stop|restart|status [NAME]: the host's "consul-like" service.
# With $LAB_ROOT/NAME.sh present (a lab with etcd), the service is that process (the host's
# etcd member), detached and recorded in $LAB_ROOT/run/NAME.pid; otherwise it is state only.
set -u
act=${1:-status}; svc=${2:-consul}
r="$LAB_ROOT"; pidf="$r/run/$svc.pid"; log="$r/var/log/$svc.log"
mkdir -p "$r/run" "$r/var/log" "$r/units/$svc"
running() {
  [ -s "$pidf" ] || return 1
  p=$(cat "$pidf")
  [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -qF -- "$r/"
}
start() {
  if [ -f "$r/$svc.sh" ]; then
    running && return 0
    @SETSID@ sh "$r/$svc.sh" >>"$log" 2>&1 </dev/null &
    echo $! > "$pidf"
  else
    touch "$r/units/$svc/active"
  fi
  echo "$(date +%s%N) started" >> "$r/var/log/$svc.events"
}
stop() {
  if [ -f "$r/$svc.sh" ]; then
    if running; then
      kill -TERM "$p" 2>/dev/null
      i=0; while [ -d "/proc/$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
      kill -KILL "$p" 2>/dev/null
    fi
    rm -f "$pidf"
  else
    rm -f "$r/units/$svc/active"
  fi
  echo "$(date +%s%N) stopped" >> "$r/var/log/$svc.events"
}
status() {
  if [ -f "$r/$svc.sh" ]; then running; else [ -f "$r/units/$svc/active" ]; fi
}
case "$act" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if status; then echo "$svc: active"; else echo "$svc: inactive"; exit 3; fi ;;
  *) echo "usage: lab-service start|stop|restart|status [NAME]" >&2; exit 2 ;;
esac
"#;

fn date(tools: &Tools, skew_ms: u64) -> String {
    let d = quote(&tools.date);
    format!(
        "#!/bin/sh\n# lab date: this host's clock runs {skew_ms} ms ahead (fault clock-skew).\ncase \"${{1:-}}\" in\n  +%s%N) echo $(( $({d} +%s%N) + {ns} )) ;;\n  +%s) echo $(( $({d} +%s) + {s} )) ;;\n  *) exec {d} \"$@\" ;;\nesac\n",
        ns = u128::from(skew_ms) * 1_000_000,
        s = skew_ms.div_ceil(1000),
    )
}

/// Bytes of filler a hostile host adds to stderr per command: past the default output cap.
pub const HOSTILE_BYTES: usize = 200_000;

fn timeout(tools: &Tools, slow_ms: Option<u64>, hostile: bool) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# lab timeout: every command of this host goes through here first.\n",
    );
    if let Some(ms) = slow_ms {
        s.push_str(&format!("sleep {}.{:03}\n", ms / 1000, ms % 1000));
    }
    if hostile {
        s.push_str(&format!(
            "printf '\\033]0;owned\\007\\033[2J\\033[H\\033[31mHOSTILE\\033[0m\\r\\033c\\377\\n' >&2\nhead -c {HOSTILE_BYTES} /dev/zero | tr '\\0' 'X' >&2\necho >&2\n"
        ));
    }
    s.push_str(&format!("exec {} \"$@\"\n", quote(&tools.timeout)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Fault;

    fn host(faults: Vec<Fault>) -> LabHost {
        LabHost {
            name: "lab-1".into(),
            addr: "127.0.10.1".into(),
            port: 22,
            root: "/tmp/l/hosts/lab-1".into(),
            group: "servers",
            etcd_member: false,
            faults,
        }
    }

    fn tools() -> Tools {
        Tools {
            date: "/bin/date".into(),
            timeout: "/usr/bin/timeout".into(),
            setsid: "/usr/bin/setsid".into(),
        }
    }

    #[test]
    fn a_healthy_host_wraps_nothing_it_does_not_need() {
        let names: Vec<&str> = all(&host(vec![]), &tools())
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, ["sudo", "systemctl", "timedatectl", "lab-service"]);
    }

    #[test]
    fn faults_change_the_shims() {
        let faults = vec![
            Fault::SudoPassword,
            Fault::ClockSkew { millis: 1500 },
            Fault::Slow { millis: 250 },
            Fault::AgentReenables { millis: 2000 },
        ];
        let shims = all(&host(faults), &tools());
        let get = |n: &str| shims.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert!(get("sudo").contains("a password is required"));
        assert!(get("date").contains("+ 1500000000"));
        assert!(get("timeout").contains("sleep 0.250"));
        assert!(get("systemctl").contains("reenable_ms=\"2000\""));
    }
}
