//! `lab down`: stop exactly the recorded processes (verified to be the lab's), remove the lab.

use super::state::LabState;
use super::{LabError, procs};
use std::path::Path;

/// What `lab down` stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// One line per process stopped.
    pub stopped: Vec<String>,
    /// Recorded pids that were already gone (or recycled by another program: left alone).
    pub gone: Vec<String>,
}

/// Stops the servers, then the services the hosts started, then removes the lab directory.
pub fn down(dir: &Path) -> Result<Stopped, LabError> {
    let state = LabState::load(dir)?;
    let mut out = Stopped::default();
    if state.spec.backend == super::spec::Backend::Nspawn {
        out.stopped = super::nspawn::down(&state);
        std::fs::remove_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        return Ok(out);
    }
    let services = state.service_pids();
    let servers = state
        .pids
        .iter()
        .map(|r| (r.pid, r.what.clone(), r.marker.clone()));
    for (pid, what, marker) in servers.chain(services) {
        let line = format!("{what} (pid {pid})");
        if procs::stop(pid, &marker) {
            out.stopped.push(line);
        } else {
            out.gone.push(line);
        }
    }
    std::fs::remove_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    Ok(out)
}
