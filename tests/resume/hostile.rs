//! Hostile values on real OpenSSH hosts: a secret full of shell and JSON metacharacters is
//! data to every command (nothing it contains runs) and leaves no trace in any encoding in
//! what cutover prints or records, nor on the hosts after the run; terminal escapes and bidi
//! controls from a host's file and output, and from the plan, are never shown raw.

use super::*;
use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Quotes, a backslash, `$(...)`, backquotes, a newline, non-ASCII, and a `#` comment.
const SECRET: &str =
    "Ab\\cd9\"SEC'RET $(touch pwned) `touch pwned2`; Kx7FRAG #\nzweite Zeile é€ tail";

/// Pieces of the secret that must not be seen anywhere (any one of them would be a leak).
const FRAGMENTS: &[&str] = &["SEC'RET", "Kx7FRAG", "zweite Zeile", "cd9\\\"SEC"];

fn leaks(text: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    let core = &b64[4..b64.len() - 4];
    let unwrapped: String = text.chars().filter(|c| *c != '\n').collect();
    let mut found: Vec<String> = FRAGMENTS
        .iter()
        .filter(|f| text.contains(**f))
        .map(|f| f.to_string())
        .collect();
    if unwrapped.contains(core) {
        found.push("base64".into());
    }
    if text.contains(SECRET) {
        found.push("raw".into());
    }
    found
}

fn assert_no_leak(what: &str, text: &str) {
    let found = leaks(text);
    assert!(
        found.is_empty(),
        "the secret leaked into {what} ({found:?}):\n{text}"
    );
}

/// `cutover <sub>` for commands without a run directory.
fn plain(sub: &str) -> std::process::Command {
    use assert_cmd::cargo::CommandCargoExt;
    let mut c = std::process::Command::cargo_bin("cutover").unwrap();
    c.arg(sub);
    c
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let (p, kind) = (e.path(), e.file_type().unwrap());
        if kind.is_dir() {
            out.extend(files(&p));
        } else if kind.is_file() {
            // Not the waiter's `tick` FIFO: opening it would block.
            out.push(p);
        }
    }
    out
}

fn hostile_plan(s: &Setup) {
    for h in &s.fleet.hosts {
        std::fs::write(
            h.dir.join("etc/acl.json"),
            "{\n  \"acl_token\": \"old\"\n}\n",
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(&s.plan).unwrap();
    let stage = r#"[secrets]
tok = { env = "CUTOVER_TEST_TOKEN" }

[[stage]]
name = "token into json"
step = "edit_file"
path = "{{ vars.root }}/etc/acl.json"
set = { format = "json", keys = { acl_token = "{{ secrets.tok }}" } }
sudo = false

[[stage]]
name = "token file"
step = "edit_file"
path = "{{ vars.root }}/etc/token.conf"
template = "token = {{ secrets.tok }}\n"
sudo = false

[[stage]]
name = "use it"
step = "command"
run = 'printf "%s" {{ secrets.tok }} > "$HOME/cmd-token"; echo "stage sees {{ secrets.tok }}"; printf %s {{ secrets.tok }} | base64 -w 20'
sudo = false

"#;
    let text = text.replacen("[[stage]]", &format!("{stage}[[stage]]"), 1).replace(
        "run = \"echo fired >> \\\"$HOME/fired\\\"\"",
        "run = '''echo fired >> \"$HOME/fired\"; printf %s {{ secrets.tok }} > \"$HOME/fired-token\"; echo \"action sees {{ secrets.tok }}\"'''",
    );
    assert!(text.contains("fired-token"), "the action was rewritten");
    std::fs::write(&s.plan, text).unwrap();
}

#[test]
fn a_hostile_secret_is_data_to_every_command_and_leaves_no_trace_in_any_encoding() {
    let s = setup(1);
    hostile_plan(&s);
    let out = Out::from(
        s.cutover("run")
            .arg(&s.plan)
            .args([
                "--now",
                "2029-12-31T23:00:00Z",
                "--yes",
                "--json",
                "--at",
                "now+25s",
            ])
            .env("CUTOVER_TEST_TOKEN", SECRET)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let home = &s.fleet.hosts[0].dir;
    assert_eq!(
        std::fs::read_to_string(home.join("cmd-token")).unwrap(),
        SECRET
    );
    assert_eq!(
        std::fs::read_to_string(home.join("fired-token")).unwrap(),
        SECRET
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("etc/acl.json")).unwrap()).unwrap();
    assert_eq!(json["acl_token"], SECRET, "the file gets the exact value");
    assert_eq!(
        std::fs::read_to_string(home.join("etc/token.conf")).unwrap(),
        format!("token = {SECRET}\n")
    );
    for f in ["pwned", "pwned2"] {
        assert!(
            !home.join(f).exists(),
            "the secret's value ran as a command ({f})"
        );
    }
    assert!(
        out.stdout.contains("{{ secrets.tok }}"),
        "the diffs show the reference:\n{}",
        out.stdout
    );
    assert_no_leak("stdout", &out.stdout);
    assert_no_leak("stderr", &out.stderr);
    let dir = s.run_dir().unwrap();
    for f in files(&dir) {
        assert_no_leak(
            &f.display().to_string(),
            &String::from_utf8_lossy(&std::fs::read(&f).unwrap()),
        );
    }
    for json in [false, true] {
        let mut c = s.cutover("report");
        c.arg(dir.file_name().unwrap());
        if json {
            c.arg("--json");
        }
        let report = Out::from(c.output().unwrap());
        assert_eq!(report.code, 0, "{}", report.stderr);
        assert_no_leak("the report", &report.stdout);
    }
    // The job wrapper (the action, secrets included) and the action's output are removed once
    // the run is over; every file left on the host must be clean.
    for f in files(&home.join("cutover")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !["job.sh", "output", "output.tail"].contains(&name.as_str()),
            "{} was left on the host",
            f.display()
        );
        assert_no_leak(
            &f.display().to_string(),
            &String::from_utf8_lossy(&std::fs::read(&f).unwrap()),
        );
    }
}

#[test]
fn a_secret_inside_other_programs_quoted_text_is_refused_by_check_with_its_location() {
    let s = setup(1);
    let text = std::fs::read_to_string(&s.plan).unwrap().replacen(
        "[[stage]]",
        "[secrets]\ntok = { env = \"T\" }\n\n[[stage]]\nname = \"awk\"\nstep = \"command\"\nrun = \"awk '{print \\\"{{ secrets.tok }}\\\"}' /etc/hosts\"\nsudo = false\n\n[[stage]]",
        1,
    );
    std::fs::write(&s.plan, text).unwrap();
    let out = Out::from(
        plain("check")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("is inside single quotes"), "{all}");
    assert!(all.contains("plan.toml:"), "located: {all}");
}

/// Raw characters that must never reach a terminal or a record.
const RAW: &[(&str, &str)] = &[
    ("ESC", "\u{1b}"),
    ("C1 CSI", "\u{9b}"),
    ("RLO", "\u{202e}"),
    ("LRI", "\u{2066}"),
    ("NUL", "\u{0}"),
    ("BEL", "\u{7}"),
];

fn assert_no_raw(what: &str, text: &str) {
    for (name, c) in RAW {
        assert!(!text.contains(c), "raw {name} in {what}:\n{text:?}");
    }
}

#[test]
fn escapes_from_a_remote_file_and_host_output_are_shown_visibly_never_raw() {
    let s = setup(1);
    let motd = s.fleet.hosts[0].dir.join("etc/motd");
    let hostile =
        "hello \u{1b}]52;c;cm0gLXJmIC8=\u{7} \u{1b}[2J \u{9b}31m \u{202e}evil\u{2069}\nline2\n";
    let text = std::fs::read_to_string(&s.plan).unwrap().replacen(
        "[[stage]]",
        "[[stage]]\nname = \"motd\"\nstep = \"edit_file\"\npath = \"{{ vars.root }}/etc/motd\"\nreplace = { pattern = \"line2\", with = \"line two\" }\nsudo = false\n\n[[stage]]\nname = \"noisy\"\nstep = \"command\"\nrun = \"printf 'out \\\\033]52;c;AAAA\\\\007 \\\\302\\\\233 \\\\342\\\\200\\\\256 nul:\\\\000 end\\\\n'; exit 4\"\nsudo = false\n\n[[stage]]",
        1,
    );
    std::fs::write(&s.plan, text).unwrap();
    for json in [false, true] {
        std::fs::write(&motd, hostile).unwrap();
        let mut c = s.cutover("run");
        c.arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+40s"]);
        c.arg(if json { "--json" } else { "--plain" });
        let out = Out::from(c.output().unwrap());
        assert_eq!(
            out.code, 1,
            "the noisy step fails: {}{}",
            out.stdout, out.stderr
        );
        assert!(
            out.stdout.contains("\\u{1b}]52;c;cm0gLXJmIC8="),
            "the diff shows the escape visibly:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains("\\u{202e}"), "{}", out.stdout);
        assert_no_raw("stdout", &out.stdout);
        assert_no_raw("stderr", &out.stderr);
        let dir = s.run_dir().unwrap();
        for f in files(&dir) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert_no_raw(&f.display().to_string(), &text);
            if f.extension().is_some_and(|e| e == "jsonl") {
                assert!(
                    !text.contains("\\u001b") && !text.contains("\\u0000"),
                    "JSON-escaped but still there: {text}"
                );
            }
        }
        let report = Out::from(
            s.cutover("report")
                .arg(dir.file_name().unwrap())
                .output()
                .unwrap(),
        );
        assert_no_raw("the report", &report.stdout);
        std::fs::remove_dir_all(s.runs()).unwrap();
    }
}

#[test]
fn hostile_plan_and_inventory_text_is_refused_or_shown_visibly() {
    let s = setup(1);
    let text = std::fs::read_to_string(&s.plan).unwrap().replace(
        "run = \"echo fired >> \\\"$HOME/fired\\\"\"",
        "run = \"echo fired >> \\\"$HOME/fired\\\" # \u{202e}\u{2066}harmless\u{2069}\\u001b]52;c;x\\u0007\"",
    );
    assert!(text.contains('\u{202e}'));
    std::fs::write(&s.plan, &text).unwrap();
    let check = Out::from(
        plain("check")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z"])
            .output()
            .unwrap(),
    );
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    let all = format!("{}{}", check.stdout, check.stderr);
    assert!(all.contains("U+202E"), "{all}");
    let line = text.lines().position(|l| l.contains('\u{202e}')).unwrap() + 1;
    assert!(
        all.contains(&format!("plan.toml:{line}:")),
        "located at line {line}: {all}"
    );
    assert_no_raw("check", &all);
    let render = Out::from(
        plain("render")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z"])
            .output()
            .unwrap(),
    );
    assert_no_raw("render", &format!("{}{}", render.stdout, render.stderr));

    let inv = s.fleet.dir().join("inventory.toml");
    let bad = std::fs::read_to_string(&inv).unwrap().replace(
        "name = \"rehearsal\"",
        "name = \"reh\\u001b]52;c;x\\u0007\u{202e}\"",
    );
    std::fs::write(&inv, bad).unwrap();
    let show = Out::from(plain("inventory").arg("show").arg(&inv).output().unwrap());
    assert_ne!(show.code, 0, "an inventory name with escapes is refused");
    assert!(show.stderr.contains("inventory name"), "{}", show.stderr);
    assert_no_raw("inventory show", &format!("{}{}", show.stdout, show.stderr));

    let absurd = text
        .replace(
            "command_timeout = \"20s\"",
            "command_timeout = \"20s\"\noutput_cap = \"2GiB\"",
        )
        .replace("at = 2030-01-01T00:00:00Z", "at = 9999-01-01T00:00:00Z");
    std::fs::write(&s.plan, absurd).unwrap();
    let check = Out::from(
        plain("check")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z"])
            .output()
            .unwrap(),
    );
    let all = format!("{}{}", check.stdout, check.stderr);
    assert!(all.contains("is above the 64 MiB"), "{all}");
    assert!(all.contains("more than ten years away"), "{all}");

    std::fs::write(
        &s.plan,
        b"[plan]\nname = \"x\"\ndescription = \"caf\xe9\"\n",
    )
    .unwrap();
    let bad_utf8 = Out::from(plain("check").arg(&s.plan).output().unwrap());
    assert_eq!(bad_utf8.code, 2, "{}", bad_utf8.stderr);
    assert!(
        bad_utf8
            .stderr
            .contains("invalid UTF-8 at line 3, column 19"),
        "{}",
        bad_utf8.stderr
    );
}

#[test]
fn a_failing_step_that_prints_the_secret_in_pieces_and_base64_shows_only_the_reference() {
    let s = setup(1);
    let text = std::fs::read_to_string(&s.plan).unwrap().replacen(
        "[[stage]]",
        "[secrets]\ntok = { env = \"CUTOVER_TEST_TOKEN\" }\n\n[[stage]]\nname = \"fail loudly\"\nstep = \"command\"\nrun = 'printf \"auth failed for %s\\\\n\" {{ secrets.tok }} >&2; printf %s {{ secrets.tok }} | base64 -w 16 >&2; exit 3'\nsudo = false\n\n[[stage]]",
        1,
    );
    std::fs::write(&s.plan, text).unwrap();
    let out = Out::from(
        s.cutover("run")
            .arg(&s.plan)
            .args([
                "--now",
                "2029-12-31T23:00:00Z",
                "--yes",
                "--plain",
                "--at",
                "now+40s",
            ])
            .env("CUTOVER_TEST_TOKEN", SECRET)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let journal = serde_json::to_string(&s.journal()).unwrap();
    assert!(
        journal.contains("auth failed for {{ secrets.tok }}"),
        "the reason keeps its shape, redacted:\n{journal}"
    );
    assert_no_leak("stdout", &out.stdout);
    assert_no_leak("stderr", &out.stderr);
    let dir = s.run_dir().unwrap();
    for f in files(&dir) {
        assert_no_leak(
            &f.display().to_string(),
            &String::from_utf8_lossy(&std::fs::read(&f).unwrap()),
        );
    }
    let report = Out::from(
        s.cutover("report")
            .arg(dir.file_name().unwrap())
            .arg("--json")
            .output()
            .unwrap(),
    );
    assert_no_leak("the report", &report.stdout);
}
