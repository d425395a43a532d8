//! Arming a resumed run: a host the journal shows armed is re-verified, never armed again;
//! any other host first loses whatever an interrupted attempt may have armed there.

use super::{ArmRunner, Reap, disarm_script, failed, name, possible, verify_script};
use crate::executor::HostOutcome;
use crate::run::event::RunEvent;

impl ArmRunner {
    /// Resume: a host the journal shows armed is re-verified, never armed again. Returns its
    /// job id when the job is still queued with the same wrapper; `None` when it is gone.
    pub(super) async fn still_armed(&self, host: &str) -> Result<Option<String>, HostOutcome> {
        let prior = self.ctx.state().armed.get(host).cloned();
        let Some(job) = prior else {
            return Ok(None);
        };
        let mechanism = job.mechanism;
        let dir = self.ctx.job_dir(host);
        let sha = crate::remote::files::sha256_hex(self.wrapper(host, &dir).as_bytes());
        let script = verify_script(mechanism, &self.ctx.run_id, &dir, &sha);
        let verified = self.step(host, script).await.unwrap_or_default();
        if verified.trim() != "verified" {
            return Ok(None);
        }
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), mechanism);
        self.ctx.emit(RunEvent::Armed {
            host: host.into(),
            mechanism,
            id: job.id.clone(),
        });
        Ok(Some(job.id.clone()))
    }

    /// Resume: before arming a host the journal does not show armed, takes back whatever the
    /// crashed attempt may have armed there unrecorded (killed between arming and journaling),
    /// so the host never holds two jobs. Refuses a host that already fired.
    pub(super) async fn take_back(&self, host: &str) -> Result<(), HostOutcome> {
        let dir = self.ctx.job_dir(host);
        for m in possible(self.action.mechanism) {
            let out = self
                .step(host, disarm_script(m, &self.ctx.run_id, &dir, Reap::Gone))
                .await?;
            if out.trim() != "disarmed" {
                return Err(failed(format!(
                    "could not clear an earlier attempt's {} job before arming again",
                    name(m)
                )));
            }
        }
        Ok(())
    }
}
