//! The watch module against real etcd clusters on loopback, and the parsers' public surface.

#[path = "watch/cluster.rs"]
mod cluster;
#[path = "watch/live.rs"]
mod live;
#[path = "watch/spec.rs"]
mod spec;
