//! Running a check on one host: the remote script (or an orchestrator-side probe) and its verdict.

use super::ctx::Ctx;
use super::event::RunEvent;
use crate::checks::clock::{Sample, estimate, parse_remote_ns, parse_status};
use crate::checks::{Observed, Verdict, evaluate};
use crate::executor::{CancelToken, HostOutcome, HostRun, HostRunner};
use crate::fleet::FleetError;
use crate::plan::model::{Check, CheckKind};
use crate::plan::template::fields;
use crate::remote::{self, Script};
use std::sync::Arc;
use std::time::Duration;

/// Clock samples per host: the shortest round trip of these wins.
pub const CLOCK_SAMPLES: usize = 5;

/// Runs one check over the executor.
pub struct CheckRunner {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// The check.
    pub check: Check,
}

impl HostRunner for CheckRunner {
    type Output = Verdict;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<Verdict> {
        let verdict = tokio::select! {
            v = self.verdict(host) => v,
            () = cancel.cancelled() => return HostRun::without_output(HostOutcome::Cancelled { started: true }),
        };
        self.ctx.emit(RunEvent::Check {
            path: self.check.settings.path.clone(),
            host: host.into(),
            verdict: verdict.clone(),
        });
        let outcome = match &verdict {
            Verdict::Pass => HostOutcome::Ok { detail: None },
            Verdict::Fail { reason } => HostOutcome::Failed {
                reason: reason.clone(),
                exit: None,
            },
            Verdict::Error { reason } => HostOutcome::Unreachable {
                reason: reason.clone(),
            },
        };
        HostRun::new(outcome, verdict)
    }
}

impl CheckRunner {
    async fn verdict(&self, host: &str) -> Verdict {
        let s = &self.check.settings;
        let kind = match self.ctx.rendered(host, &self.check.kind, fields::check) {
            Ok(k) => k,
            Err(e) => return Verdict::fail(e),
        };
        match &kind {
            CheckKind::Clock {
                max_offset,
                ntp_synchronized,
                timezone,
            } => {
                clock(
                    &self.ctx,
                    host,
                    s.timeout,
                    &self.check.kind,
                    *max_offset,
                    *ntp_synchronized,
                    timezone.as_deref(),
                )
                .await
            }
            CheckKind::Http {
                url,
                expect_status,
                body_matches,
            } => http(url, *expect_status, body_matches.as_deref(), s.timeout).await,
            CheckKind::Tcp { port } => tcp(&self.ctx, host, *port, s.timeout).await,
            kind => self.remote_verdict(host, kind).await,
        }
    }

    async fn remote_verdict(&self, host: &str, kind: &CheckKind) -> Verdict {
        let s = &self.check.settings;
        let Script::Remote(script) = remote::check(kind) else {
            return Verdict::Error {
                reason: "internal: not a remote check".into(),
            };
        };
        match self.ctx.run(host, script, s.sudo, s.timeout).await {
            Ok(r) if r.sudo_password_required => {
                Verdict::fail("sudo: a password is required (cutover only uses sudo -n)")
            }
            Ok(r) => evaluate::evaluate(kind, &observed(&r)),
            Err(e) => unreachable(e),
        }
    }
}

/// A command result as checks see it.
pub fn observed(r: &crate::transport::CommandResult) -> Observed {
    let exit = match r.status {
        crate::transport::ExitStatus::Code(c) => Some(c),
        _ => None,
    };
    Observed {
        exit,
        stdout: r.stdout.text(),
        stderr: r.stderr.text(),
    }
}

/// An error verdict for a host that could not be asked.
pub fn unreachable(e: FleetError) -> Verdict {
    Verdict::Error {
        reason: format!("unreachable: {e}"),
    }
}

async fn clock(
    ctx: &Ctx,
    host: &str,
    timeout: Duration,
    kind: &CheckKind,
    max: Duration,
    ntp: bool,
    zone: Option<&str>,
) -> Verdict {
    let mut samples = Vec::with_capacity(CLOCK_SAMPLES);
    for _ in 0..CLOCK_SAMPLES {
        let sent = ns(ctx.now());
        let r = match ctx.run(host, "date +%s%N".into(), false, timeout).await {
            Ok(r) => r,
            Err(e) => return unreachable(e),
        };
        let received = ns(ctx.now());
        if let Some(remote_ns) = parse_remote_ns(&r.stdout.text()) {
            samples.push(Sample {
                sent_ns: sent,
                remote_ns,
                received_ns: received,
            });
        }
    }
    let Script::Remote(script) = remote::check(kind) else {
        return Verdict::Error {
            reason: "internal".into(),
        };
    };
    let status = match ctx.run(host, script, false, timeout).await {
        Ok(r) => parse_status(&r.stdout.text()),
        Err(e) => return unreachable(e),
    };
    let offset = estimate(&samples);
    if let Some(o) = offset {
        ctx.offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), o.offset_ns);
    }
    evaluate::clock(offset, &status, max, ntp, zone)
}

fn ns(t: chrono::DateTime<chrono::Utc>) -> i128 {
    i128::from(t.timestamp_nanos_opt().unwrap_or(0))
}

async fn http(url: &str, expect: u16, body: Option<&str>, timeout: Duration) -> Verdict {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return Verdict::Error {
                reason: e.to_string(),
            };
        }
    };
    let resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Verdict::fail(format!("GET {url}: {e}")),
    };
    let status = resp.status().as_u16();
    if status != expect {
        return Verdict::fail(format!("GET {url}: status {status}, expected {expect}"));
    }
    let text = resp.text().await.unwrap_or_default();
    match body.and_then(|p| regex::Regex::new(p).ok()) {
        Some(re) if !re.is_match(&text) => {
            Verdict::fail(format!("GET {url}: body does not match /{}/", re.as_str()))
        }
        _ => Verdict::Pass,
    }
}

async fn tcp(ctx: &Ctx, host: &str, port: u16, timeout: Duration) -> Verdict {
    let Some(h) = ctx.hosts.get(host) else {
        return Verdict::Error {
            reason: "unknown host".into(),
        };
    };
    let addr = format!("{}:{port}", h.address);
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Verdict::Pass,
        Ok(Err(e)) => Verdict::fail(format!("tcp {addr}: {e}")),
        Err(_) => Verdict::fail(format!(
            "tcp {addr}: no answer within {}s",
            timeout.as_secs()
        )),
    }
}
