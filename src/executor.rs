//! The batched executor: a pure core (batches, budget, state machine, events, output folding)
//! and a thin async engine that runs a phase's hosts batch by batch behind a barrier.
//!
//! The engine knows hosts only through [`HostRunner`], which the SSH transport implements;
//! every state change goes out as one [`Event`] on one channel for the journal and the views.

pub mod batch;
pub mod budget;
pub mod cancel;
pub mod control;
pub mod engine;
pub mod event;
pub mod fold;
pub mod nodeset;
pub mod report;
pub mod runner;
pub mod state;

pub use batch::BatchPlan;
pub use budget::{BudgetError, FailureBudget};
pub use cancel::CancelToken;
pub use control::Control;
pub use engine::Executor;
pub use event::{AbortMode, Event, HostOutcome, PhaseEnding, PhaseName, PhaseSummary};
pub use fold::{OutputGroup, fold, render};
pub use report::{HostReport, PhaseReport};
pub use runner::{HostRun, HostRunner};
