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
    use super::{generate_key, known_hosts_line, public_line};

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
}
