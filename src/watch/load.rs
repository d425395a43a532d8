//! The watch's own load: what it asks of the fleet and the cluster it watches, per second, so an
//! operator sees before and during the fire whether the watch itself is a burden (a command
//! probe on every one of 255 hosts each second is 255 SSH commands a second on the machines the
//! action runs on). Pure: computed from the compiled sources and their intervals.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How a source's requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// HTTP from the orchestrator.
    Http,
    /// A TCP connect from the orchestrator.
    Tcp,
    /// A command over SSH on a target host.
    Ssh,
    /// A command on the orchestrator itself.
    Local,
}

/// One thing the watch polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// What it is: `etcd quorum`, `probe health`.
    pub what: String,
    /// How its requests travel.
    pub via: Via,
    /// Requests per poll (endpoints, or sampled hosts).
    pub asks: usize,
    /// Of how many targets (more than `asks` when the probe samples).
    pub of: usize,
    /// How often it is polled.
    pub every: Duration,
}

impl Source {
    /// Requests a second.
    pub fn per_second(&self) -> f64 {
        match self.every.as_secs_f64() {
            s if s > 0.0 => self.asks as f64 / s,
            _ => 0.0,
        }
    }
}

/// Everything the watch polls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Each source, quorum first.
    pub sources: Vec<Source>,
}

impl Load {
    /// Requests a second that travel `via`.
    pub fn per_second(&self, via: Via) -> f64 {
        self.sources
            .iter()
            .filter(|s| s.via == via)
            .map(Source::per_second)
            .sum()
    }
}

fn rate(r: f64) -> String {
    if r >= 10.0 || r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = match (self.via, self.asks == self.of) {
            (Via::Ssh, true) => format!("{} host(s) over SSH", self.asks),
            (Via::Ssh, false) => format!("{} of {} hosts over SSH", self.asks, self.of),
            (Via::Http, _) => format!("{} endpoint(s) over HTTP", self.asks),
            (Via::Tcp, true) => format!("{} host(s) by TCP connect", self.asks),
            (Via::Tcp, false) => format!("{} of {} hosts by TCP connect", self.asks, self.of),
            (Via::Local, _) => "the orchestrator".to_string(),
        };
        write!(
            f,
            "{} on {on} every {}",
            self.what,
            humantime::format_duration(self.every)
        )
    }
}

impl fmt::Display for Load {
    /// `etcd quorum on 3 endpoint(s) over HTTP every 1s; probe health on 20 of 255 hosts over
    /// SSH every 2s: 3 HTTP, 10 SSH requests a second`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sources.is_empty() {
            return f.write_str("nothing to poll");
        }
        let each: Vec<String> = self.sources.iter().map(ToString::to_string).collect();
        let totals: Vec<String> = [
            (Via::Http, "HTTP"),
            (Via::Tcp, "TCP"),
            (Via::Ssh, "SSH"),
            (Via::Local, "local"),
        ]
        .iter()
        .filter(|(via, _)| self.sources.iter().any(|s| s.via == *via))
        .map(|(via, name)| format!("{} {name}", rate(self.per_second(*via))))
        .collect();
        write!(
            f,
            "{}: {} requests a second",
            each.join("; "),
            totals.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(what: &str, via: Via, asks: usize, of: usize, ms: u64) -> Source {
        Source {
            what: what.into(),
            via,
            asks,
            of,
            every: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_sampled_command_probe_says_how_many_of_how_many_and_the_rate() {
        let load = Load {
            sources: vec![
                src("etcd quorum", Via::Http, 3, 3, 1000),
                src("probe health", Via::Ssh, 20, 255, 2000),
            ],
        };
        assert_eq!(
            load.to_string(),
            "etcd quorum on 3 endpoint(s) over HTTP every 1s; probe health on 20 of 255 hosts over SSH every 2s: 3 HTTP, 10 SSH requests a second"
        );
        assert_eq!(load.per_second(Via::Ssh), 10.0);
        assert_eq!(load.per_second(Via::Tcp), 0.0);
    }

    #[test]
    fn every_host_every_second_is_the_load_the_issue_saw() {
        let load = Load {
            sources: vec![src("probe ready", Via::Ssh, 255, 255, 1000)],
        };
        assert_eq!(load.per_second(Via::Ssh), 255.0);
        assert!(load.to_string().ends_with("255 SSH requests a second"));
    }

    #[test]
    fn fractional_rates_keep_one_decimal_and_nothing_polled_says_so() {
        let load = Load {
            sources: vec![src("probe api", Via::Tcp, 3, 3, 2000)],
        };
        assert!(load.to_string().ends_with("1.5 TCP requests a second"));
        assert_eq!(Load::default().to_string(), "nothing to poll");
    }
}
