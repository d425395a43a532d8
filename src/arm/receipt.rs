//! What a host's job recorded when it fired, and the fire spread across the fleet.

use serde::{Deserialize, Serialize};

/// One host's receipt, parsed from the `key=value` lines the job wrapper wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Planned fire time (ns since the epoch).
    pub planned_ns: Option<i64>,
    /// When the mechanism woke the job.
    pub woke_ns: Option<i64>,
    /// When the action started (after the late check).
    pub started_ns: Option<i64>,
    /// When the action ended.
    pub ended_ns: Option<i64>,
    /// The action's exit code.
    pub exit: Option<i32>,
    /// True when the job woke too late and did not fire.
    pub skipped_late: bool,
    /// True when the job woke after a disarm and did not fire.
    #[serde(default)]
    pub skipped_disarmed: bool,
    /// True when the job woke without the run's commit and did not fire.
    #[serde(default)]
    pub skipped_uncommitted: bool,
    /// True when the wrapper ran to the end.
    pub done: bool,
    /// The last 4 KiB of the action's output, when collected (what the operator reads in
    /// the dashboard's host details and the report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Receipt {
    /// True when nothing more will be written: the action ended, or the job skipped it.
    pub fn is_final(&self) -> bool {
        self.done || self.skipped_late || self.skipped_disarmed || self.skipped_uncommitted
    }
}

/// Parses a receipt file; unknown lines are ignored, a missing file is `Receipt::default()`.
pub fn parse(text: &str) -> Receipt {
    let mut r = Receipt::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let n = v.trim().parse::<i64>().ok();
        match k.trim() {
            "planned_ns" => r.planned_ns = n,
            "woke_ns" => r.woke_ns = n,
            "started_ns" => r.started_ns = n,
            "ended_ns" => r.ended_ns = n,
            "exit" => r.exit = v.trim().parse().ok(),
            "skipped" => {
                r.skipped_late = v.trim() == "late";
                r.skipped_disarmed = v.trim() == "disarmed";
                r.skipped_uncommitted = v.trim() == "uncommitted";
            }
            "done" => r.done = v.trim() == "1",
            _ => {}
        }
    }
    r
}

/// A host's fire as measured: its receipt corrected by the host's measured clock offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fired {
    /// Host name.
    pub host: String,
    /// Wake time on the orchestrator's clock (receipt minus offset), ns.
    pub woke_ns: i64,
    /// Start time on the orchestrator's clock, ns.
    pub started_ns: i64,
    /// Lateness of the start versus the plan, ns (negative: early).
    pub late_ns: i64,
}

/// The fleet-wide measurement: spread (max minus min) of wake and start times, and lateness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    /// Hosts whose receipt shows a start.
    pub fired: Vec<Fired>,
    /// Hosts with no start in their receipt (missing, skipped late, never woke).
    pub missing: Vec<String>,
    /// Hosts that could not be reached after the fire: whether they fired is unknown.
    #[serde(default)]
    pub unreachable: Vec<String>,
    /// Max minus min of wake times, ns.
    pub wake_spread_ns: i64,
    /// Max minus min of start times, ns.
    pub start_spread_ns: i64,
    /// Median start lateness, ns.
    pub median_late_ns: i64,
    /// Worst start lateness, ns.
    pub max_late_ns: i64,
}

/// Computes the spread; `offset_ns(host)` is the host's measured clock offset (host minus orchestrator).
pub fn spread(
    planned_ns: i64,
    receipts: &[(String, Receipt)],
    offset_ns: impl Fn(&str) -> i64,
) -> Spread {
    let mut fired = Vec::new();
    let mut missing = Vec::new();
    for (host, r) in receipts {
        match (r.woke_ns, r.started_ns) {
            (Some(w), Some(s))
                if !r.skipped_late && !r.skipped_disarmed && !r.skipped_uncommitted =>
            {
                let off = offset_ns(host);
                fired.push(Fired {
                    host: host.clone(),
                    woke_ns: w - off,
                    started_ns: s - off,
                    late_ns: s - off - planned_ns,
                });
            }
            _ => missing.push(host.clone()),
        }
    }
    let range = |f: &dyn Fn(&Fired) -> i64| {
        let v: Vec<i64> = fired.iter().map(f).collect();
        v.iter().max().zip(v.iter().min()).map_or(0, |(a, b)| a - b)
    };
    let mut late: Vec<i64> = fired.iter().map(|f| f.late_ns).collect();
    late.sort_unstable();
    Spread {
        wake_spread_ns: range(&|f| f.woke_ns),
        start_spread_ns: range(&|f| f.started_ns),
        median_late_ns: late.get(late.len() / 2).copied().unwrap_or(0),
        max_late_ns: late.last().copied().unwrap_or(0),
        fired,
        missing,
        unreachable: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_and_partial_receipts() {
        let r =
            parse("planned_ns=100\nwoke_ns=105\nstarted_ns=107\nended_ns=200\nexit=0\ndone=1\n");
        assert_eq!(r.exit, Some(0));
        assert!(r.done);
        let partial = parse("planned_ns=100\nwoke_ns=105\nstarted_ns=107\n");
        assert_eq!((partial.ended_ns, partial.done), (None, false));
        assert!(parse("planned_ns=1\nwoke_ns=9\nskipped=late\n").skipped_late);
    }

    #[test]
    fn spread_is_corrected_by_clock_offsets() {
        let rec = |w, s| Receipt {
            woke_ns: Some(w),
            started_ns: Some(s),
            ..Receipt::default()
        };
        let receipts = vec![
            ("a".to_string(), rec(1_010, 1_012)),
            ("b".to_string(), rec(1_530, 1_532)), // b's clock runs 500 ns ahead
            ("c".to_string(), Receipt::default()),
        ];
        let s = spread(1_000, &receipts, |h| if h == "b" { 500 } else { 0 });
        assert_eq!(s.missing, vec!["c".to_string()]);
        assert_eq!(s.start_spread_ns, 20);
        assert_eq!(s.wake_spread_ns, 20);
        assert_eq!(s.max_late_ns, 32);
    }
}
