//! The lab's record of itself (`DIR/lab.json`): what was asked for and every pid it started.

use super::LabError;
use super::spec::{LabSpec, state_path};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One process the lab started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Its pid.
    pub pid: u32,
    /// What it is: `sshd lab-2`, `embedded server`, ...
    pub what: String,
    /// Text its command line must contain for `lab down` to stop it (not a recycled pid).
    pub marker: String,
}

/// A lab that is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// The options it was started with.
    pub spec: LabSpec,
    /// The SSH server processes (service processes are recorded by each host in `run/*.pid`).
    pub pids: Vec<Recorded>,
}

impl LabState {
    /// Reads `DIR/lab.json`.
    pub fn load(dir: &Path) -> Result<LabState, LabError> {
        let path = state_path(dir);
        let text = std::fs::read_to_string(&path).map_err(|source| LabError::NoLab {
            dir: dir.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| LabError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Writes `DIR/lab.json` (temporary file, then rename).
    pub fn save(&self) -> Result<(), LabError> {
        let path = self.spec.state_path();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| LabError::io(&path, source))
    }

    /// Processes the hosts themselves recorded, each with the host root that must appear in
    /// its command line: services (`run/*.pid`) and armed waiters (`var/cutover/*/waiter.pid`).
    pub fn service_pids(&self) -> Vec<(u32, String, String)> {
        let mut out = Vec::new();
        for h in self.spec.lab_hosts() {
            let marker = format!("{}/", h.root.display());
            for (pid, what) in pid_files(&h.root.join("run"), |name| {
                name.strip_suffix(".pid").map(str::to_string)
            }) {
                out.push((pid, format!("{what} on {}", h.name), marker.clone()));
            }
            let Ok(runs) = std::fs::read_dir(h.cutover_dir()) else {
                continue;
            };
            for run in runs.flatten() {
                let waiter =
                    |name: &str| (name == "waiter.pid").then(|| "armed waiter".to_string());
                for (pid, what) in pid_files(&run.path(), waiter) {
                    out.push((pid, format!("{what} on {}", h.name), marker.clone()));
                }
            }
        }
        out
    }
}

/// `(pid, label)` of the pid files in `dir` that `label` names.
fn pid_files(dir: &Path, label: impl Fn(&str) -> Option<String>) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let what = label(&e.file_name().to_string_lossy())?;
            let pid = std::fs::read_to_string(e.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((pid, what))
        })
        .collect()
}
