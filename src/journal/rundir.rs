//! A run's directory: `runs/<UTC timestamp>-<plan name>/` with the plan and inventory as they
//! were, the digest, and the journal. Everything `resume`, `report` and `disarm` need.

use super::JournalError;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// File names inside a run directory.
pub const PLAN_FILE: &str = "plan.toml";
/// The inventory snapshot.
pub const INVENTORY_FILE: &str = "inventory.snapshot";
/// The digest the run was started with.
pub const DIGEST_FILE: &str = "digest";
/// The journal.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Side journals start with this: `cutover disarm` writes its own
/// (`disarm-<UTC time>-<pid>.jsonl`) rather than append to a journal a live run may still be
/// writing, which would repeat sequence numbers. Readers merge them in by time.
pub const SIDE_PREFIX: &str = "disarm-";

/// Who is carrying the run out (JSON of the lock's holder: user, host, pid), written at
/// start and by each resume, so `cutover watch` can tell a live run from an orphaned one.
pub const ORCHESTRATOR_FILE: &str = "orchestrator";

/// The run id (directory name) for a plan started at `now`: sortable, safe in paths and units,
/// and unique: `nonce` (random, from the caller) keeps two runs of one plan started in the
/// same second, from two directories or two machines, from sharing job directories and
/// host leases.
pub fn run_id(now: DateTime<Utc>, plan_name: &str, nonce: u16) -> String {
    format!("{}-{plan_name}-{nonce:04x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// A run directory on disk.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
    /// Its id (the directory name).
    pub id: String,
}

impl RunDir {
    /// Creates `root/<id>/` with the snapshots; fails if it exists.
    pub fn create(
        root: &Path,
        id: &str,
        plan_text: &str,
        inventory_text: &str,
        digest: &str,
    ) -> Result<Self, JournalError> {
        let path = root.join(id);
        let io = |p: &Path, source| JournalError::Io {
            path: p.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
        std::fs::create_dir(&path).map_err(|e| io(&path, e))?;
        for (name, text) in [
            (PLAN_FILE, plan_text),
            (INVENTORY_FILE, inventory_text),
            (DIGEST_FILE, digest),
        ] {
            let file = path.join(name);
            std::fs::write(&file, text).map_err(|e| io(&file, e))?;
        }
        Ok(Self {
            path,
            id: id.to_string(),
        })
    }

    /// Opens an existing run by id or path.
    pub fn open(root: &Path, id_or_path: &str) -> Result<Self, JournalError> {
        let direct = PathBuf::from(id_or_path);
        let path = if direct.join(JOURNAL_FILE).exists() {
            direct
        } else {
            root.join(id_or_path)
        };
        if !path.join(JOURNAL_FILE).exists() {
            let source = std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no journal.jsonl here: is this a run directory?",
            );
            return Err(JournalError::Io {
                path: path.display().to_string(),
                source,
            });
        }
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self { path, id })
    }

    /// Records `holder` as the process carrying the run out (replacing an earlier one).
    pub fn record_orchestrator(&self, holder: &super::lock::Holder) -> Result<(), JournalError> {
        let path = self.path.join(ORCHESTRATOR_FILE);
        let text = serde_json::to_string(holder).unwrap_or_default();
        std::fs::write(&path, text).map_err(|source| JournalError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The process last recorded as carrying the run out (`None` for older runs).
    pub fn orchestrator(&self) -> Option<super::lock::Holder> {
        let text = std::fs::read_to_string(self.path.join(ORCHESTRATOR_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The journal's path.
    pub fn journal(&self) -> PathBuf {
        self.path.join(JOURNAL_FILE)
    }

    /// A new side journal's path for a process started at `now` with `pid`.
    pub fn new_side_journal(&self, now: DateTime<Utc>, pid: u32) -> PathBuf {
        self.path.join(format!(
            "{SIDE_PREFIX}{}-{pid}.jsonl",
            now.format("%Y%m%dT%H%M%S%.3fZ")
        ))
    }

    /// Every side journal, oldest first.
    pub fn side_journals(&self) -> Result<Vec<PathBuf>, JournalError> {
        let entries = std::fs::read_dir(&self.path).map_err(|source| JournalError::Io {
            path: self.path.display().to_string(),
            source,
        })?;
        let mut side: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(SIDE_PREFIX) && n.ends_with(".jsonl"))
            })
            .collect();
        side.sort();
        Ok(side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_name_the_plan() {
        let t = Utc.with_ymd_and_hms(2027, 1, 14, 2, 5, 9).unwrap();
        assert_eq!(
            run_id(t, "consul-tls", 0x3fa2),
            "20270114T020509Z-consul-tls-3fa2"
        );
    }

    #[test]
    fn create_then_open() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), "r1", "[plan]", "hosts", "sha256:x").unwrap();
        std::fs::write(run.journal(), "").unwrap();
        let again = RunDir::open(dir.path(), "r1").unwrap();
        assert_eq!(again.id, "r1");
        assert!(RunDir::create(dir.path(), "r1", "", "", "").is_err());
        let side = again.new_side_journal(DateTime::UNIX_EPOCH, 7);
        std::fs::write(&side, "").unwrap();
        std::fs::write(again.path.join("notes.jsonl"), "").unwrap();
        assert_eq!(again.side_journals().unwrap(), [side]);
        assert!(
            RunDir::open(dir.path(), "nope")
                .unwrap_err()
                .to_string()
                .contains("run directory")
        );
    }
}
