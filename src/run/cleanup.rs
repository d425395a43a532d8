//! After a host's job is done with (fired and collected, or disarmed): its job script and
//! action output are removed from the host (`crate::arm::cleanup`); what had to stay is said.
//! Called once a run ends with nothing that may still fire: every action host and every
//! leased host, one parallel round, the cleanup and the lease release in one command.

use super::ctx::{Ctx, round};
use super::event::RunEvent;
use super::lease;
use crate::arm::cleanup::{self, Cleanup};
use crate::transport::Limit;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Cleanup and the lease release are shell builtins and at most two `rm`.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The end of a run, one parallel round with one command per host: the job's sensitive
/// files removed on the hosts in `clean` (the action hosts, once arming started), and the
/// run's lease released on those in `leased` (only this run's: the script checks).
pub async fn close(ctx: &Arc<Ctx>, clean: &[String], leased: &[String]) {
    if ctx.dry_run {
        return;
    }
    let cleaned: Arc<HashSet<String>> = Arc::new(clean.iter().cloned().collect());
    let released: Arc<HashSet<String>> = Arc::new(leased.iter().cloned().collect());
    let mut seen = HashSet::new();
    let hosts: Vec<String> = clean
        .iter()
        .chain(leased)
        .filter(|h| seen.insert(h.as_str()))
        .cloned()
        .collect();
    round(ctx, &hosts, |ctx, host| {
        let (clean, release) = (cleaned.contains(&host), released.contains(&host));
        async move { close_one(&ctx, &host, clean, release).await }
    })
    .await;
}

/// Cleans `host`'s run directory (when `clean`) and releases its lease (when `release`) in
/// one command; journals a note when something sensitive stayed.
async fn close_one(ctx: &Ctx, host: &str, clean: bool, release: bool) {
    let mut script = String::new();
    if clean {
        script.push_str(&cleanup::script(&ctx.job_dir(host)));
    }
    if release {
        script.push_str(&lease::release_script(
            &ctx.cutover_base(host),
            &ctx.run_name,
        ));
    }
    if script.is_empty() {
        return;
    }
    let answer = ctx
        .run_own(host, script, Limit::Script, CLEANUP_TIMEOUT)
        .await
        .map_or_else(
            |e| Cleanup::Unknown {
                output: e.to_string(),
            },
            |r| cleanup::parse(&r.stdout.text()),
        );
    if !clean {
        return;
    }
    let left = match answer {
        Cleanup::Removed | Cleanup::Absent => return,
        Cleanup::Kept { reason } => reason,
        Cleanup::Unknown { output } => format!("cleanup not confirmed: {output}"),
    };
    ctx.emit(RunEvent::Operator {
        action: format!(
            "{host}: job script and action output left in {} ({left})",
            ctx.job_dir(host)
        ),
    });
}
