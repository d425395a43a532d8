//! After a host's job is done with (fired and collected, or disarmed): its job script and
//! action output are removed from the host (`crate::arm::cleanup`); what had to stay is said.
//! Called once a run ends with nothing that may still fire (every action host, one parallel
//! round), and by `cutover disarm` for the hosts it accounted for.

use super::ctx::Ctx;
use super::event::RunEvent;
use crate::arm::cleanup::{self, Cleanup};
use std::time::Duration;

/// Cleanup is a `test`, a `grep` and an `rm`.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Cleans `host`'s run directory; journals a note when something sensitive stayed.
pub async fn after(ctx: &Ctx, host: &str) {
    if ctx.dry_run {
        return;
    }
    let answer = ctx
        .run(
            host,
            cleanup::script(&ctx.job_dir(host)),
            false,
            CLEANUP_TIMEOUT,
        )
        .await
        .map_or_else(
            |e| Cleanup::Unknown {
                output: e.to_string(),
            },
            |r| cleanup::parse(&r.stdout.text()),
        );
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
