//! Each inventory format, read from fixtures in the exact shape users have.

use std::path::PathBuf;

use cutover::inventory::{Format, InventoryError, load};

use super::{load_err, load_ok};

fn names(inv: &cutover::inventory::Inventory) -> Vec<&str> {
    inv.hosts.iter().map(|h| h.name.as_str()).collect()
}

#[test]
fn native_reads_hosts_defaults_and_ranges() {
    let inv = load_ok("native-valid.toml");
    assert_eq!((inv.name.as_str(), inv.production), ("production", true));
    assert_eq!(inv.source.format, Format::Native);
    assert_eq!(inv.hosts.len(), 252);
    let first = &inv.hosts[0];
    assert_eq!(
        (first.address.as_str(), first.port, first.user.as_deref()),
        ("10.218.1.4", 22, Some("cutover"))
    );
    assert_eq!(first.labels["zone"], "us-east1-b");
    assert_eq!(first.vars["weight"], "3");
    assert_eq!(first.vars["ratio"], "0.5");
    assert_eq!(first.vars["voter"], "true");
    let second = &inv.hosts[1];
    assert_eq!((second.port, second.user.as_deref()), (2222, Some("ops")));
    let last = &inv.hosts[251];
    assert_eq!(
        (last.name.as_str(), last.address.as_str()),
        ("consul-client-250", "10.219.0.250")
    );
}

#[test]
fn native_typo_is_an_error_at_its_line() {
    let err = load_err("native-typo.toml");
    let InventoryError::Toml {
        at: Some(at),
        message,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(at.line, 6, "{err}");
    assert!(message.contains("adress"), "{message}");
}

#[test]
fn native_duplicate_names_both_places() {
    let err = load_err("native-duplicate.toml");
    let InventoryError::DuplicateHost {
        name,
        first,
        second,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((name.as_str(), first.line, second.line), ("web-02", 4, 7));
    assert!(
        err.to_string().contains("native-duplicate.toml:4:1"),
        "{err}"
    );
}

#[test]
fn native_address_count_must_match_names() {
    let err = load_err("native-count-mismatch.toml");
    assert!(
        matches!(
            err,
            InventoryError::AddressCount {
                names: 3,
                addresses: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn native_bad_range_says_how_to_write_one() {
    let err = load_err("native-bad-range.toml");
    assert!(matches!(err, InventoryError::Range { .. }), "{err:?}");
    assert!(err.to_string().contains("[1-3,7,10-12]"), "{err}");
}

#[test]
fn ansible_ini_output_maps_connection_vars_and_ancestor_groups() {
    let inv = load_ok("ansible-from-ini.json");
    assert_eq!(inv.name, "ansible-from-ini");
    assert!(!inv.production);
    assert_eq!(
        names(&inv),
        [
            "bastion",
            "consul-01",
            "consul-02",
            "consul-03",
            "client-01",
            "client-02"
        ]
    );
    let c3 = inv.host("consul-03").unwrap();
    assert_eq!(
        (c3.address.as_str(), c3.port, c3.user.as_deref()),
        ("10.218.1.6", 2222, Some("cutover"))
    );
    let groups: Vec<&str> = c3.groups.iter().map(String::as_str).collect();
    assert_eq!(groups, ["consul", "consul_servers"]);
    assert_eq!(c3.vars.keys().collect::<Vec<_>>(), ["datacenter"]);
    assert!(inv.host("bastion").unwrap().groups.contains("ungrouped"));
}

#[test]
fn ansible_yaml_output_serializes_structured_vars_compactly() {
    let inv = load_ok("ansible-from-yaml.json");
    let e1 = inv.host("etcd-1").unwrap();
    assert_eq!((e1.port, e1.user.as_deref()), (2200, Some("ops")));
    assert_eq!(e1.vars["etcd_member"], "true");
    assert_eq!(e1.vars["etcd_tags"], r#"["voter","zone-a"]"#);
    assert_eq!(e1.vars["limits"], r#"{"nofile":65536}"#);
}

#[test]
fn ansible_group_cycles_terminate() {
    let inv = load_ok("ansible-cycle.json");
    let groups: Vec<&str> = inv.hosts[0].groups.iter().map(String::as_str).collect();
    assert_eq!(groups, ["a", "b"]);
}

#[test]
fn ansible_malformed_json_points_at_the_line() {
    let text = "{\n  \"all\": {\n    \"hosts\": [1]\n  }\n}";
    let err = cutover::inventory::parse(text, Format::Ansible, "x.json").unwrap_err();
    assert!(err.to_string().contains("must list strings"), "{err}");
    let err =
        cutover::inventory::parse("{\n  \"all\": ,\n}", Format::Ansible, "x.json").unwrap_err();
    assert!(
        matches!(err, InventoryError::Json { at, .. } if at.line == 2),
        "{err:?}"
    );
}

#[test]
fn host_list_expands_users_ports_and_ranges() {
    let inv = load_ok("hosts.txt");
    assert_eq!(inv.source.format, Format::HostList);
    assert_eq!(inv.name, "hosts");
    assert_eq!(
        names(&inv),
        ["web01", "web02", "web03", "db1", "db2", "db5", "cache-a"]
    );
    let db5 = inv.host("db5").unwrap();
    assert_eq!(
        (db5.port, db5.user.as_deref(), db5.address.as_str()),
        (2222, Some("deploy"), "db5")
    );
    assert!(inv.hosts.iter().all(|h| h.groups.is_empty()));
}

#[test]
fn host_list_errors_carry_the_line() {
    let err = load_err("hosts-bad.txt");
    assert!(err.to_string().contains("hosts-bad.txt:2:1"), "{err}");
    assert!(err.to_string().contains("backwards"), "{err}");
}

#[test]
fn missing_file_is_a_read_error() {
    let err = load(&PathBuf::from("/nonexistent/inv.toml")).unwrap_err();
    assert!(matches!(err, InventoryError::Read { .. }));
}

#[test]
fn example_inventories_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plans/inventories");
    let prod = load(&root.join("consul-production.toml")).unwrap();
    assert!(prod.production);
    let groups = prod.groups();
    assert_eq!(
        (
            groups["consul_servers"].len(),
            groups["consul_clients"].len()
        ),
        (5, 250)
    );
    let staging = load(&root.join("consul-staging.toml")).unwrap();
    assert!(!staging.production);
    assert_eq!(
        (
            staging.groups()["consul_servers"].len(),
            staging.groups()["consul_clients"].len()
        ),
        (3, 10)
    );
    let lab = load(&root.join("lab.toml")).unwrap();
    let addrs: Vec<&str> = lab.hosts.iter().map(|h| h.address.as_str()).collect();
    assert_eq!(
        addrs,
        [
            "127.0.10.1",
            "127.0.10.2",
            "127.0.10.3",
            "127.0.10.4",
            "127.0.10.5"
        ]
    );
    assert_eq!(
        (lab.groups()["servers"].len(), lab.groups()["clients"].len()),
        (3, 2)
    );
    assert!(lab.hosts.iter().all(|h| h.user.as_deref() == Some("root")));
}

#[test]
fn ansible_ssh_variables_become_keys_bastions_and_notes() {
    let inv = load_ok("ansible-ssh.json");
    let (web1, web2) = (&inv.hosts[0], &inv.hosts[1]);
    assert_eq!(web1.ssh.identity.as_deref(), Some("~/.ssh/prod_ed25519"));
    assert_eq!(
        web1.ssh.proxy_jump.as_deref(),
        Some("ops@bastion.example"),
        "the usual ProxyCommand is a ProxyJump"
    );
    let notes = web1.ssh.notes.join("\n");
    assert!(notes.contains("StrictHostKeyChecking"), "{notes}");
    assert!(notes.contains("ansible_become_user=postgres"), "{notes}");
    assert_eq!(
        web2.ssh.proxy_jump.as_deref(),
        Some("jump@bastion2.example:2222")
    );
    assert!(!web1.vars.contains_key("ansible_ssh_common_args"));
}

#[test]
fn ini_and_yaml_inventories_get_the_ansible_inventory_hint() {
    for (file, kind, line) in [
        ("ansible-inventory.ini", "INI", 2),
        ("ansible-inventory.yml", "YAML", 1),
    ] {
        let err = load_err(file);
        let text = err.to_string();
        assert!(
            text.contains(&format!("Ansible {kind} inventory"))
                && text.contains("ansible-inventory -i")
                && text.contains("--list"),
            "{text}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(line), "{text}");
    }
}

#[test]
fn impossible_addresses_are_refused_where_they_are_written() {
    let err = load_err("ansible-bad-address.json");
    assert_eq!(err.position().map(|p| p.line), Some(5), "{err}");
    assert!(err.to_string().contains("999.1.1.1"), "{err}");
    let err = load_err("native-bad-address.toml");
    assert_eq!(err.position().map(|p| p.line), Some(8), "{err}");
    assert!(err.to_string().contains("has spaces"), "{err}");
}
