//! Keys for labs without `ssh-keygen`: ed25519 generation and OpenSSH-format files.

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A fresh ed25519 key (host key or client identity).
pub fn generate_key() -> PrivateKey {
    let pair = Ed25519Keypair::random(&mut rand::rng());
    PrivateKey::from(pair)
}

/// Writes `key` as an OpenSSH private key file readable only by its owner (mode 0600), as
/// `ssh` and cutover's `--identity` expect.
pub fn write_private_key(path: &Path, key: &PrivateKey) -> std::io::Result<()> {
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Reads a private key written by [`write_private_key`] (or an unencrypted `ssh-keygen` key),
/// e.g. to serve a lab again with the host keys its known_hosts already lists.
pub fn read_private_key(path: &Path) -> std::io::Result<PrivateKey> {
    russh::keys::load_secret_key(path, None).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// The public key as one OpenSSH line without comment (`ssh-ed25519 AAAA…`), for
/// `authorized_keys` or `.pub` files.
pub fn public_line(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh()
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// A known_hosts line for a host listening on `addr` (`[127.0.0.5]:2222 ssh-ed25519 …`,
/// or the bare address on port 22), in the form cutover's strict checking and `ssh` look up.
pub fn known_hosts_line(addr: SocketAddr, key: &PublicKey) -> String {
    let name = crate::transport::known_hosts::lookup_name(&addr.ip().to_string(), addr.port());
    format!("{name} {}", public_line(key))
}

#[cfg(test)]
mod tests {
    use super::{generate_key, known_hosts_line, public_line, read_private_key, write_private_key};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_keys_differ_and_print_as_openssh_lines() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a.public_key(), b.public_key());
        assert!(public_line(a.public_key()).starts_with("ssh-ed25519 AAAA"));
        let line = known_hosts_line("127.0.0.5:2222".parse().unwrap(), a.public_key());
        assert!(line.starts_with("[127.0.0.5]:2222 ssh-ed25519 "), "{line}");
        let line = known_hosts_line("127.0.0.5:22".parse().unwrap(), a.public_key());
        assert!(line.starts_with("127.0.0.5 ssh-ed25519 "), "{line}");
    }

    #[test]
    fn a_written_key_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        let key = generate_key();
        write_private_key(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            read_private_key(&path).unwrap().public_key(),
            key.public_key()
        );
        let err = read_private_key(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
