//! The operator's handle on a running phase: pause after the current batch, resume, abort.
//!
//! The handle holds the *requested* state, not a queue of commands: a pause withdrawn before
//! the barrier never pauses, and one handle may drive several phases in turn (a pause left
//! standing holds the next phase before its first batch; an abort stops it at once).

use super::event::AbortMode;
use std::sync::Arc;
use tokio::sync::watch;

/// The reason given to an abort requested without one.
pub const DEFAULT_ABORT_REASON: &str = "aborted by operator";

/// What the operator currently asks of the executor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    /// Hold at the next barrier.
    pub pause: bool,
    /// Stop, with the mode and reason; once set it only escalates.
    pub abort: Option<(AbortMode, String)>,
}

/// A cloneable handle to pause, resume or abort phases run with it.
#[derive(Debug, Clone)]
pub struct Control {
    tx: Arc<watch::Sender<Requested>>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    /// A handle with nothing requested.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(Requested::default())),
        }
    }

    /// Hold the phase once the current batch finishes.
    pub fn pause(&self) {
        self.tx
            .send_if_modified(|r| !std::mem::replace(&mut r.pause, true));
    }

    /// Withdraw a pause, or leave one.
    pub fn resume(&self) {
        self.tx
            .send_if_modified(|r| std::mem::replace(&mut r.pause, false));
    }

    /// Abort: cancel pending hosts and treat in-flight ones per `mode`.
    pub fn abort(&self, mode: AbortMode) {
        self.abort_because(mode, DEFAULT_ABORT_REASON);
    }

    /// Abort with a reason for the journal; a later abort can only escalate the mode.
    pub fn abort_because(&self, mode: AbortMode, reason: impl Into<String>) {
        let reason = reason.into();
        self.tx.send_if_modified(|r| match &r.abort {
            Some((current, _)) if *current >= mode => false,
            _ => {
                r.abort = Some((mode, reason));
                true
            }
        });
    }

    /// What is requested now.
    pub fn requested(&self) -> Requested {
        self.tx.borrow().clone()
    }

    /// A receiver that wakes on every change of the request.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Requested> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_only_escalates() {
        let control = Control::new();
        control.abort_because(AbortMode::StopInFlight, "disk");
        control.abort(AbortMode::LetInFlightFinish);
        assert_eq!(
            control.requested().abort,
            Some((AbortMode::StopInFlight, "disk".into()))
        );
    }

    #[test]
    fn resume_withdraws_a_pause() {
        let control = Control::new();
        control.pause();
        assert!(control.requested().pause);
        control.resume();
        assert_eq!(control.requested(), Requested::default());
    }
}
