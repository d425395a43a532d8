//! Clock offset measured NTP-style over the SSH connection, and NTP/time zone status parsing.
//!
//! One sample: the orchestrator notes its time before sending (`t0`) and after the answer
//! (`t1`); the host reports its time `r`. The offset is `r - (t0 + t1) / 2`, known to within
//! half the round trip. The sample with the shortest round trip wins.

use std::time::Duration;

/// One round trip: orchestrator send/receive times and the host's reported time, in ns since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Orchestrator time when the request left.
    pub sent_ns: i128,
    /// Host time as it reported.
    pub remote_ns: i128,
    /// Orchestrator time when the answer arrived.
    pub received_ns: i128,
}

/// The best estimate of a host's clock offset (positive: the host is ahead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offset {
    /// Host minus orchestrator, in nanoseconds.
    pub offset_ns: i128,
    /// Half the round trip of the sample used: the offset is certain to within this.
    pub error_ns: i128,
}

impl Offset {
    /// The offset as signed milliseconds, for display.
    pub fn millis(&self) -> f64 {
        self.offset_ns as f64 / 1e6
    }

    /// True when the offset is provably within `max` (offset plus its error bound): fail closed.
    pub fn within(&self, max: Duration) -> bool {
        self.offset_ns.abs() + self.error_ns <= max.as_nanos() as i128
    }
}

/// The offset from the sample with the shortest round trip; `None` without valid samples.
pub fn estimate(samples: &[Sample]) -> Option<Offset> {
    samples
        .iter()
        .filter(|s| s.received_ns >= s.sent_ns)
        .min_by_key(|s| s.received_ns - s.sent_ns)
        .map(|s| Offset {
            offset_ns: s.remote_ns - (s.sent_ns + s.received_ns) / 2,
            error_ns: (s.received_ns - s.sent_ns) / 2,
        })
}

/// Parses `date +%s%N` output (nanoseconds since the epoch).
pub fn parse_remote_ns(stdout: &str) -> Option<i128> {
    stdout.trim().parse().ok()
}

/// NTP and time zone facts read from `timedatectl show`, `chronyc tracking` or `/etc/timezone`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeStatus {
    /// `Some(true)` when NTP reports synchronised; `None` when no tool said.
    pub ntp_synchronized: Option<bool>,
    /// Zone name, e.g. `Etc/UTC`.
    pub timezone: Option<String>,
}

/// Parses the clock check script's output (see `remote::check`).
pub fn parse_status(stdout: &str) -> TimeStatus {
    let mut st = TimeStatus::default();
    for line in stdout.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("NTPSynchronized=") {
            st.ntp_synchronized = Some(v == "yes");
        } else if let Some(v) = line.strip_prefix("Timezone=") {
            st.timezone = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("Leap status") {
            st.ntp_synchronized
                .get_or_insert(v.trim_start_matches([' ', ':']) == "Normal");
        } else if let Some(zone) = line
            .strip_prefix("/usr/share/zoneinfo/")
            .or_else(|| line.strip_prefix("../usr/share/zoneinfo/"))
        {
            st.timezone.get_or_insert(zone.to_string());
        } else if st.timezone.is_none()
            && line.contains('/')
            && !line.contains(' ')
            && !line.contains('=')
        {
            st.timezone = Some(line.to_string());
        }
    }
    st
}

/// Zone names that mean UTC.
pub fn same_zone(expected: &str, actual: &str) -> bool {
    let utc = |z: &str| {
        matches!(
            z,
            "UTC"
                | "Etc/UTC"
                | "Etc/UCT"
                | "UCT"
                | "Universal"
                | "Etc/Universal"
                | "Zulu"
                | "Etc/Zulu"
                | "Etc/GMT"
                | "GMT"
        )
    };
    expected == actual || (utc(expected) && utc(actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_comes_from_the_shortest_round_trip() {
        let s = [
            Sample {
                sent_ns: 0,
                remote_ns: 1_000_000_000,
                received_ns: 40_000_000,
            },
            Sample {
                sent_ns: 100,
                remote_ns: 1_000_002_100,
                received_ns: 4_100,
            },
        ];
        let o = estimate(&s).unwrap();
        assert_eq!(
            o,
            Offset {
                offset_ns: 1_000_000_000,
                error_ns: 2_000
            }
        );
        assert!(!o.within(Duration::from_millis(500)));
        assert!(o.within(Duration::from_secs(2)));
    }

    #[test]
    fn the_error_bound_counts_against_the_limit() {
        let o = Offset {
            offset_ns: 400_000_000,
            error_ns: 150_000_000,
        };
        assert!(!o.within(Duration::from_millis(500)));
    }

    #[test]
    fn no_valid_sample_no_estimate() {
        assert_eq!(estimate(&[]), None);
        assert_eq!(
            estimate(&[Sample {
                sent_ns: 10,
                remote_ns: 0,
                received_ns: 5
            }]),
            None
        );
    }

    #[test]
    fn parses_timedatectl_chrony_and_zone_files() {
        let st = parse_status("NTPSynchronized=yes\nTimezone=Etc/UTC\n");
        assert_eq!(
            st,
            TimeStatus {
                ntp_synchronized: Some(true),
                timezone: Some("Etc/UTC".into())
            }
        );
        let st = parse_status(
            "Reference ID    : A9FEA97B\nLeap status     : Not synchronised\nEtc/UTC\n",
        );
        assert_eq!(
            st,
            TimeStatus {
                ntp_synchronized: Some(false),
                timezone: Some("Etc/UTC".into())
            }
        );
        let st = parse_status("/usr/share/zoneinfo/Europe/Berlin\n");
        assert_eq!(st.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(st.ntp_synchronized, None);
    }

    #[test]
    fn utc_has_many_names() {
        assert!(same_zone("UTC", "Etc/UTC"));
        assert!(!same_zone("UTC", "Europe/Berlin"));
    }
}
