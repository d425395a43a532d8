//! One template language everywhere: `{{ host.* }}` and `{{ vars.* }}` expand, per host and
//! quoted, in preflight and stage commands, the action and a watch probe; diffs name the
//! rendered path.

use super::*;

#[test]
fn host_fields_and_vars_expand_in_commands_the_action_and_a_probe_on_every_host() {
    let s = setup(
        3,
        "[[preflight]]\ncheck = \"command\"\nrun = \"test -d {{ vars.root }}/etc\"\n\n[[stage]]\nname = \"note the name\"\nstep = \"command\"\nrun = \"echo {{ host.name }} > {{ vars.root }}/staged-name\"\nsudo = false\n\n",
    );
    let plan = std::fs::read_to_string(&s.plan)
        .unwrap()
        .replace(
            "run = \"echo fired >> \\\"$HOME/fired\\\"\"",
            "run = \"echo restarted {{ host.name }} >> {{ vars.root }}/restarts; echo fired >> \\\"$HOME/fired\\\"\"",
        )
        .replace(
            "run = \"test -f \\\"$HOME/fired\\\"\"",
            "run = \"test \\\"$(cat {{ vars.root }}/restarts)\\\" = \\\"restarted {{ host.name }}\\\"\"",
        );
    assert!(plan.contains("{{ vars.root }}/restarts"), "{plan}");
    std::fs::write(&s.plan, plan).unwrap();
    let r = fire_in(&s, 16);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Each host's root differs: one grouped diff, its header saying the path is per host,
    // and the journal names each host's rendered file.
    assert!(
        r.stdout
            .contains("{{ vars.root }}/etc/consul.json (rendered per host)"),
        "{}",
        r.stdout
    );
    let journal = journal_text(&s);
    for h in &s.fleet.hosts {
        let file = format!("{}/etc/consul.json", h.dir.display());
        assert!(journal.contains(&format!("\"file\":\"{file}\"")), "{file}");
    }
    for h in &s.fleet.hosts {
        let read = |f: &str| std::fs::read_to_string(h.dir.join(f)).unwrap_or_default();
        assert_eq!(read("staged-name"), format!("{}\n", h.name));
        assert_eq!(read("restarts"), format!("restarted {}\n", h.name));
        assert!(!h.dir.join("{{").exists() && !Path::new("{{").exists());
    }
}

#[test]
fn an_undefined_variable_is_refused_by_check_at_its_place() {
    let s = setup(2, "");
    let plan = std::fs::read_to_string(&s.plan).unwrap().replace(
        "run = \"test -f \\\"$HOME/fired\\\"\"",
        "run = \"test -f {{ vars.rot }}/x\"",
    );
    std::fs::write(&s.plan, plan).unwrap();
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("check")
        .arg(&s.plan)
        .arg("--now")
        .arg("2029-12-31T23:00:00Z")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("`{{ vars.rot }}` is not defined for 2 of 2 target hosts")
            && text.contains("did you mean `{{ vars.root }}`?"),
        "{text}"
    );
}
