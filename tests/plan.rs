//! Plan files as a user meets them: `cutover check`, `render` and `schema` on fixtures and examples.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The instant fixture plans are judged at (their fire times are around 2030-01-01).
const FIXTURE_NOW: &str = "2029-12-31T23:00:00Z";
/// The instant example plans are judged at (their fire times are in 2027).
const EXAMPLE_NOW: &str = "2026-12-01T00:00:00Z";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cutover(args: &[&str]) -> Run {
    let out = Command::cargo_bin("cutover")
        .expect("binary")
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no plans in {dir}");
    files
}

fn stem(p: &Path) -> String {
    p.file_stem().expect("stem").to_string_lossy().into_owned()
}

mod check {
    use super::*;

    #[test]
    fn every_valid_fixture_passes() {
        for plan in toml_files("tests/fixtures/plans/valid") {
            let r = cutover(&["check", plan.to_str().expect("utf8"), "--now", FIXTURE_NOW]);
            assert_eq!(r.code, 0, "{}:\n{}{}", plan.display(), r.stdout, r.stderr);
            assert!(r.stdout.contains("ok ("), "{}", r.stdout);
            assert!(r.stdout.contains("digest sha256:"), "{}", r.stdout);
        }
    }

    #[test]
    fn every_invalid_fixture_fails_with_a_snapshotted_diagnostic() {
        for plan in toml_files("tests/fixtures/plans/invalid") {
            let r = cutover(&["check", plan.to_str().expect("utf8"), "--now", FIXTURE_NOW]);
            assert_eq!(
                r.code,
                1,
                "{} should fail:\n{}{}",
                plan.display(),
                r.stdout,
                r.stderr
            );
            insta::assert_snapshot!(format!("check-{}", stem(&plan)), r.stderr);
        }
    }

    #[test]
    fn every_example_plan_passes() {
        for plan in toml_files("plans") {
            let r = cutover(&["check", plan.to_str().expect("utf8"), "--now", EXAMPLE_NOW]);
            assert_eq!(r.code, 0, "{}:\n{}{}", plan.display(), r.stdout, r.stderr);
        }
    }

    #[test]
    fn json_output_names_line_and_column() {
        let r = cutover(&[
            "check",
            "tests/fixtures/plans/invalid/batch-size-zero.toml",
            "--now",
            FIXTURE_NOW,
            "--json",
        ]);
        assert_eq!(r.code, 1);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        let first = &v[0];
        assert_eq!(first["severity"], "error");
        assert_eq!(first["line"], 8);
        assert!(
            first["message"]
                .as_str()
                .expect("msg")
                .contains("batch_size 0")
        );
    }

    #[test]
    fn a_missing_plan_file_is_a_usage_error() {
        let r = cutover(&["check", "tests/fixtures/plans/does-not-exist.toml"]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("does-not-exist.toml"), "{}", r.stderr);
    }

    #[test]
    fn an_unreadable_inventory_fails_and_points_at_its_path() {
        let dir = tempfile::tempdir().expect("tmp");
        let plan = dir.path().join("p.toml");
        let src = std::fs::read_to_string("tests/fixtures/plans/valid/minimal.toml").expect("read");
        std::fs::write(&plan, src.replace("../fleet.toml", "missing.toml")).expect("write");
        let r = cutover(&["check", plan.to_str().expect("utf8"), "--now", FIXTURE_NOW]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr
                .contains("p.toml:5:8: error: cannot read inventory"),
            "{}",
            r.stderr
        );
    }

    #[test]
    fn inventory_flag_overrides_the_plan() {
        let plan = "tests/fixtures/plans/valid/minimal.toml";
        let r = cutover(&[
            "check",
            plan,
            "--now",
            FIXTURE_NOW,
            "--inventory",
            "tests/fixtures/plans/dup-inventory.toml",
        ]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("dup-inventory.toml"), "{}", r.stderr);
    }
}

mod render {
    use super::*;

    #[test]
    fn example_runbooks_are_snapshotted() {
        for plan in toml_files("plans") {
            let r = cutover(&["render", plan.to_str().expect("utf8"), "--now", EXAMPLE_NOW]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            insta::assert_snapshot!(format!("render-{}", stem(&plan)), r.stdout);
        }
    }

    #[test]
    fn render_is_deterministic() {
        let args = [
            "render",
            "tests/fixtures/plans/valid/full.toml",
            "--now",
            FIXTURE_NOW,
        ];
        let a = cutover(&args);
        let b = cutover(&args);
        assert_eq!(a.code, 0, "{}", a.stderr);
        assert_eq!(a.stdout, b.stdout);
    }

    #[test]
    fn render_refuses_a_plan_with_errors() {
        let r = cutover(&[
            "render",
            "tests/fixtures/plans/invalid/batch-size-zero.toml",
            "--now",
            FIXTURE_NOW,
        ]);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("batch_size 0"), "{}", r.stderr);
    }

    #[test]
    fn digest_ignores_comments_but_not_values() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = std::fs::read_to_string("tests/fixtures/plans/valid/minimal.toml").expect("read");
        let fleet = std::fs::canonicalize("tests/fixtures/plans/fleet.toml").expect("fleet");
        let src = src.replace("../fleet.toml", fleet.to_str().expect("utf8"));
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        let digest_of = |p: &Path| {
            let r = cutover(&["check", p.to_str().expect("utf8"), "--now", FIXTURE_NOW]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout
                .split("digest ")
                .nth(1)
                .expect("digest")
                .trim()
                .to_string()
        };
        let a = digest_of(&write("a.toml", &src));
        let b = digest_of(&write("b.toml", &format!("# reviewed\n{src}")));
        let c = digest_of(&write(
            "c.toml",
            &src.replace("restart consul", "restart consul.service"),
        ));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rollback_steps_are_rendered_and_in_the_digest() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = std::fs::read_to_string("tests/fixtures/plans/valid/minimal.toml").expect("read");
        let fleet = std::fs::canonicalize("tests/fixtures/plans/fleet.toml").expect("fleet");
        let src = src.replace("../fleet.toml", fleet.to_str().expect("utf8"));
        let with = format!(
            "{src}\n[[rollback]]\nname = \"reload the old config\"\nstep = \"command\"\nrun = \"systemctl reload consul\"\n"
        );
        let (a, b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
        std::fs::write(&a, &src).expect("write");
        std::fs::write(&b, &with).expect("write");
        let render = |p: &Path| {
            let r = cutover(&["render", p.to_str().expect("utf8"), "--now", FIXTURE_NOW]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            r.stdout
        };
        let (plain, rolled) = (render(&a), render(&b));
        assert!(!plain.contains("## Rollback"), "{plain}");
        assert!(
            rolled.contains("## Rollback (`cutover rollback RUN`"),
            "{rolled}"
        );
        assert!(rolled.contains("reload the old config"), "{rolled}");
        assert!(rolled.contains("systemctl reload consul"), "{rolled}");
        let digest = |md: &str| {
            md.split("Plan digest: `")
                .nth(1)
                .map(|d| d[..20].to_string())
        };
        assert_ne!(digest(&plain), digest(&rolled));
    }
}

mod schema {
    use super::*;

    #[test]
    fn committed_schema_is_current() {
        let r = cutover(&["schema"]);
        assert_eq!(r.code, 0);
        let committed = std::fs::read_to_string("docs/plan.schema.json").unwrap_or_default();
        assert!(
            committed == r.stdout,
            "docs/plan.schema.json is stale: run `just schema` (cargo run -- schema > docs/plan.schema.json)"
        );
    }

    #[test]
    fn schema_closes_tagged_tables_against_typos() {
        let v: serde_json::Value =
            serde_json::from_str(&cutover(&["schema"]).stdout).expect("json");
        assert_eq!(v["$defs"]["RawCheck"]["unevaluatedProperties"], false);
        assert_eq!(v["$defs"]["RawStep"]["unevaluatedProperties"], false);
        assert_eq!(v["$defs"]["RawExecution"]["additionalProperties"], false);
    }
}

mod report {
    use super::*;

    #[test]
    fn report_of_a_recorded_journal_is_snapshotted() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("20261125T111700Z-rehearsal");
        std::fs::create_dir(&run).expect("mkdir");
        std::fs::copy(
            "tests/fixtures/journal/fired.jsonl",
            run.join("journal.jsonl"),
        )
        .expect("copy");
        let r = cutover(&["report", run.to_str().expect("utf8")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        insta::assert_snapshot!("report-fired", r.stdout);
    }

    #[test]
    fn a_resumed_run_reports_its_attempts_and_the_resume() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("20261125T124800Z-rehearsal");
        std::fs::create_dir(&run).expect("mkdir");
        std::fs::copy(
            "tests/fixtures/journal/resumed.jsonl",
            run.join("journal.jsonl"),
        )
        .expect("copy");
        let r = cutover(&["report", run.to_str().expect("utf8")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        insta::assert_snapshot!("report-resumed", r.stdout);
    }

    /// A real lab run (6 hosts: one excluded by the operator, one with a skewed clock, one
    /// whose stage step failed, a gate answered ahead of time, a probe failing until the
    /// fire): every section of the report, in Markdown and as JSON.
    fn story(json: bool) -> String {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("20261130T200530Z-story-40a1");
        std::fs::create_dir(&run).expect("mkdir");
        std::fs::copy(
            "tests/fixtures/journal/story.jsonl",
            run.join("journal.jsonl"),
        )
        .expect("copy");
        let mut args = vec!["report", run.to_str().expect("utf8")];
        if json {
            args.push("--json");
        }
        let r = cutover(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    }

    #[test]
    fn the_report_tells_the_whole_story() {
        let md = story(false);
        for section in [
            "## Timeline (UTC)",
            "## Staged changes",
            "## Failures",
            "## Exclusions",
            "## Arming and fire",
            "## Watch",
            "## Operator actions",
            "## Hosts",
        ] {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("| lab-[1,4-5] (3) | fired, exit 0 |"), "{md}");
        assert!(md.contains("| lab-1 | waiter | `"), "{md}");
        assert!(
            md.contains("probe `fired` already failing before the fire"),
            "{md}"
        );
        insta::assert_snapshot!("report-story", md);
    }

    #[test]
    fn the_json_report_has_the_same_content_under_stable_names() {
        let v: serde_json::Value = serde_json::from_str(&story(true)).expect("json");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "run",
                "header",
                "verdict",
                "attempts",
                "timeline",
                "diffs",
                "failures",
                "exclusions",
                "fire",
                "watch",
                "operator",
                "hosts",
                "rollback",
                "torn_tail"
            ]
        );
        assert_eq!(v["verdict"]["outcome"], "complete");
        assert_eq!(v["diffs"][0]["hostlist"], "lab-[1,4-5]");
        assert_eq!(v["diffs"][0]["written"], 3);
        assert_eq!(v["exclusions"].as_array().expect("list").len(), 3);
        assert_eq!(v["fire"]["hosts"][0]["mechanism"], "waiter");
        assert_eq!(v["fire"]["hosts"][0]["exit"], 0);
        assert_eq!(
            v["watch"]["probe_failures_before_fire"][0]["probe"],
            "fired"
        );
        assert_eq!(v["hosts"][0]["hostlist"], "lab-[1,4-5]");
        insta::assert_snapshot!("report-story-json", story(true));
    }

    /// A real lab run stopped by SIGTERM in the countdown (every armed host disarmed),
    /// then `cutover disarm` from another terminal (its side journal merged in).
    #[test]
    fn an_aborted_run_reports_the_signal_the_disarms_and_the_jobs_that_never_fired() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("20261130T201505Z-aborted-c27a");
        std::fs::create_dir(&run).expect("mkdir");
        let copy = |from: &str, to: &str| {
            std::fs::copy(format!("tests/fixtures/journal/{from}"), run.join(to)).expect("copy")
        };
        copy("aborted.jsonl", "journal.jsonl");
        copy(
            "aborted-disarm.jsonl",
            "disarm-20261130T201532.227Z-17349.jsonl",
        );
        let r = cutover(&["report", run.to_str().expect("utf8")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let md = r.stdout;
        assert!(md.contains("| Verdict | **aborted** |"), "{md}");
        assert!(md.contains("| SIGTERM received: abort"), "{md}");
        assert!(md.contains("| disarm requested by root@vm |"), "{md}");
        assert!(md.contains("| lab-1 | waiter | `"), "{md}");
        insta::assert_snapshot!("report-aborted", md);
    }

    #[test]
    fn a_torn_journal_still_reports_and_says_so() {
        let dir = tempfile::tempdir().expect("tmp");
        let run = dir.path().join("r");
        std::fs::create_dir(&run).expect("mkdir");
        let text = std::fs::read_to_string("tests/fixtures/journal/fired.jsonl").expect("read");
        let cut = &text[..text.len() - 40];
        std::fs::write(run.join("journal.jsonl"), cut).expect("write");
        let r = cutover(&["report", run.to_str().expect("utf8")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("torn"), "{}", r.stdout);
        assert!(r.stdout.contains("unfinished"), "{}", r.stdout);
    }
}

/// Plain output replayed from real lab journals: what `cutover run --plain` printed, grouped.
mod plain {
    use cutover::journal::Record;
    use cutover::run::event::RunEvent;
    use cutover::run::print::Printer;

    fn replay(fixture: &str) -> String {
        let text =
            std::fs::read_to_string(format!("tests/fixtures/journal/{fixture}")).expect("fixture");
        let mut printer = Printer::default();
        let mut out = String::new();
        for line in text.lines() {
            let r: Record<RunEvent> = serde_json::from_str(line).expect("record");
            out.push_str(&printer.line(&r.event));
        }
        out.push_str(&printer.flush());
        out
    }

    #[test]
    fn a_run_with_an_excluded_a_skewed_and_a_failing_host_reads_in_groups() {
        let out = replay("story.jsonl");
        assert_eq!(
            out.matches("disk full").count(),
            1,
            "the reason once:\n{out}"
        );
        assert!(
            out.contains("   3 host(s) lab-[1,4-5]: this change (context lines differ by host"),
            "{out}"
        );
        insta::assert_snapshot!("plain-story", out);
    }

    #[test]
    fn an_aborted_run_says_its_disarms_in_one_line() {
        let out = replay("aborted.jsonl");
        assert!(
            out.contains("   disarmed 3 host(s)  [lab-[1-2,4]]\n"),
            "{out}"
        );
        assert!(!out.contains("Ok("), "no Rust debug text:\n{out}");
        insta::assert_snapshot!("plain-aborted", out);
    }
}

mod fmt {
    use super::*;

    #[test]
    fn shipped_plans_and_valid_fixtures_are_formatted() {
        let mut args = vec!["fmt".to_string(), "--check".to_string()];
        for dir in ["plans", "tests/fixtures/plans/valid"] {
            args.extend(toml_files(dir).iter().map(|p| p.display().to_string()));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = cutover(&args);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }

    #[test]
    fn check_names_a_file_that_would_change_and_fmt_fixes_it_keeping_comments() {
        let dir = tempfile::tempdir().expect("tmp");
        let plan = dir.path().join("messy.toml");
        let messy = "# why\n[plan]\n  name=\"x\"    # slug\n\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun =  \"true\"\n";
        std::fs::write(&plan, messy).expect("write");
        let path = plan.display().to_string();
        let r = cutover(&["fmt", "--check", &path]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("messy.toml: not formatted"),
            "{}",
            r.stdout
        );
        assert_eq!(std::fs::read_to_string(&plan).expect("read"), messy);
        let r = cutover(&["fmt", &path]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert_eq!(
            std::fs::read_to_string(&plan).expect("read"),
            "# why\n[plan]\nname = \"x\"    # slug\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"true\"\n"
        );
        assert_eq!(cutover(&["fmt", "--check", &path]).code, 0);
    }
}

mod templates {
    use super::*;

    #[test]
    fn render_shows_rendered_values_and_labels_when_hosts_share_them() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("inv.toml"),
            "[inventory]\nname = \"t\"\n\n[[hosts]]\nnames = \"web-[1-3]\"\naddresses = \"10.0.0.[1-3]\"\nvars = { root = \"/srv\" }\n",
        )
        .expect("inv");
        let plan = dir.path().join("plan.toml");
        std::fs::write(
            &plan,
            "[plan]\nname = \"t\"\n\n[inventory]\npath = \"inv.toml\"\n\n[[stage]]\nstep = \"edit_file\"\npath = \"{{ vars.root }}/etc/app.conf\"\nreplace = { pattern = \"a\", with = \"b\" }\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"echo {{ host.name }} >> {{ vars.root }}/restarts\"\n",
        )
        .expect("plan");
        let r = cutover(&["render", &plan.display().to_string(), "--now", FIXTURE_NOW]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("### 1. edit /srv/etc/app.conf"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("- Rendered, the same on all 3 hosts:\n  - `path`: `/srv/etc/app.conf`"),
            "{}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("| web-1 | `echo web-1 >> /srv/restarts` |"),
            "{}",
            r.stdout
        );
    }
}
