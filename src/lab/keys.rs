//! Keys of a lab: a host key per host and one client key, unencrypted ed25519 in OpenSSH format.

use super::LabError;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes a new ed25519 key at `path` (and `path.pub`); returns the public line `ssh-ed25519 AAAA…`.
pub fn generate(path: &Path) -> Result<String, LabError> {
    let keygen = super::procs::find("ssh-keygen").ok_or_else(|| LabError::Missing {
        program: "ssh-keygen".into(),
        package: "openssh-client".into(),
    })?;
    let status = Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| LabError::io(path, e))?;
    if !status.success() {
        return Err(LabError::Start {
            what: format!("ssh-keygen for {}", path.display()),
            reason: status.to_string(),
        });
    }
    let pub_path = path.with_extension("pub");
    let text = std::fs::read_to_string(&pub_path).map_err(|e| LabError::io(&pub_path, e))?;
    Ok(text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}
