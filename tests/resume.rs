//! Crash-safe resume on real OpenSSH sshd hosts: `cutover run` is killed with SIGKILL at each
//! phase boundary and mid-batch, then `cutover resume` must converge without any host firing
//! twice or staying armed; plus the run lock between live runs, and disarm's side journal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

#[path = "resume/harness.rs"]
mod harness;
#[path = "resume/hostile.rs"]
mod hostile;
#[path = "resume/kill.rs"]
mod kill;
#[path = "resume/lock.rs"]
mod lock;
#[path = "resume/secrets.rs"]
mod secrets;

#[allow(unused_imports)]
use harness::*;
