//! Plan files: syntax, validation into a runnable model, diagnostics, runbook and digest.

pub mod diagnostic;
pub mod parse;
pub mod raw;
pub mod model;
pub mod timeline;
pub mod validate;
pub mod digest;
pub mod runbook;
pub mod schema;
