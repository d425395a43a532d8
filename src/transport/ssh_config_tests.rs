//! `ssh -G` output, hops, and real `ssh -G` resolving aliases and ProxyJump chains.
use super::*;

const OUTPUT: &str = "host web1\nuser deploy\nhostname 10.1.2.3\nport 2222\n\
    identityfile ~/.ssh/id_ed25519\nidentityfile /etc/keys/fleet\nproxyjump bastion.example\n\
    globalknownhostsfile /etc/ssh/ssh_known_hosts\n\
    userknownhostsfile ~/.ssh/known_hosts /etc/ssh/fleet_known_hosts\nstricthostkeychecking ask\n\
    proxycommand none\nidentitiesonly yes\n";

#[test]
fn ssh_g_output_becomes_endpoint_keys_and_jump() {
    let host = parse_ssh_g("web1", OUTPUT, Path::new("/home/op"));
    assert_eq!(
        host.endpoint,
        Endpoint {
            name: "web1".into(),
            address: "10.1.2.3".into(),
            port: 2222,
            user: "deploy".into()
        }
    );
    assert_eq!(
        host.identities,
        vec![
            PathBuf::from("/home/op/.ssh/id_ed25519"),
            PathBuf::from("/etc/keys/fleet")
        ]
    );
    assert_eq!(
        host.known_hosts,
        vec![
            PathBuf::from("/home/op/.ssh/known_hosts"),
            PathBuf::from("/etc/ssh/fleet_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
        ],
        "user files first, then global ones"
    );
    assert_eq!(host.proxy_jump.as_deref(), Some("bastion.example"));
    assert_eq!(host.proxy_command, None);
    assert!(host.strict_host_keys && host.identities_only);
}

#[test]
fn hops_parse_like_ssh_dash_j() {
    let hop = parse_hop("ops@bastion:2222").unwrap();
    assert_eq!(
        hop,
        Hop {
            host: "bastion".into(),
            user: Some("ops".into()),
            port: Some(2222)
        }
    );
    assert_eq!(parse_hop("ssh://b").unwrap().host, "b");
    assert_eq!(parse_hop("[::1]:22").unwrap().host, "::1");
    assert!(parse_hop("b:x").is_err());
    assert!(parse_hop("@b").is_err());
    assert!(parse_hop("a b").is_err());
}

fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

#[test]
fn real_ssh_g_reads_a_config_file() {
    let (_dir, config) = write_config("Host db1\n  HostName 127.0.0.9\n  Port 2200\n  User ops\n");
    let mut resolver = Resolver::new(Some(config), PathBuf::from("/home/op"));
    let host = resolver
        .resolve("db1", None, None)
        .expect("ssh -G works (apt-get install openssh-client)");
    assert_eq!(host.endpoint.address, "127.0.0.9");
    assert_eq!(
        (host.endpoint.port, host.endpoint.user.as_str()),
        (2200, "ops")
    );
    assert_eq!(host.proxy_jump, None);
    let host = resolver.resolve("db1", Some("root"), Some(22)).unwrap();
    assert_eq!(
        (host.endpoint.port, host.endpoint.user.as_str()),
        (22, "root")
    );
}

#[test]
fn proxy_jump_aliases_resolve_recursively_through_the_same_config() {
    let (_dir, config) = write_config(
        "Host web1\n  HostName 10.0.0.5\n  ProxyJump inner\n\
         Host inner\n  HostName 10.0.0.2\n  User hop\n  ProxyJump outer\n\
         Host outer\n  HostName 192.0.2.1\n  User edge\n  Port 2022\n\
         Host multi\n  ProxyJump outer,jump@inner:23\n",
    );
    let mut resolver = Resolver::new(Some(config), PathBuf::from("/home/op"));
    let (route, _) = resolver.route("web1", "web1", None, None, None).unwrap();
    let hops: Vec<_> = route
        .chain()
        .iter()
        .map(|e| format!("{}@{}:{}", e.user, e.address, e.port))
        .collect();
    assert_eq!(hops, ["edge@192.0.2.1:2022", "hop@10.0.0.2:22"]);
    let (route, _) = resolver.route("multi", "multi", None, None, None).unwrap();
    let hops: Vec<_> = route
        .chain()
        .iter()
        .map(|e| format!("{}@{}:{}", e.user, e.address, e.port))
        .collect();
    assert_eq!(
        hops,
        ["edge@192.0.2.1:2022", "jump@10.0.0.2:23"],
        "a listed hop goes through the hops before it, not its own ProxyJump"
    );
}

#[test]
fn loops_and_proxy_commands_are_refused_with_the_host_named() {
    let (_dir, config) = write_config(
        "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n\
         Host c\n  ProxyCommand nc %h %p\n",
    );
    let mut resolver = Resolver::new(Some(config), PathBuf::from("/home/op"));
    let err = resolver.route("a", "a", None, None, None).unwrap_err();
    assert!(matches!(err, SshConfigError::JumpLoop { .. }), "{err}");
    let err = resolver.route("c", "c", None, None, None).unwrap_err();
    assert!(err.to_string().contains("ProxyCommand"), "{err}");
    assert!(err.to_string().contains("`c`"), "{err}");
}

#[test]
fn a_config_that_cannot_tell_hosts_apart_is_asked_once_per_user_and_port() {
    let (_dir, config) = write_config("Host *\n  Port 2200\n  User ops\n");
    let mut resolver = Resolver::new(Some(config), PathBuf::from("/home/op"));
    let one = resolver.resolve("lab-1", None, None).unwrap();
    let two = resolver.resolve("lab-2", None, None).unwrap();
    assert_eq!(resolver.templates.len(), 1, "one ssh -G for both");
    assert_eq!(
        (two.endpoint.name.as_str(), two.endpoint.address.as_str()),
        ("lab-2", "lab-2")
    );
    assert_eq!(
        (two.endpoint.port, two.endpoint.user.as_str()),
        (2200, "ops")
    );
    assert_eq!(from_template(&one, "lab-2"), two);
    // Another user is another question to ssh; an alias ssh would lowercase is asked as is.
    let root = resolver.resolve("lab-3", Some("root"), None).unwrap();
    assert_eq!(root.endpoint.user, "root");
    assert_eq!(resolver.templates.len(), 2);
    let upper = resolver.resolve("Lab-4", None, None).unwrap();
    assert_eq!(upper.endpoint.address, "lab-4");
}

#[test]
fn a_config_with_host_blocks_is_asked_for_every_host() {
    let (_dir, config) = write_config("Host db1\n  HostName 127.0.0.9\nHost *\n  User ops\n");
    let mut resolver = Resolver::new(Some(config), PathBuf::from("/home/op"));
    assert_eq!(
        resolver
            .resolve("db1", None, None)
            .unwrap()
            .endpoint
            .address,
        "127.0.0.9"
    );
    assert_eq!(
        resolver
            .resolve("db2", None, None)
            .unwrap()
            .endpoint
            .address,
        "db2"
    );
    assert!(resolver.templates.is_empty());
}
