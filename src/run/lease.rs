//! One run per host, fleet-wide: before staging changes anything, the run takes an ownership
//! lease on each host, in the host's cutover directory (run id, operator, plan digest,
//! expiry). A second run, from any machine and any directory, finds a live lease of another
//! run and is refused on that host, naming the holder. The holding run's `resume` and
//! `disarm` work (same run id); a lease is released when its run ends with nothing armed,
//! and expires on its own after the run's fire time and watch.

use super::ctx::{Ctx, failure_reason, round};
use crate::executor::{CancelToken, HostOutcome, HostRun, HostRunner};
use crate::remote::quote;
use crate::transport::Limit;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How long after the fire time (and the watch's timeout) a lease outlives a run that never
/// released it (a crashed orchestrator nobody resumed): long enough to resume it, short
/// enough not to block the next maintenance window.
pub const LEASE_GRACE: Duration = Duration::from_secs(15 * 60);

/// Time allowed for one lease command.
const LEASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Who holds a lease, as written on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The run id.
    pub run: String,
    /// `user@host` of the operator's machine.
    pub operator: String,
    /// The plan digest.
    pub digest: String,
    /// Unix seconds after which the lease is void.
    pub expires: i64,
}

/// The lease file under a host's cutover base directory.
pub fn lease_path(base: &str) -> String {
    format!("{}/lease", base.trim_end_matches('/'))
}

/// The script that takes (or renews) the lease: refuses when another run's lease has not
/// expired at `now` (the orchestrator's clock, which wrote every expiry), naming its holder;
/// changes are serialised on the host by `flock` (released by the kernel when the shell
/// dies, so a killed orchestrator leaves no stale lock). The lease is read with shell
/// builtins: `flock` and the `mv` that replaces the lease are its only processes. The run's
/// job directory `job_dir` (under `base`) is made here, private, if it is missing, so that
/// arming, which would otherwise make it, starts one process fewer on every host.
pub fn acquire_script(base: &str, job_dir: &str, lease: &Lease, now: i64) -> String {
    let f = quote(&lease_path(base));
    format!(
        "set -u\n[ -d {j} ] || mkdir -p -m 0700 {j} || exit 1\nf={f}\nexec 9>>\"$f.lock\"\nflock -w 5 9 || {{ echo 'cutover: the lease is being changed by another run' >&2; exit 1; }}\nif [ -s \"$f\" ]; then\n  {READ_LEASE}\n  if [ \"$run\" != {run} ] && [ \"$exp\" -gt {now} ]; then echo \"cutover: this host is leased by run $run ($op) until $(date -u -d @$exp +%H:%M:%SZ 2>/dev/null || echo $exp); wait for it, or take it back with: cutover disarm $run\" >&2; exit 3; fi\nfi\nprintf 'run=%s\\noperator=%s\\ndigest=%s\\nexpires=%s\\n' {run} {op} {digest} {exp} > \"$f.tmp\" && mv \"$f.tmp\" \"$f\" && echo leased\n",
        j = quote(job_dir),
        run = quote(&lease.run),
        op = quote(&lease.operator),
        digest = quote(&lease.digest),
        exp = lease.expires,
    )
}

/// Reads the lease file `$f` into `$run`, `$op` and `$exp` (0 unless a number) with builtins.
const READ_LEASE: &str = "run=; op=; exp=0; while IFS= read -r l || [ -n \"$l\" ]; do case \"$l\" in run=*) run=${l#run=};; operator=*) op=${l#operator=};; expires=*) exp=${l#expires=};; esac; done < \"$f\"; case \"$exp\" in ''|*[!0-9]*) exp=0;; esac";

/// The script that releases the lease if this run holds it.
pub fn release_script(base: &str, run: &str) -> String {
    let f = quote(&lease_path(base));
    format!(
        "f={f}\nif [ -s \"$f\" ]; then {READ_LEASE}; [ \"$run\" != {run} ] || rm -f \"$f\"; fi\necho released\n",
        run = quote(run)
    )
}

/// When a lease taken now for a run firing at `fire` (watched up to `watch`) expires.
pub fn expiry(fire: DateTime<Utc>, watch: Option<Duration>) -> i64 {
    let tail = watch.unwrap_or_default() + LEASE_GRACE;
    (fire + chrono::Duration::from_std(tail).unwrap_or_default()).timestamp()
}

/// Takes the run's lease on each host (a step of the executor: a refused host fails).
pub struct LeaseRunner {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// The lease to write.
    pub lease: Lease,
}

impl HostRunner for LeaseRunner {
    type Output = ();

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<()> {
        let r = tokio::select! {
            r = take(&self.ctx, host, &self.lease) => r,
            () = cancel.cancelled() => return HostRun::without_output(HostOutcome::Cancelled { started: true }),
        };
        let outcome = match r {
            Ok(()) => HostOutcome::Ok { detail: None },
            Err(Refused::Held(reason)) => HostOutcome::Failed { reason, exit: None },
            Err(Refused::Unreachable(reason)) => HostOutcome::Unreachable { reason },
        };
        HostRun::without_output(outcome)
    }
}

/// Why a lease was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Another live run holds it (the reason names it), or the script failed.
    Held(String),
    /// The host could not be reached.
    Unreachable(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Held(r) | Refused::Unreachable(r) => f.write_str(r),
        }
    }
}

/// Takes (or renews) `lease` on one host.
pub async fn take(ctx: &Ctx, host: &str, lease: &Lease) -> Result<(), Refused> {
    let script = acquire_script(
        &ctx.cutover_base(host),
        &ctx.job_dir(host),
        lease,
        ctx.clock.now().timestamp(),
    );
    // Bounded by itself (`flock -w 5`, file writes): no `timeout` process per host.
    match ctx
        .run_own(host, script, Limit::Script, LEASE_TIMEOUT)
        .await
    {
        Ok(r) if r.stdout.text().trim() == "leased" => Ok(()),
        Ok(r) => Err(Refused::Held(
            failure_reason(&r).unwrap_or_else(|| "lease not confirmed".into()),
        )),
        Err(e) => Err(Refused::Unreachable(e.to_string())),
    }
}

/// Releases the run's lease on `hosts`, all at once, best effort (an unreachable host's
/// lease expires on its own).
pub async fn release(ctx: &Arc<Ctx>, hosts: &[String]) {
    round(ctx, hosts, |ctx, host| async move {
        let script = release_script(&ctx.cutover_base(&host), &ctx.run_name);
        let _ = ctx
            .run_own(&host, script, Limit::Script, LEASE_TIMEOUT)
            .await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_what_they_write_and_name_the_holder() {
        let lease = Lease {
            run: "r-1".into(),
            operator: "sre@box; rm -rf /".into(),
            digest: "sha256:abc".into(),
            expires: 1_900_000_000,
        };
        let s = acquire_script(
            "/var/tmp/cutover",
            "/var/tmp/cutover/r-1",
            &lease,
            1_800_000_000,
        );
        assert!(s.contains("'sre@box; rm -rf /'"), "{s}");
        assert!(s.contains("leased by run $run ($op)"));
        assert!(s.contains("expires=%s") && s.contains("1900000000"));
        assert!(s.contains("-gt 1800000000 ]"), "{s}");
        let r = release_script("/var/tmp/cutover/", "r-1");
        assert!(r.contains("f=/var/tmp/cutover/lease"), "{r}");
    }

    /// The lease is read by builtins, one line at a time; a holder that is not this run and
    /// has not expired refuses, naming it; an expired one, or this run's own, is taken over;
    /// release removes only this run's lease.
    #[test]
    fn a_live_lease_of_another_run_refuses_and_an_expired_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().display().to_string();
        let sh = |script: String| {
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let lease = |run: &str, expires| Lease {
            run: run.into(),
            operator: "sre@box".into(),
            digest: "sha256:abc".into(),
            expires,
        };
        assert_eq!(
            sh(acquire_script(
                &base,
                &format!("{base}/run"),
                &lease("r-1", 2_000),
                1_000
            ))
            .1,
            "leased\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(format!("{base}/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the run's job directory is made, private"
        );
        let (code, _, err) = sh(acquire_script(
            &base,
            &format!("{base}/run"),
            &lease("r-2", 3_000),
            1_500,
        ));
        assert_eq!(code, Some(3), "{err}");
        assert!(err.contains("leased by run r-1 (sre@box)"), "{err}");
        assert_eq!(
            sh(acquire_script(
                &base,
                &format!("{base}/run"),
                &lease("r-1", 2_500),
                1_500
            ))
            .1,
            "leased\n"
        );
        assert_eq!(
            sh(acquire_script(
                &base,
                &format!("{base}/run"),
                &lease("r-2", 3_000),
                2_600
            ))
            .1,
            "leased\n"
        );
        sh(release_script(&base, "r-1"));
        assert!(
            std::path::Path::new(&lease_path(&base)).exists(),
            "r-1 released r-2's lease"
        );
        sh(release_script(&base, "r-2"));
        assert!(!std::path::Path::new(&lease_path(&base)).exists());
    }

    #[test]
    fn a_lease_outlives_the_fire_and_the_watch_by_the_grace() {
        let fire = DateTime::from_timestamp(1_000_000, 0).unwrap_or_default();
        assert_eq!(
            expiry(fire, Some(Duration::from_secs(60))),
            1_000_000 + 60 + 900
        );
    }
}
