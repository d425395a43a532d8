//! The watch module against real etcd clusters on loopback, and the parsers' public surface.

// A test binary: a failed setup step (spawn, bind, parse) should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "watch/cluster.rs"]
mod cluster;
#[path = "watch/consul_fake.rs"]
mod consul_fake;
#[path = "watch/live.rs"]
mod live;
#[path = "watch/runner.rs"]
mod runner;
#[path = "watch/spec.rs"]
mod spec;
