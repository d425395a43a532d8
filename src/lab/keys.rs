//! Keys of a lab: a host key per host and one client key, unencrypted ed25519 in OpenSSH format,
//! generated in-process (no `ssh-keygen`), so both backends work on a machine without OpenSSH.

use super::LabError;
use super::embedded::{generate_key, public_line, write_private_key};
use std::path::Path;

/// Writes a new ed25519 key at `path` (and `path.pub`); returns the public line `ssh-ed25519 AAAA…`.
pub fn generate(path: &Path) -> Result<String, LabError> {
    let key = generate_key();
    write_private_key(path, &key).map_err(|e| LabError::io(path, e))?;
    let line = public_line(key.public_key());
    let pub_path = path.with_extension("pub");
    std::fs::write(&pub_path, format!("{line}\n")).map_err(|e| LabError::io(&pub_path, e))?;
    Ok(line)
}

/// Reads a private key `generate` wrote.
pub fn load(path: &Path) -> Result<russh::keys::PrivateKey, LabError> {
    russh::keys::load_secret_key(path, None).map_err(|e| LabError::Start {
        what: format!("key {}", path.display()),
        reason: e.to_string(),
    })
}
