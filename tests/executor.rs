//! Scheduling tests of the async executor against an in-process fake host runner.
//!
//! These cover pure scheduling (barrier, budget, pause, abort, concurrency, event order);
//! real-sshd runs come with the transport.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may panic on a broken setup

mod executor {
    pub mod abort;
    pub mod budget;
    pub mod events;
    pub mod fake;
    pub mod pause;
}
