//! A secret's value reaches the hosts and nothing else: not the journal, the run directory,
//! the printed lines, the report, diffs or failure reasons, on the failure paths too.

use super::*;

const SENTINEL: &str = "sentinel-7f3a9c-do-not-leak";

fn plan_with_secret(s: &Setup) {
    let text = std::fs::read_to_string(&s.plan).unwrap();
    let stage = r#"[secrets]
token = { env = "CUTOVER_TEST_TOKEN" }

[[stage]]
name = "token file"
step = "edit_file"
path = "{{ vars.root }}/etc/token.conf"
template = "token = {{ secrets.token }}\n"
sudo = false

[[stage]]
name = "use it"
step = "command"
run = "echo \"using {{ secrets.token }}\"; echo \"{{ secrets.token }}\" > \"$HOME/cmd-token\""
sudo = false

[[stage]]
name = "fail loudly"
step = "command"
run = "echo \"auth failed for {{ secrets.token }}\" >&2; exit 3"
sudo = false

"#;
    let text = text.replacen("[[stage]]", &format!("{stage}[[stage]]"), 1);
    std::fs::write(&s.plan, text).unwrap();
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SENTINEL),
        "the secret leaked into {what}:\n{text}"
    );
}

#[test]
fn a_secret_never_leaves_the_hosts_even_when_a_step_echoes_it_and_fails() {
    let s = setup(2);
    plan_with_secret(&s);
    let out = Out::from(
        s.cutover("run")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+40s"])
            .env("CUTOVER_TEST_TOKEN", SENTINEL)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("+token = {{ secrets.token }}"),
        "{}",
        out.stdout
    );
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    let host_file = s.fleet.hosts[0].dir.join("etc/token.conf");
    assert_eq!(
        std::fs::read_to_string(host_file).unwrap(),
        format!("token = {SENTINEL}\n"),
        "the host gets the value"
    );
    assert_eq!(
        std::fs::read_to_string(s.fleet.hosts[0].dir.join("cmd-token")).unwrap(),
        format!("{SENTINEL}\n"),
        "commands get the value"
    );
    let dir = s.run_dir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_clean(
            &path.display().to_string(),
            &std::fs::read_to_string(&path).unwrap(),
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
        assert!(
            report
                .stdout
                .contains("auth failed for {{ secrets.token }}"),
            "the failure reason is kept, redacted:\n{}",
            report.stdout
        );
        assert_clean("the report", &report.stdout);
    }
}

#[test]
fn a_missing_secret_stops_the_run_before_anything_happens() {
    let s = setup(1);
    plan_with_secret(&s);
    let out = Out::from(
        s.cutover("run")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+40s"])
            .env_remove("CUTOVER_TEST_TOKEN")
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("CUTOVER_TEST_TOKEN is not set"),
        "{}",
        out.stderr
    );
    assert!(
        s.run_dir().is_none(),
        "no run directory for a run that never started"
    );
}
