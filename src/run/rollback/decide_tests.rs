//! What a rollback does per host, from the fold: a spec in examples.

use super::*;
use crate::arm::mechanism::Concrete;
use crate::arm::receipt::Receipt;
use crate::compile::RunPlan;
use crate::executor::{Event, HostOutcome, PhaseName};
use crate::run::event::RunEvent;
use crate::run::phase::Phase;
use chrono::TimeZone;

const INVENTORY: &str = "[inventory]\nname = \"lab\"\n\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n\n[[hosts]]\nname = \"b\"\naddress = \"127.0.0.2\"\n\n[[hosts]]\nname = \"c\"\naddress = \"127.0.0.3\"\n";

const PLAN: &str = "[plan]\nname = \"t\"\n\n[[stage]]\nstep = \"disable_service\"\nunit = \"chef-client\"\n\n[[stage]]\nstep = \"edit_file\"\npath = \"/etc/consul.json\"\ntemplate = \"{}\"\n\n[action]\nat = 2030-01-01T03:00:00Z\nrun = \"true\"\nmechanism = \"waiter\"\n\n[[rollback]]\nname = \"reload\"\nstep = \"command\"\nrun = \"systemctl reload consul\"\ntargets = [\"host:a\"]\n";

const SHA_OLD: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const SHA_NEW: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const SHA_ELSE: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn plan() -> RunPlan {
    let fire = chrono::Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    let inv = crate::inventory::parse(INVENTORY, crate::inventory::Format::Native, "inv").unwrap();
    let parsed = crate::plan::parse::parse(PLAN);
    let cx = crate::plan::validate::Context {
        now: fire - chrono::Duration::hours(1),
        inventory: Some(&inv),
        failed: &[],
    };
    let (p, diags) = crate::plan::validate::validate(&parsed.raw.unwrap(), &parsed.spans, cx);
    let p = p.unwrap_or_else(|| panic!("{diags:?}"));
    crate::compile::compile(&p, &inv, fire, "sha256:t".into()).unwrap()
}

fn step_done(path: &str, host: &str) -> Vec<RunEvent> {
    vec![
        RunEvent::Step {
            phase: Phase::Stage,
            name: "x".into(),
            path: path.into(),
            hosts: 3,
        },
        RunEvent::Exec(Event::HostFinished {
            phase: PhaseName::from(path),
            host: host.into(),
            outcome: HostOutcome::Ok { detail: None },
        }),
    ]
}

fn staged(host: &str, sha: &str, original: Option<Original>) -> RunEvent {
    RunEvent::Staged {
        path: "stage[1]".into(),
        host: host.into(),
        file: "/etc/consul.json".into(),
        sha256: sha.into(),
        original,
    }
}

/// `a` and `b` staged (agent disabled, file written); `c` failed its preflight.
fn staged_run() -> RunState {
    let mut s = RunState::default();
    for h in ["a", "b"] {
        for e in step_done("stage[0]", h) {
            s.apply(&e);
        }
        s.apply(&staged(h, SHA_NEW, Some(Original::Sha256(SHA_OLD.into()))));
    }
    s.apply(&RunEvent::Excluded {
        host: "c".into(),
        phase: Some(Phase::Preflight),
        reason: "clock".into(),
    });
    s
}

fn undo_of(v: &[(String, Visit)], host: &str) -> HostUndo {
    match v.iter().find(|(h, _)| h == host).map(|(_, v)| v) {
        Some(Visit::Undo(u)) => u.clone(),
        other => panic!("{host}: {other:?}"),
    }
}

#[test]
fn only_staged_hosts_are_visited_each_with_its_files_units_and_steps() {
    let v = decide(&staged_run(), &plan(), false, "r").unwrap();
    let hosts: Vec<&str> = v.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts, ["a", "b"], "c never got staged");
    let a = undo_of(&v, "a");
    assert_eq!(
        a.files,
        vec![FileUndo {
            file: "/etc/consul.json".into(),
            staged: SHA_NEW.into(),
            original: Some(Original::Sha256(SHA_OLD.into())),
        }]
    );
    assert_eq!(
        a.units,
        [UnitBack {
            unit: "chef-client".into(),
            enable: true,
            start: true
        }],
        "unrecorded: assumed enabled and running"
    );
    assert_eq!(a.steps.len(), 1, "the rollback step targets a");
    assert!(undo_of(&v, "b").steps.is_empty(), "not b");
}

#[test]
fn a_unit_comes_back_only_as_it_was_before_staging() {
    let mut s = staged_run();
    let before = |host: &str, enabled, active| RunEvent::UnitBefore {
        host: host.into(),
        unit: "chef-client".into(),
        enabled,
        active,
    };
    s.apply(&before("a", false, false));
    s.apply(&before("b", true, false));
    s.apply(&before("b", false, false));
    let v = decide(&s, &plan(), false, "r").unwrap();
    assert!(
        undo_of(&v, "a").units.is_empty(),
        "a's agent was off already"
    );
    assert_eq!(
        undo_of(&v, "b").units,
        [UnitBack {
            unit: "chef-client".into(),
            enable: true,
            start: false
        }],
        "the first record counts (a resumed step finds it disabled by the crashed attempt)"
    );
}

#[test]
fn a_file_edited_twice_is_restored_to_the_first_original() {
    let mut s = staged_run();
    s.apply(&staged(
        "a",
        SHA_ELSE,
        Some(Original::Sha256(SHA_NEW.into())),
    ));
    let a = undo_of(&decide(&s, &plan(), false, "r").unwrap(), "a");
    assert_eq!(a.files[0].staged, SHA_ELSE);
    assert_eq!(a.files[0].original, Some(Original::Sha256(SHA_OLD.into())));
}

#[test]
fn refused_while_any_host_holds_a_job_even_forced() {
    let mut s = staged_run();
    s.apply(&RunEvent::Step {
        phase: Phase::Arm,
        name: "arm".into(),
        path: "action".into(),
        hosts: 2,
    });
    s.apply(&RunEvent::Armed {
        host: "a".into(),
        mechanism: Concrete::Waiter,
        id: "1".into(),
    });
    let e = decide(&s, &plan(), true, "r").unwrap_err();
    assert!(matches!(&e, Refusal::Armed { .. }), "{e}");
    assert!(e.to_string().contains("cutover disarm r"), "{e}");
}

#[test]
fn refused_after_the_fire_unless_forced() {
    let mut s = staged_run();
    s.apply(&RunEvent::Receipt {
        host: "a".into(),
        receipt: Receipt {
            started_ns: Some(1),
            exit: Some(0),
            ..Receipt::default()
        },
    });
    assert!(matches!(
        decide(&s, &plan(), false, "r"),
        Err(Refusal::Fired { .. })
    ));
    assert!(decide(&s, &plan(), true, "r").is_ok());
}

#[test]
fn a_host_already_rolled_back_is_not_touched_again() {
    let mut s = staged_run();
    s.apply(&RunEvent::RolledBack {
        host: "a".into(),
        ok: true,
        detail: None,
    });
    s.apply(&RunEvent::RolledBack {
        host: "b".into(),
        ok: false,
        detail: Some("unreachable".into()),
    });
    let v = decide(&s, &plan(), false, "r").unwrap();
    assert!(matches!(v[0].1, Visit::AlreadyRolledBack));
    assert!(
        matches!(v[1].1, Visit::Undo(_)),
        "a failed host is tried again"
    );
}

fn file(original: Option<Original>) -> FileUndo {
    FileUndo {
        file: "/etc/x".into(),
        staged: SHA_NEW.into(),
        original,
    }
}

fn seen(live: Option<&str>, backup: Option<&str>) -> Seen {
    Seen {
        live: live.map(Into::into),
        backup: backup.map(Into::into),
    }
}

#[test]
fn a_staged_file_is_restored_from_a_backup_matching_the_original() {
    let f = file(Some(Original::Sha256(SHA_OLD.into())));
    assert_eq!(
        judge(&f, &seen(Some(SHA_NEW), Some(SHA_OLD)), false),
        Ok(FileAction::Restore {
            original: SHA_OLD.into()
        })
    );
    assert_eq!(
        judge(&f, &seen(Some(SHA_OLD), None), false),
        Ok(FileAction::Nothing),
        "already the original"
    );
}

#[test]
fn a_tampered_or_missing_backup_refuses_the_host_even_forced() {
    let f = file(Some(Original::Sha256(SHA_OLD.into())));
    for backup in [Some(SHA_ELSE), None] {
        let e = judge(&f, &seen(Some(SHA_NEW), backup), true).unwrap_err();
        assert!(e.contains("is not the original"), "{e}");
    }
}

#[test]
fn a_file_changed_since_staging_needs_force() {
    let f = file(Some(Original::Sha256(SHA_OLD.into())));
    let e = judge(&f, &seen(Some(SHA_ELSE), Some(SHA_OLD)), false).unwrap_err();
    assert!(
        e.contains("neither what staging wrote") && e.contains("--force"),
        "{e}"
    );
    assert!(judge(&f, &seen(Some(SHA_ELSE), Some(SHA_OLD)), true).is_ok());
}

#[test]
fn a_file_staging_created_is_removed_and_an_unrecorded_original_refused() {
    let created = file(Some(Original::Absent));
    assert_eq!(
        judge(&created, &seen(Some(SHA_NEW), None), false),
        Ok(FileAction::Remove)
    );
    assert_eq!(
        judge(&created, &seen(None, None), false),
        Ok(FileAction::Nothing)
    );
    let e = judge(&file(None), &seen(Some(SHA_NEW), Some(SHA_OLD)), true).unwrap_err();
    assert!(e.contains("restore it by hand"), "{e}");
}
