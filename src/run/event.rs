//! Everything a run records: the one event stream the journal stores and the views print.

use super::phase::{Ending, Phase};
use crate::arm::mechanism::Concrete;
use crate::checks::Verdict;
use crate::executor;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a file was before staging first wrote it in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Original {
    /// It did not exist: staging created it (a rollback removes it).
    Absent,
    /// Its content's sha256; the write kept it as `PATH.cutover-bak`.
    Sha256(String),
}

/// One thing that happened in a run. Timestamps are added by the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began: what, against what, when it fires.
    Started {
        /// Plan name.
        plan: String,
        /// Plan + inventory digest.
        digest: String,
        /// Inventory name.
        inventory: String,
        /// Whether it is production.
        production: bool,
        /// Number of hosts in the inventory.
        hosts: usize,
        /// Planned fire time.
        fire_at: DateTime<Utc>,
        /// True for `--dry-run`: nothing is changed on any host.
        dry_run: bool,
        /// Who started it (user@host).
        operator: String,
        /// The plan file's absolute path (the plan's relative paths resolve against it).
        plan_path: String,
        /// True when the armed jobs act only after the commit round (prepare, then commit);
        /// false in journals of earlier versions, whose jobs were live once armed.
        #[serde(default)]
        commit: bool,
    },
    /// `cutover resume` took the run over again after its orchestrator stopped.
    Resumed {
        /// Who resumed it (user@host).
        operator: String,
        /// The last record of the previous attempt (the gap runs from its time to this one).
        after_seq: u64,
        /// True when the previous attempt ended without a `finished` record (it crashed).
        crashed: bool,
        /// True when a torn last line was dropped from the journal.
        torn_tail: bool,
        /// The stale lock that was broken, if any (its holder, as text).
        broke_lock: Option<String>,
    },
    /// A host leaves the run: it is never touched again, not armed, not fired.
    Excluded {
        /// Host.
        host: String,
        /// The phase it failed in; `None` when the operator excluded it (`--exclude`).
        phase: Option<Phase>,
        /// Why.
        reason: String,
    },
    /// A step or check of a phase begins.
    Step {
        /// The phase (or pass, or drift check) it belongs to.
        phase: Phase,
        /// The step's name.
        name: String,
        /// Where it is in the plan, e.g. `stage[2]`.
        path: String,
        /// Number of hosts it runs on.
        hosts: usize,
    },
    /// The executor's own events (batches, host outcomes, budget, pause, abort).
    Exec(executor::Event),
    /// A check's verdict on one host.
    Check {
        /// Plan path of the check.
        path: String,
        /// Host.
        host: String,
        /// Verdict with reason.
        verdict: Verdict,
    },
    /// The diff an edit will make (or made), identical for `hosts`.
    Diff {
        /// Plan path of the step.
        path: String,
        /// File on the hosts.
        file: String,
        /// Hosts making this change.
        hosts: Vec<String>,
        /// Unified diff (empty: no change), the first host's.
        diff: String,
        /// The hosts' diffs differ only in context lines (the change is the same).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        context_varies: bool,
    },
    /// A file was written on a host; its new checksum, verified later.
    Staged {
        /// Plan path of the step.
        path: String,
        /// Host.
        host: String,
        /// File.
        file: String,
        /// sha256 of the new content.
        sha256: String,
        /// What was there before this write (what `cutover rollback` restores); `None` in
        /// journals of versions that did not record it (they cannot be rolled back).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        original: Option<Original>,
    },
    /// What a `disable_service` step found before it stopped and disabled the unit (what
    /// `cutover rollback` brings back).
    UnitBefore {
        /// Host.
        host: String,
        /// Unit.
        unit: String,
        /// Whether it was enabled.
        enabled: bool,
        /// Whether it was running.
        active: bool,
    },
    /// `cutover rollback` put a staged file back as it was before the run, verified.
    Restored {
        /// Host.
        host: String,
        /// File.
        file: String,
        /// sha256 of the restored content, checked after the restore (`None`: staging
        /// created the file, so it was removed).
        sha256: Option<String>,
    },
    /// `cutover rollback` is done with a host: every staged file restored, what staging
    /// disabled re-enabled, the rollback steps run (or why not).
    RolledBack {
        /// Host.
        host: String,
        /// True when everything was restored and verified.
        ok: bool,
        /// Why not, when not.
        detail: Option<String>,
    },
    /// Waiting for a T-minus moment.
    Waiting {
        /// Until when.
        until: DateTime<Utc>,
        /// What happens then.
        what: String,
    },
    /// The action is armed on a host, verified by its mechanism and job hash.
    Armed {
        /// Host.
        host: String,
        /// How it is armed.
        mechanism: Concrete,
        /// Timer unit, at job number or waiter pid.
        id: String,
    },
    /// The commit round made a host's armed job live: from now on it fires unless disarmed.
    Committed {
        /// Host.
        host: String,
    },
    /// The commit round's measured window: a crash inside it could split the fleet.
    CommitWindow {
        /// Hosts committed.
        hosts: usize,
        /// From the first commit write sent to the last confirmed, ns.
        window_ns: i64,
    },
    /// A host's armed job was taken back (or could not be: it may still fire).
    Disarmed {
        /// Host.
        host: String,
        /// True when verified gone.
        ok: bool,
        /// Why not, when not.
        detail: Option<String>,
    },
    /// What a host's job recorded when it fired.
    Receipt {
        /// Host.
        host: String,
        /// The receipt (empty when none was found).
        receipt: crate::arm::receipt::Receipt,
    },
    /// A fired host's receipt is not final yet when collection first reads it: its job has
    /// not woken (`woke` false: late, on a busy or paused host) or its action is still
    /// running. Collection keeps reading it until `until`.
    ReceiptPending {
        /// Host.
        host: String,
        /// The job woke (the action is running); false: not woken yet.
        woke: bool,
        /// When collection gives up on it.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The measured fire spread across the fleet, corrected by clock offsets.
    Spread {
        /// Spread, lateness, missing hosts.
        spread: crate::arm::receipt::Spread,
    },
    /// What the quorum and health watch saw.
    Watch(crate::watch::WatchEvent),
    /// The run waits for the operator to type a gate word before `step` runs.
    Gate {
        /// The step, e.g. `stage[2] (restart servers)`; the answer names it the same way.
        step: String,
        /// The word to type.
        word: String,
    },
    /// An operator action (confirmation, gate answered, pause, abort).
    Operator {
        /// What they did.
        action: String,
    },
    /// A phase ended.
    PhaseDone {
        /// Phase.
        phase: Phase,
        /// True when within budget.
        ok: bool,
        /// One line.
        summary: String,
    },
    /// The run ended.
    Finished {
        /// How it ended.
        outcome: Ending,
        /// Why, for anything but complete.
        reason: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::receipt::{Fired, Receipt, Spread};

    /// Every event must read back exactly as written: the journal is replayed by
    /// `report`, `disarm` and `resume`.
    #[test]
    fn events_round_trip_through_json() {
        let ns = 1_800_000_000_123_456_789_i64;
        let events = vec![
            RunEvent::Receipt {
                host: "h".into(),
                receipt: Receipt {
                    planned_ns: Some(ns),
                    woke_ns: Some(ns + 1),
                    started_ns: Some(ns + 2),
                    ended_ns: None,
                    exit: Some(0),
                    skipped_late: false,
                    skipped_disarmed: false,
                    skipped_uncommitted: false,
                    done: false,
                    output: Some("restarted consul\n\u{1b}[2J".into()),
                },
            },
            RunEvent::Spread {
                spread: Spread {
                    fired: vec![Fired {
                        host: "h".into(),
                        woke_ns: ns,
                        started_ns: ns,
                        late_ns: -5,
                    }],
                    missing: vec!["x".into()],
                    unreachable: vec!["y".into()],
                    wake_spread_ns: 1,
                    start_spread_ns: 2,
                    median_late_ns: 3,
                    max_late_ns: 4,
                },
            },
            RunEvent::Check {
                path: "preflight[0]".into(),
                host: "h".into(),
                verdict: Verdict::fail("why"),
            },
            RunEvent::Armed {
                host: "h".into(),
                mechanism: Concrete::Waiter,
                id: "123".into(),
            },
            RunEvent::Staged {
                path: "stage[0]".into(),
                host: "h".into(),
                file: "/etc/x".into(),
                sha256: "ab".into(),
                original: Some(Original::Sha256("cd".into())),
            },
            RunEvent::Staged {
                path: "stage[1]".into(),
                host: "h".into(),
                file: "/etc/y".into(),
                sha256: "ab".into(),
                original: Some(Original::Absent),
            },
            RunEvent::Restored {
                host: "h".into(),
                file: "/etc/x".into(),
                sha256: Some("cd".into()),
            },
            RunEvent::RolledBack {
                host: "h".into(),
                ok: false,
                detail: Some("backup tampered".into()),
            },
        ];
        for e in events {
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(
                serde_json::from_str::<RunEvent>(&text).unwrap(),
                e,
                "{text}"
            );
        }
    }
}
