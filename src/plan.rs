//! Plan files: syntax, validation into a runnable model, diagnostics, runbook and digest.

pub mod diagnostic;
pub mod digest;
pub mod format;
mod hints;
pub mod model;
pub mod parse;
pub mod raw;
pub mod runbook;
pub mod schema;
pub mod template;
pub mod timeline;
pub mod validate;
