//! The atomic file scripts.

use super::sh;
use cutover::remote::files::{EXIT_CHANGED, parse_read, read_script, sha256_hex, write_script};
use std::os::unix::fs::PermissionsExt;

#[test]
fn write_then_read_round_trips_and_keeps_mode_and_a_backup() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("consul.json");
    std::fs::write(&path, "{\"verify\": true}\n").expect("seed");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let p = path.to_str().expect("utf8");

    let (code, out, err) = sh(&read_script(p));
    assert_eq!(code, 0, "{err}");
    let before = parse_read(&out).expect("parse").expect("exists");
    assert_eq!(before.mode, 0o640);

    let new = b"{\"verify\": false}\n";
    let (code, out, err) = sh(&write_script(p, new, Some(&before.sha256), None));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), sha256_hex(new));
    assert_eq!(std::fs::read(&path).expect("read"), new);
    assert_eq!(
        std::fs::metadata(&path).expect("meta").permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("consul.json.cutover-bak")).expect("bak"),
        "{\"verify\": true}\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("cutover-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_file_changed_since_it_was_read_is_not_overwritten() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.conf");
    std::fs::write(&path, "a\n").expect("seed");
    let stale = sha256_hex(b"a\n");
    std::fs::write(&path, "changed by chef\n").expect("drift");
    let (code, _, err) = sh(&write_script(
        path.to_str().expect("utf8"),
        b"b\n",
        Some(&stale),
        None,
    ));
    assert_eq!(code as u32, EXIT_CHANGED, "{err}");
    assert!(err.contains("changed since it was read"));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "changed by chef\n"
    );
}

#[test]
fn an_interrupted_write_never_leaves_a_half_written_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("big.conf");
    std::fs::write(&path, "original\n").expect("seed");
    let p = path.to_str().expect("utf8");
    // Corrupt the payload so the write fails after the temporary file is partly written.
    let script = write_script(
        p,
        &vec![b'x'; 200_000],
        Some(&sha256_hex(b"original\n")),
        None,
    );
    let broken = script.replacen("CUTOVER_EOF\n", "CUTOVER_EOF\n!!!!not-base64!!!!\n", 1);
    let (code, _, _) = sh(&broken);
    assert_ne!(code, 0);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "original\n");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["big.conf".to_string()],
        "temporary file left behind"
    );
}

#[test]
fn a_new_file_gets_the_requested_mode() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("new.pem");
    let (code, _, err) = sh(&write_script(
        path.to_str().expect("utf8"),
        b"secret\n",
        None,
        Some(0o600),
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::metadata(&path).expect("meta").permissions().mode() & 0o7777,
        0o600
    );
    let (code, out, _) = sh(&read_script(
        dir.path().join("absent").to_str().expect("utf8"),
    ));
    assert_eq!((code, out.as_str()), (0, "MISSING\n"));
}
