//! The trait the transport is adapted to: run one host's step, honouring cancellation.

use super::cancel::CancelToken;
use super::event::HostOutcome;
use std::future::Future;

/// What one host's step produced: how it ended and, when there is one, its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRun<O> {
    /// How the host ended.
    pub outcome: HostOutcome,
    /// The step's output (already sanitized), if the host produced any.
    pub output: Option<O>,
}

impl<O> HostRun<O> {
    /// An outcome with output.
    pub fn new(outcome: HostOutcome, output: O) -> Self {
        Self {
            outcome,
            output: Some(output),
        }
    }

    /// An outcome without output (unreachable, cancelled before output, ...).
    pub fn without_output(outcome: HostOutcome) -> Self {
        Self {
            outcome,
            output: None,
        }
    }
}

/// Runs one phase step on one host; the SSH transport implements this.
///
/// When `cancel` fires the runner must stop the remote work promptly and return
/// `HostOutcome::Cancelled { started: true }` (or the outcome it already had): the executor
/// waits for every runner it started and never drops one mid-step.
pub trait HostRunner: Send + Sync + 'static {
    /// The output a host produces (e.g. sanitized stdout/stderr).
    type Output: Send + 'static;

    /// Runs the step on `host`; implementors may write `async fn run(...)`.
    fn run(
        &self,
        host: &str,
        cancel: CancelToken,
    ) -> impl Future<Output = HostRun<Self::Output>> + Send;
}
