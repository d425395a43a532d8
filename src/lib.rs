//! cutover: change a whole fleet at the same instant, from a reviewed plan file.
//!
//! The crate is a pure core (plan model and validation, inventory selection, batching,
//! rendering) wrapped by thin async shells (SSH transport, executor, terminal, CLI).
//! See `docs/architecture.md` for the module map and the no-I/O rule of the core.

pub mod arm;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod compile;
pub mod edit;
pub mod executor;
pub mod fleet;
pub mod inventory;
pub mod journal;
pub mod lab;
pub mod plan;
pub mod redact;
pub mod remote;
pub mod report;
pub mod run;
pub mod sanitize;
pub mod transport;
pub mod tui;
pub mod watch;
