//! `cutover demo` end to end, non-interactively, as CI runs it.

use super::harness::{cutover, processes_naming};

#[test]
fn the_demo_completes_with_a_measured_spread_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-lab");
    let runs = tmp.path().join("runs");
    let (code, out, err) = cutover(&[
        "demo",
        "--plain",
        "--hosts",
        "4",
        "--dir",
        dir.to_str().unwrap(),
        "--subnet",
        "127.0.45",
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("fire spread:") && out.contains("4 fired"),
        "{out}"
    );
    assert!(out.contains("run complete"), "{out}");
    assert!(out.contains("report:  cutover report "), "{out}");
    assert!(out.contains("lab down:"), "{out}");
    assert!(!dir.exists(), "the lab directory is removed");
    assert!(
        processes_naming(dir.to_str().unwrap()).is_empty(),
        "a lab process survived the demo"
    );
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    assert!(journal.contains("\"kind\":\"spread\""));
    let (code, report, err) = cutover(&["report", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(report.to_lowercase().contains("spread"), "{report}");
}
