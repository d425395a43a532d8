//! Faults a rehearsal can inject per lab host, parsed from `--fault HOST=KIND[:ARG]` or a lab file.
//!
//! Pure: a fault is data; the shims (`lab::shims`) and the backends act on it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Skew of `clock-skew` without an argument: well past any sane `max_offset`.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(2);
/// Delay of `agent-reenables` without an argument: after staging, before the T-minus check.
pub const DEFAULT_REENABLE: Duration = Duration::from_secs(2);
/// Delay of `slow` without an argument: noticeable, well under a command timeout.
pub const DEFAULT_SLOW: Duration = Duration::from_secs(1);

/// One way a lab host misbehaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// `sudo -n` fails the way it does when a password is required.
    SudoPassword,
    /// The host's clock reads ahead by this much (negative skews are not modelled).
    ClockSkew {
        /// How far ahead, in milliseconds.
        millis: u64,
    },
    /// The config agent re-enables itself this long after being disabled.
    AgentReenables {
        /// Delay in milliseconds.
        millis: u64,
    },
    /// Every command starts this late.
    Slow {
        /// Delay in milliseconds.
        millis: u64,
    },
    /// The host's SSH server is not started.
    Unreachable,
    /// No scheduler: `setsid`, `at` and `systemd-run` are not on the PATH.
    NoScheduler,
    /// Every command also writes terminal escape sequences and a flood of bytes to stderr.
    HostileOutput,
    /// `nspawn` only: every packet in and out of the host is dropped.
    Blackhole,
    /// `nspawn` only: this percentage of the packets the host receives is dropped.
    Loss {
        /// 1..=100.
        percent: u8,
    },
    /// `nspawn` only: every packet the host sends is held this long (an NFQUEUE delayer).
    Delay {
        /// Added one-way latency in milliseconds.
        millis: u64,
    },
    /// `nspawn` only: the host's traffic, each direction on its own, is shaped to this rate by
    /// a token bucket in the NFQUEUE delayer that holds packets until they fit (a slow WAN
    /// link), never drops them.
    Rate {
        /// Kilobits (1000 bits) per second, [`MIN_RATE_KBIT`]..=[`MAX_RATE_KBIT`].
        kbit: u64,
    },
    /// `nspawn` only: the host and these hosts cannot reach each other (both directions).
    Partition {
        /// The hosts on the other side.
        from: Vec<String>,
    },
}

/// The slowest `rate` fault: 8 kbit/s, one full-size packet every 1.5 s, still a link that
/// SSH's handshake and keepalives survive.
pub const MIN_RATE_KBIT: u64 = 8;
/// The fastest `rate` fault: 1 Gbit/s, about what a userspace delayer can keep up with.
pub const MAX_RATE_KBIT: u64 = 1_000_000;

/// Fault kinds as typed on the command line, for help and errors.
pub const KINDS: &str = "sudo-password, clock-skew[:DUR], agent-reenables[:DUR], slow[:DUR], unreachable, no-scheduler, hostile-output; with --backend nspawn: blackhole, loss:PCT, delay:MS, rate:KBIT, partition:HOST[,HOST...]";
/// The network fault kinds of `nspawn` hosts.
pub const NETWORK_KINDS: &str =
    "blackhole, loss:PCT, delay:MS, rate:KBIT, partition:HOST[,HOST...]";

impl Fault {
    /// Parses `KIND[:ARG]`, e.g. `clock-skew:3s`.
    pub fn parse(text: &str) -> Result<Fault, String> {
        let (kind, arg) = match text.split_once(':') {
            Some((k, a)) => (k.trim(), Some(a.trim())),
            None => (text.trim(), None),
        };
        let dur = |default: Duration| -> Result<u64, String> {
            let d = match arg {
                Some(a) => humantime::parse_duration(a)
                    .map_err(|e| format!("fault `{text}`: bad duration `{a}`: {e}"))?,
                None => default,
            };
            Ok(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        let fault = match kind {
            "sudo-password" => Fault::SudoPassword,
            "clock-skew" => Fault::ClockSkew {
                millis: dur(DEFAULT_SKEW)?,
            },
            "agent-reenables" => Fault::AgentReenables {
                millis: dur(DEFAULT_REENABLE)?,
            },
            "slow" => Fault::Slow {
                millis: dur(DEFAULT_SLOW)?,
            },
            "unreachable" => Fault::Unreachable,
            "no-scheduler" => Fault::NoScheduler,
            "hostile-output" => Fault::HostileOutput,
            "blackhole" => Fault::Blackhole,
            "loss" => Fault::Loss {
                percent: arg
                    .and_then(|a| a.trim_end_matches('%').parse::<u8>().ok())
                    .filter(|p| (1..=100).contains(p))
                    .ok_or_else(|| format!("fault `{text}`: expected loss:PCT with PCT in 1..=100"))?,
            },
            "delay" => Fault::Delay {
                millis: arg
                    .map(|a| {
                        humantime::parse_duration(a)
                            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                            .or_else(|_| a.parse::<u64>())
                    })
                    .and_then(Result::ok)
                    .filter(|ms| (1..=10_000).contains(ms))
                    .ok_or_else(|| {
                        format!("fault `{text}`: expected delay:MS (1..=10000, e.g. delay:40 or delay:40ms)")
                    })?,
            },
            "rate" => Fault::Rate {
                kbit: arg
                    .map(|a| a.strip_suffix("kbit").unwrap_or(a).trim())
                    .and_then(|a| a.parse::<u64>().ok())
                    .filter(|k| (MIN_RATE_KBIT..=MAX_RATE_KBIT).contains(k))
                    .ok_or_else(|| {
                        format!(
                            "fault `{text}`: expected rate:KBIT, kilobits per second in {MIN_RATE_KBIT}..={MAX_RATE_KBIT} (e.g. rate:512 or rate:512kbit)"
                        )
                    })?,
            },
            "partition" => Fault::Partition {
                from: arg
                    .map(|a| {
                        a.split(',')
                            .map(|h| h.trim().to_string())
                            .filter(|h| !h.is_empty())
                            .collect::<Vec<_>>()
                    })
                    .filter(|hs| !hs.is_empty())
                    .ok_or_else(|| format!("fault `{text}`: expected partition:HOST[,HOST...]"))?,
            },
            other => return Err(format!("unknown fault `{other}`; known: {KINDS}")),
        };
        let takes_arg = matches!(
            fault,
            Fault::ClockSkew { .. }
                | Fault::AgentReenables { .. }
                | Fault::Slow { .. }
                | Fault::Loss { .. }
                | Fault::Delay { .. }
                | Fault::Rate { .. }
                | Fault::Partition { .. }
        );
        if arg.is_some() && !takes_arg {
            return Err(format!("fault `{kind}` takes no argument"));
        }
        Ok(fault)
    }

    /// Whether it is a network fault (`nspawn` hosts), not a shim fault.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Fault::Blackhole
                | Fault::Loss { .. }
                | Fault::Delay { .. }
                | Fault::Rate { .. }
                | Fault::Partition { .. }
        )
    }

    /// The other hosts a fault names (a partition's far side).
    pub fn peers(&self) -> &[String] {
        match self {
            Fault::Partition { from } => from,
            _ => &[],
        }
    }
}

impl std::fmt::Display for Fault {
    /// As typed: `clock-skew:3s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dur = |ms: u64| humantime::format_duration(Duration::from_millis(ms)).to_string();
        match self {
            Fault::SudoPassword => f.write_str("sudo-password"),
            Fault::ClockSkew { millis } => write!(f, "clock-skew:{}", dur(*millis)),
            Fault::AgentReenables { millis } => write!(f, "agent-reenables:{}", dur(*millis)),
            Fault::Slow { millis } => write!(f, "slow:{}", dur(*millis)),
            Fault::Unreachable => f.write_str("unreachable"),
            Fault::NoScheduler => f.write_str("no-scheduler"),
            Fault::HostileOutput => f.write_str("hostile-output"),
            Fault::Blackhole => f.write_str("blackhole"),
            Fault::Loss { percent } => write!(f, "loss:{percent}"),
            Fault::Delay { millis } => write!(f, "delay:{millis}"),
            Fault::Rate { kbit } => write!(f, "rate:{kbit}"),
            Fault::Partition { from } => write!(f, "partition:{}", from.join(",")),
        }
    }
}

/// Faults per host name.
pub type Faults = BTreeMap<String, Vec<Fault>>;

/// Parses one `HOST=KIND[:ARG]` flag into `faults`.
pub fn add_flag(faults: &mut Faults, flag: &str) -> Result<(), String> {
    let (host, kind) = flag.split_once('=').ok_or_else(|| {
        format!("--fault `{flag}`: expected HOST=KIND[:ARG], e.g. lab-2=clock-skew:3s")
    })?;
    faults
        .entry(host.trim().to_string())
        .or_default()
        .push(Fault::parse(kind)?);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    faults: BTreeMap<String, Vec<String>>,
}

/// Parses a lab fault file: `[faults]` then `lab-2 = ["sudo-password", "slow:500ms"]`.
pub fn parse_file(text: &str, faults: &mut Faults) -> Result<(), String> {
    let file: FaultFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for (host, kinds) in file.faults {
        for k in kinds {
            faults
                .entry(host.clone())
                .or_default()
                .push(Fault::parse(&k)?);
        }
    }
    Ok(())
}

/// Whether `host` has a fault matching `pred`.
pub fn has(faults: &Faults, host: &str, pred: impl Fn(&Fault) -> bool) -> bool {
    faults.get(host).is_some_and(|f| f.iter().any(pred))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_files() {
        let mut f = Faults::new();
        add_flag(&mut f, "lab-2=clock-skew:3s").unwrap();
        add_flag(&mut f, "lab-2=sudo-password").unwrap();
        parse_file("[faults]\nlab-3 = [\"slow\", \"unreachable\"]\n", &mut f).unwrap();
        assert_eq!(
            f["lab-2"],
            vec![Fault::ClockSkew { millis: 3000 }, Fault::SudoPassword]
        );
        assert_eq!(f["lab-3"][0], Fault::Slow { millis: 1000 });
        assert!(has(&f, "lab-3", |x| *x == Fault::Unreachable));
        assert_eq!(f["lab-2"][0].to_string(), "clock-skew:3s");
        assert_eq!(
            Fault::parse(&f["lab-3"][0].to_string()).unwrap(),
            f["lab-3"][0]
        );
    }

    #[test]
    fn rejects_unknown_kinds_and_stray_arguments() {
        assert!(Fault::parse("clock-skwe").unwrap_err().contains("known:"));
        assert!(
            Fault::parse("unreachable:3s")
                .unwrap_err()
                .contains("no argument")
        );
        assert!(add_flag(&mut Faults::new(), "lab-1").is_err());
    }

    #[test]
    fn network_faults_parse_and_print_as_typed() {
        for t in [
            "blackhole",
            "loss:30",
            "delay:80",
            "rate:512",
            "partition:lab-2,lab-3",
        ] {
            let f = Fault::parse(t).unwrap();
            assert!(f.is_network(), "{t}");
            assert_eq!(f.to_string(), t);
        }
        assert_eq!(
            Fault::parse("delay:80ms").unwrap(),
            Fault::Delay { millis: 80 }
        );
        assert!(Fault::parse("loss:0").unwrap_err().contains("1..=100"));
        assert!(Fault::parse("loss").is_err());
        assert!(Fault::parse("partition:").is_err());
        assert!(!Fault::SudoPassword.is_network());
    }

    #[test]
    fn a_rate_is_kilobits_per_second_within_bounds() {
        assert_eq!(
            Fault::parse("rate:512kbit").unwrap(),
            Fault::Rate { kbit: 512 }
        );
        assert_eq!(
            Fault::parse(" rate: 2000 ").unwrap().to_string(),
            "rate:2000"
        );
        for bad in [
            "rate",
            "rate:",
            "rate:7",
            "rate:1000001",
            "rate:fast",
            "rate:1mbit",
        ] {
            let e = Fault::parse(bad).unwrap_err();
            assert!(
                e.contains("expected rate:KBIT") && e.contains("8..=1000000"),
                "{bad}: {e}"
            );
        }
    }
}
