//! Rehearsal labs: local fleets on loopback that behave like production hosts.

pub mod embedded;
