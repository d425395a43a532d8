//! `cutover lab` and `cutover demo`: labs on loopback (both backends), injected faults seen
//! through full `cutover run`s, the demo end to end, and `lab down` leaving nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "lab/harness.rs"]
mod harness;

#[path = "lab/backends.rs"]
mod backends;
#[path = "lab/demo.rs"]
mod demo;
#[path = "lab/drift.rs"]
mod drift;
#[path = "lab/exclusion.rs"]
mod exclusion;
#[path = "lab/faults.rs"]
mod faults;
#[path = "lab/lifecycle.rs"]
mod lifecycle;
#[path = "lab/output.rs"]
mod output;
#[path = "lab/rollback.rs"]
mod rollback;
