//! `cutover lab`: a rehearsal fleet on loopback whose hosts behave like the reference fleet.
//!
//! Each lab host has its own `127.0.x.y` address, host key and tree (`etc/consul.json`, units,
//! an agent, a "consul-like" service), PATH shims that answer cutover's checks truthfully, and
//! optional injected faults. `spec` and `shims` are pure; `up`/`down` and the backends are the
//! thin shells that create files and start and stop (only) the lab's own processes.

pub mod demo;
pub mod down;
pub mod embedded;
pub mod etcd;
pub mod faults;
pub mod inventory;
pub mod keys;
pub mod nspawn;
pub mod procs;
pub mod serve;
pub mod shims;
pub mod spec;
pub mod sshd;
pub mod state;
pub mod status;
pub mod tree;
pub mod up;

use std::path::Path;

/// Why a lab command failed, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The options make no lab.
    #[error("{0}")]
    Usage(String),
    /// A file or directory could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A system program the lab needs is missing.
    #[error("`{program}` is not installed: apt-get install {package}")]
    Missing {
        /// The program.
        program: String,
        /// The package that gives it.
        package: String,
    },
    /// A lab process did not start.
    #[error("could not start {what}: {reason}")]
    Start {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// There is no lab in the directory.
    #[error("no lab in {dir} (start one with `cutover lab up --dir {dir}`): {source}")]
    NoLab {
        /// The directory.
        dir: String,
        /// Why the state file could not be read.
        source: std::io::Error,
    },
    /// The state file is not the lab's.
    #[error("{path} is not a lab state file ({reason}); remove the directory by hand")]
    Corrupt {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A lab is already running there.
    #[error("a lab is already up in {dir}: `cutover lab down --dir {dir}` first")]
    AlreadyUp {
        /// The directory.
        dir: String,
    },
}

impl LabError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
