//! Probe verdicts: one per target host from what the shell observed, then `min_pass` over them.

use crate::checks::{Observed, Verdict};
use crate::plan::model::{MetricBound, ProbeKind};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An HTTP answer as the shell saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpObserved {
    /// Status code.
    pub status: u16,
    /// Time to the full body.
    pub latency: Duration,
    /// Body text.
    pub body: String,
}

/// An http probe's expectations with its regexes compiled.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    expect_status: u16,
    body_matches: Option<Regex>,
    max_latency: Option<Duration>,
    metric: Option<(Regex, MetricBound)>,
}

/// A probe's verdict over its targets at one poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeVerdict {
    /// Probe name.
    pub name: String,
    /// When the poll started.
    pub taken_at: DateTime<Utc>,
    /// Targets that passed.
    pub passed: usize,
    /// Targets probed.
    pub total: usize,
    /// Fraction required.
    pub min_pass: f64,
    /// Each failing target and why.
    pub failures: Vec<(String, String)>,
}

impl HttpCheck {
    /// Compiles the expectations of an http probe; `None` for other kinds.
    pub fn from_kind(kind: &ProbeKind) -> Result<Option<Self>, regex::Error> {
        let ProbeKind::Http {
            expect_status,
            body_matches,
            max_latency,
            metric,
            ..
        } = kind
        else {
            return Ok(None);
        };
        Ok(Some(HttpCheck {
            expect_status: *expect_status,
            body_matches: body_matches.as_deref().map(Regex::new).transpose()?,
            max_latency: *max_latency,
            metric: match metric {
                Some(m) => Some((Regex::new(&m.pattern)?, m.clone())),
                None => None,
            },
        }))
    }

    /// Judges one answer: status, latency, body regex, then the symptom metric.
    pub fn judge(&self, observed: &Result<HttpObserved, String>) -> Verdict {
        let o = match observed {
            Ok(o) => o,
            Err(e) => return Verdict::Error { reason: e.clone() },
        };
        if o.status != self.expect_status {
            return Verdict::fail(format!(
                "status {} (expected {})",
                o.status, self.expect_status
            ));
        }
        if let Some(max) = self.max_latency.filter(|m| o.latency > *m) {
            return Verdict::fail(format!(
                "answered in {}ms (max {}ms)",
                o.latency.as_millis(),
                max.as_millis()
            ));
        }
        if let Some(re) = self
            .body_matches
            .as_ref()
            .filter(|re| !re.is_match(&o.body))
        {
            return Verdict::fail(format!("body does not match /{re}/"));
        }
        match &self.metric {
            Some((re, bound)) => metric_verdict(re, bound, &o.body),
            None => Verdict::Pass,
        }
    }
}

fn metric_verdict(re: &Regex, bound: &MetricBound, body: &str) -> Verdict {
    let Some(text) = re.captures(body).and_then(|c| c.get(1)) else {
        return Verdict::fail(format!("metric /{re}/ not found in body"));
    };
    let Ok(value) = text.as_str().trim().parse::<f64>() else {
        return Verdict::fail(format!("metric `{}` is not a number", text.as_str()));
    };
    if let Some(max) = bound.max.filter(|m| value > *m) {
        return Verdict::fail(format!("metric {value} above max {max}"));
    }
    if let Some(min) = bound.min.filter(|m| value < *m) {
        return Verdict::fail(format!("metric {value} below min {min}"));
    }
    Verdict::Pass
}

/// A TCP connect attempt: connected (any latency) passes, an error fails with it.
pub fn tcp_verdict(observed: &Result<Duration, String>) -> Verdict {
    match observed {
        Ok(_) => Verdict::Pass,
        Err(e) => Verdict::Error { reason: e.clone() },
    }
}

/// A command probe on one host: exit 0 passes.
pub fn command_verdict(observed: &Result<Observed, String>) -> Verdict {
    match observed {
        Ok(o) if o.exit == Some(0) => Verdict::Pass,
        Ok(o) => {
            let tail = o
                .stderr
                .lines()
                .last()
                .or(o.stdout.lines().last())
                .unwrap_or("");
            match o.exit {
                Some(code) => Verdict::fail(
                    format!("exit {code}: {tail}")
                        .trim_end_matches(": ")
                        .to_string(),
                ),
                None => Verdict::fail("no exit status (killed or channel closed)"),
            }
        }
        Err(e) => Verdict::Error { reason: e.clone() },
    }
}

impl ProbeVerdict {
    /// Gathers per-target verdicts; `min_pass` is the fraction that must pass.
    pub fn gather(
        name: &str,
        taken_at: DateTime<Utc>,
        min_pass: f64,
        results: Vec<(String, Verdict)>,
    ) -> Self {
        let total = results.len();
        let failures: Vec<(String, String)> = results
            .into_iter()
            .filter_map(|(host, v)| v.reason().map(|r| (host, r.to_string())))
            .collect();
        ProbeVerdict {
            name: name.to_string(),
            taken_at,
            passed: total - failures.len(),
            total,
            min_pass,
            failures,
        }
    }

    /// Passes when it probed something and enough targets passed (no targets is never a pass).
    pub fn ok(&self) -> bool {
        self.total > 0 && (self.passed as f64) + 1e-9 >= self.min_pass * self.total as f64
    }

    /// One line: `2/3 passed (need 100%): web-2: status 503`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}/{} passed (need {}%)",
            self.passed,
            self.total,
            (self.min_pass * 100.0).round()
        );
        if let Some((host, why)) = self.failures.first() {
            s.push_str(&format!(": {host}: {why}"));
        }
        s
    }
}

#[cfg(test)]
#[path = "probe/tests.rs"]
mod tests;
