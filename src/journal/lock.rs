//! One run of a plan against an inventory at a time: a lock file naming its holder.
//!
//! The lock is a file created with `O_EXCL` holding the holder's user, host, pid and start
//! time. A second `run` fails with that name. A lock whose holder process is gone (same host,
//! pid not running) is stale, and can be broken explicitly, never silently.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a user's run locks live: `$CUTOVER_STATE_DIR`, else `$XDG_STATE_HOME/cutover`, else
/// `~/.local/state/cutover` (the account's home from the password database). Not the current
/// directory: the same plan started from two directories must meet the same lock.
pub fn state_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("CUTOVER_STATE_DIR") {
        return dir;
    }
    match env("XDG_STATE_HOME") {
        Some(state) => state.join("cutover"),
        None => crate::fleet::account_home().join(".local/state/cutover"),
    }
}

/// The lock file name for a run touching `hosts` (each `user@address:port`): keyed by the
/// resolved hosts, so a renamed plan or inventory naming the same machines meets the lock.
pub fn lock_name(hosts: &[String]) -> String {
    use sha2::Digest;
    let mut sorted: Vec<&String> = hosts.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut h = sha2::Sha256::new();
    for s in sorted {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("hosts-{hex}.lock")
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Login name.
    pub user: String,
    /// Orchestrator host name.
    pub host: String,
    /// Orchestrator process id.
    pub pid: u32,
    /// When the lock was taken.
    pub started: DateTime<Utc>,
    /// The run directory it belongs to.
    pub run: String,
    /// Where that run directory is, so a stale lock can be judged by its journal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, since {}, run {})",
            self.user,
            self.host,
            self.pid,
            self.started.format("%Y-%m-%d %H:%M:%SZ"),
            self.run
        )
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else is running this plan against this inventory.
    #[error("another run holds {path}: {holder}{}", if *.stale { " — its process is gone; break the stale lock with --break-lock if you are sure" } else { "" })]
    Held {
        /// The lock file.
        path: String,
        /// Its holder.
        holder: Box<Holder>,
        /// True when the holder's process no longer runs on this host.
        stale: bool,
    },
    /// The lock file could not be created, read or removed.
    #[error("lock {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A held lock; removed when dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    holder: Holder,
}

/// True when the holder ran on `this_host` and its process is gone.
pub fn is_stale(holder: &Holder, this_host: &str, pid_alive: impl Fn(u32) -> bool) -> bool {
    holder.host == this_host && !pid_alive(holder.pid)
}

/// Whether a process runs on this machine (shell helper for `is_stale`).
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// This machine's host name.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

impl RunLock {
    /// Takes the lock at `path` for `holder`, or says who holds it.
    pub fn acquire(path: &Path, holder: Holder) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(mut f) => {
                let text = serde_json::to_string(&holder).unwrap_or_default();
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(io)?;
                Ok(Self {
                    path: path.to_path_buf(),
                    holder,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let current = Self::holder(path)?;
                let stale = is_stale(&current, &this_host(), pid_alive);
                Err(LockError::Held {
                    path: path.display().to_string(),
                    holder: Box::new(current),
                    stale,
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Reads a lock file's holder.
    pub fn holder(path: &Path) -> Result<Holder, LockError> {
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        serde_json::from_str(&text)
            .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }

    /// Removes a lock explicitly (the operator said the holder is gone).
    pub fn break_lock(path: &Path) -> Result<Holder, LockError> {
        let holder = Self::holder(path)?;
        std::fs::remove_file(path).map_err(|source| LockError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(holder)
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if Self::holder(&self.path).is_ok_and(|h| h == self.holder) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32) -> Holder {
        Holder {
            user: "sre".into(),
            host: this_host(),
            pid,
            started: DateTime::UNIX_EPOCH,
            run: "r1".into(),
            run_dir: None,
        }
    }

    #[test]
    fn a_second_run_is_refused_with_the_holders_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.lock");
        let first = RunLock::acquire(&path, holder(std::process::id())).unwrap();
        let err = RunLock::acquire(&path, holder(1)).unwrap_err();
        let LockError::Held {
            holder: h, stale, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(h.pid, std::process::id());
        assert!(!stale);
        assert!(err.to_string().contains("sre@"), "{err}");
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn a_dead_holder_is_stale_and_can_be_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.lock");
        std::mem::forget(RunLock::acquire(&path, holder(u32::MAX - 1)).unwrap());
        let err = RunLock::acquire(&path, holder(2)).unwrap_err();
        assert!(matches!(err, LockError::Held { stale: true, .. }), "{err}");
        assert!(err.to_string().contains("--break-lock"));
        assert_eq!(RunLock::break_lock(&path).unwrap().pid, u32::MAX - 1);
        assert!(RunLock::acquire(&path, holder(3)).is_ok());
    }

    #[test]
    fn the_lock_name_is_the_set_of_hosts_in_any_order() {
        let a = lock_name(&["root@127.0.0.1:22".into(), "root@127.0.0.2:22".into()]);
        let b = lock_name(&["root@127.0.0.2:22".into(), "root@127.0.0.1:22".into()]);
        assert_eq!(a, b);
        assert!(a.starts_with("hosts-") && a.ends_with(".lock"), "{a}");
        assert_ne!(a, lock_name(&["root@127.0.0.1:22".into()]));
    }

    #[test]
    fn staleness_needs_the_same_host() {
        let h = Holder {
            host: "other".into(),
            ..holder(5)
        };
        assert!(!is_stale(&h, "this", |_| false));
        assert!(is_stale(
            &Holder {
                host: "this".into(),
                ..h
            },
            "this",
            |_| false
        ));
    }
}
