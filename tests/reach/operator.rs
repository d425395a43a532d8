//! A non-root operator whose own ~/.ssh/config (found through the password database, with
//! no $HOME set) names aliases, a bastion alias as ProxyJump, per-host users and keys, with Include
//! and Match: `cutover exec` and `cutover run` reach every host with no cutover flag.

use super::support::{Fleet, account::Account};
use super::{Out, inventory, plan};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The fleet behind one bastion, and an operator account configured for it.
struct Operator {
    fleet: Fleet,
    account: Account,
    inventory: PathBuf,
    cutover: PathBuf,
}

fn operator() -> Operator {
    let fleet = Fleet::builder(3).start();
    // Non-root logins read the shared authorized_keys as themselves.
    set_mode(fleet.dir(), 0o711);
    let account = Account::create("op");
    let key = std::fs::read_to_string(&fleet.client_key).unwrap();
    account.write(".ssh/fleet_key", &key, 0o600);
    account.write(".ssh/bastion_key", &key, 0o600);
    let known = std::fs::read_to_string(&fleet.known_hosts).unwrap();
    account.write(".ssh/fleet_known_hosts", &known, 0o600);
    let [bastion, web1, web2] = [0, 1, 2].map(|i| fleet.hosts[i].address.clone());
    account.write(
        ".ssh/config",
        &format!(
            "Include config.d/*.conf\n\n\
             Match host {web1},{web2}\n  IdentityFile ~/.ssh/fleet_key\n\n\
             Host *\n  UserKnownHostsFile ~/.ssh/fleet_known_hosts\n  IdentitiesOnly yes\n"
        ),
        0o600,
    );
    account.write(
        ".ssh/config.d/fleet.conf",
        &format!(
            "Host bastion\n  HostName {bastion}\n  User root\n  IdentityFile ~/.ssh/bastion_key\n\n\
             Host web-*\n  ProxyJump bastion\n\n\
             Host web-1\n  HostName {web1}\n  User root\n\n\
             Host web-2\n  HostName {web2}\n  User {user}\n",
            user = account.name
        ),
        0o600,
    );
    let inventory = inventory(
        &account.home.join("inventory.toml"),
        &[("web-1", "web-1", None), ("web-2", "web-2", None)],
    );
    let cutover = reachable_binary(&account);
    Operator {
        fleet,
        account,
        inventory,
        cutover,
    }
}

impl Operator {
    /// Runs cutover as the operator with no $HOME (as from cron or a service): the account's
    /// home comes from the password database, as OpenSSH finds it.
    fn cutover(&self, args: &[&str]) -> Out {
        std::process::Command::new(&self.cutover)
            .args(args)
            .uid(self.account.uid)
            .gid(self.account.gid)
            .current_dir(&self.account.home)
            .env_remove("HOME")
            .env("USER", &self.account.name)
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
            .into()
    }
}

#[test]
fn exec_and_run_reach_every_alias_through_the_bastion_alias_with_no_cutover_flag() {
    let op = operator();
    let inv = op.inventory.to_str().unwrap();
    let r = op.cutover(&[
        "exec",
        "-i",
        inv,
        "--json",
        "--",
        "echo \"$CUTOVER_HOST $(id -un)\"",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["summary"]["ok"], 2, "{v}");
    let out = r.stdout.clone();
    assert!(
        out.contains("host-02 root"),
        "web-1 logs in as the config's User root: {out}"
    );
    assert!(
        out.contains(&format!("host-03 {}", op.account.name)),
        "web-2 logs in as its own User: {out}"
    );
    let bastion_log = op.fleet.hosts[0].log_text();
    assert_eq!(
        bastion_log.matches("Accepted publickey").count(),
        1,
        "both hosts go through one bastion connection:\n{bastion_log}"
    );
    let plan = plan(&op.account.home, &op.inventory, "");
    op.account.own(&plan, 0o644);
    let r = op.cutover(&["run", plan.to_str().unwrap(), "--dry-run", "--plain"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("2 ok, 0 failed, 0 unreachable") && r.stdout.contains("dry-run complete"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn with_no_known_hosts_anywhere_the_error_names_every_file_searched() {
    let op = operator();
    std::fs::remove_file(op.account.home.join(".ssh/fleet_known_hosts")).unwrap();
    let inv = op.inventory.to_str().unwrap();
    let r = op.cutover(&["exec", "-i", inv, "--json", "--", "true"]);
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    let searched = format!(
        "{}/.ssh/fleet_known_hosts (missing)",
        op.account.home.display()
    );
    assert!(r.stdout.contains(&searched), "{}", r.stdout);
}

/// The cutover binary where the account can execute it: in place when every directory above
/// it is traversable, else a copy in the account's home.
fn reachable_binary(account: &Account) -> PathBuf {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_cutover"));
    let open = built
        .ancestors()
        .skip(1)
        .all(|d| mode(d).is_some_and(|m| m & 0o001 != 0));
    if open {
        return built;
    }
    let copy = account.home.join("cutover");
    std::fs::copy(&built, &copy).unwrap();
    account.own(&copy, 0o755);
    copy
}

fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
