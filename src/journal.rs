//! The durable record of a run: one JSON line per event, fsynced at every state transition.
//!
//! A run survives the orchestrator dying because everything it decided or observed is in
//! `journal.jsonl` before it acts on it; `resume`, `disarm`, `watch` and `report` read it back.
//! Reading tolerates a torn last line (a crash mid-write). Generic over the event type, so the
//! journal knows nothing of executors or watchers.

pub mod lock;
pub mod reader;
pub mod rundir;
pub mod writer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One journal line: sequence number, UTC timestamp, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<E> {
    /// 1, 2, 3... in append order; a gap means lost lines.
    pub seq: u64,
    /// When the orchestrator recorded it.
    pub ts: DateTime<Utc>,
    /// What happened.
    pub event: E,
}

/// Why a journal could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened, read, written or synced.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line other than the last is not a valid record: the journal was edited or corrupted.
    #[error(
        "journal {path}:{line}: not a valid record ({message}); a journal must not be edited by hand"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The parser's words.
        message: String,
    },
    /// An event could not be serialized (a bug).
    #[error("cannot serialize a journal event: {0}")]
    Serialize(String),
}
