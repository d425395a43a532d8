//! The etcd member of a real host: its unit (`lab::etcd::unit`), enabled, written into the
//! host's root before it boots, and the controller's own `etcd` binary bind-mounted read-only
//! at `lab::etcd::HOST_BINARY`, so the shared root file system needs no etcd of its own.

use super::LabError;
use super::host::{Bind, Dirs};
use crate::lab::etcd::{HOST_BINARY, UNIT, unit};
use crate::lab::spec::{LabHost, LabSpec};
use crate::lab::tree;
use std::path::Path;

/// The bind that shows the controller's `etcd` (symlinks resolved) to a member host.
pub fn bind(etcd: &Path) -> Result<Bind, LabError> {
    let source = std::fs::canonicalize(etcd).map_err(|e| LabError::io(etcd, e))?;
    Ok(Bind {
        source,
        target: HOST_BINARY.into(),
    })
}

/// Writes the member's unit into the host's (mounted) root and enables it the way `systemctl
/// enable` does, with the `multi-user.target.wants` link, so every boot starts it.
pub fn install(spec: &LabSpec, h: &LabHost) -> Result<(), LabError> {
    let root = Dirs::of(h).root;
    let units = root.join("etc/systemd/system");
    let wants = units.join("multi-user.target.wants");
    tree::mkdir(&wants)?;
    tree::write(&units.join(UNIT), &unit(spec, h))?;
    let link = wants.join(UNIT);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(Path::new("/etc/systemd/system").join(UNIT), &link)
        .map_err(|e| LabError::io(&link, e))?;
    // The bind's mount point: nspawn mounts a file only over an existing file.
    let point = root.join(HOST_BINARY.trim_start_matches('/'));
    if let Some(dir) = point.parent() {
        tree::mkdir(dir)?;
    }
    tree::write(&point, "")
}
