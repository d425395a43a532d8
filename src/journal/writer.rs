//! Appending to a journal: one line per event, written straight to the file (no user-space
//! buffer, so a killed orchestrator loses nothing it wrote) and fsynced at state transitions.

use super::{JournalError, Record, reader};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How hard to push a line to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written to the kernel: survives the orchestrator being killed.
    Written,
    /// Also fsynced: survives the machine losing power. Use at every state transition.
    Synced,
}

/// An open journal being appended to.
#[derive(Debug)]
pub struct Writer {
    file: File,
    path: PathBuf,
    next_seq: u64,
}

impl Writer {
    /// Creates a new, empty journal; fails if one exists (a run is never overwritten).
    pub fn create(path: &Path) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        sync_dir(path)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            next_seq: 1,
        })
    }

    /// Reopens a journal to continue it (resume): drops a torn last line, continues the sequence.
    pub fn reopen<E: DeserializeOwned>(
        path: &Path,
    ) -> Result<(Self, reader::Read<E>), JournalError> {
        let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
        let read = reader::parse::<E>(&path.display().to_string(), &text)?;
        let keep = if read.torn_tail {
            text.rfind('\n').map_or(0, |i| i + 1)
        } else {
            text.len()
        };
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        file.set_len(keep as u64).map_err(|e| io(path, e))?;
        drop(file);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        let next_seq = read.records.last().map_or(1, |r| r.seq + 1);
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
                next_seq,
            },
            read,
        ))
    }

    /// Appends one event stamped `ts`; returns its sequence number.
    pub fn append<E: Serialize>(
        &mut self,
        ts: DateTime<Utc>,
        event: &E,
        durability: Durability,
    ) -> Result<u64, JournalError> {
        let record = Record {
            seq: self.next_seq,
            ts,
            event,
        };
        let mut line =
            serde_json::to_vec(&record).map_err(|e| JournalError::Serialize(e.to_string()))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| io(&self.path, e))?;
        if durability == Durability::Synced {
            self.file.sync_data().map_err(|e| io(&self.path, e))?;
        }
        self.next_seq += 1;
        Ok(record.seq)
    }

    /// Pushes everything written so far to disk (a group commit of earlier appends made
    /// with [`Durability::Written`]).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(|e| io(&self.path, e))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn io(path: &Path, source: std::io::Error) -> JournalError {
    JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Fsyncs the directory holding `path`, so a newly created file's name is durable too.
pub fn sync_dir(path: &Path) -> Result<(), JournalError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ts(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 14, 2, 5, s).unwrap()
    }

    #[test]
    fn appends_then_resumes_after_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut w = Writer::create(&path).unwrap();
        assert_eq!(w.append(ts(0), &"phase", Durability::Synced).unwrap(), 1);
        assert_eq!(w.append(ts(1), &"host", Durability::Written).unwrap(), 2);
        drop(w);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"seq\":3,\"ts\":")
            .unwrap();
        let (mut w, read) = Writer::reopen::<String>(&path).unwrap();
        assert!(read.torn_tail);
        assert_eq!(read.records.len(), 2);
        assert_eq!(w.append(ts(2), &"resumed", Durability::Synced).unwrap(), 3);
        let again = reader::read::<String>(&path).unwrap();
        assert_eq!(
            again.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(!again.torn_tail);
    }

    #[test]
    fn a_journal_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        Writer::create(&path).unwrap();
        assert!(Writer::create(&path).is_err());
    }
}
