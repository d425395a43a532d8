//! After a host's job is done with (receipt collected, or disarmed): its job script and
//! action output are removed from the host (`crate::arm::cleanup`); what had to stay is said.

use super::ctx::Ctx;
use super::event::RunEvent;
use crate::arm::cleanup::Cleanup;

/// Cleans `host`'s run directory; journals a note when something sensitive stayed.
pub async fn after(ctx: &Ctx, host: &str) {
    if ctx.dry_run {
        return;
    }
    let left = match ctx.fleet.clean_run_dir(host, &ctx.job_dir(host)).await {
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
