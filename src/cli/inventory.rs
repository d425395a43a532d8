//! `cutover inventory show`: the resolved hosts and groups, as cutover will see them.

use super::CliError;
use crate::inventory::{self, Host, Selector};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `cutover inventory ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the resolved hosts and groups of an inventory file.
    Show(ShowArgs),
}

/// Arguments of `cutover inventory show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Inventory file: native TOML, `ansible-inventory --list` JSON, or a pdsh/pssh host list.
    pub file: PathBuf,
    /// Only hosts matching these selectors (comma-separated: `servers,!host:srv-3`).
    #[arg(long, short = 's', value_delimiter = ',')]
    pub select: Vec<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also show how each host is reached, resolved as `ssh` would (user, address, port,
    /// bastion chain, keys), through the ssh config options below.
    #[arg(long)]
    pub resolved: bool,
    #[command(flatten)]
    pub ssh: super::ssh_args::SshArgs,
}

/// Runs `cutover inventory`.
pub fn run(cmd: &Command) -> Result<ExitCode, CliError> {
    match cmd {
        Command::Show(args) => show(args),
    }
}

fn show(args: &ShowArgs) -> Result<ExitCode, CliError> {
    let inv = inventory::load(&args.file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.file.display())))?;
    let selectors = args
        .select
        .iter()
        .map(|s| Selector::parse(s).map_err(|e| CliError::Usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let hosts: Vec<&Host> = if selectors.is_empty() {
        inv.hosts.iter().collect()
    } else {
        inv.select(&selectors)
            .map_err(|e| CliError::Usage(e.to_string()))?
    };
    if args.json {
        let rows: Vec<_> = hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "name": h.name, "address": h.address, "port": h.port, "user": h.user,
                    "groups": h.groups, "labels": h.labels, "vars": h.vars,
                    "ssh": { "identity": h.ssh.identity, "proxy_jump": h.ssh.proxy_jump,
                             "notes": h.ssh.notes },
                })
            })
            .collect();
        let mut doc =
            serde_json::json!({ "name": inv.name, "production": inv.production, "hosts": rows });
        crate::sanitize::visible_json(&mut doc);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", crate::sanitize::visible(&table(&inv, &hosts)));
    }
    if args.resolved {
        print!("{}", resolved(args, &hosts)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Each host's route as the fleet would take it: `name  user@addr:port via hop <- hop  keys`.
fn resolved(args: &ShowArgs, hosts: &[&Host]) -> Result<String, CliError> {
    let base = crate::transport::SshSettings::default();
    let mut settings = args.ssh.over(base, Vec::new(), Vec::new(), None, None);
    let routes = crate::fleet::routes(&mut settings, hosts, &crate::fleet::local_user())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut out = String::from("\nresolved (as ssh would):\n");
    for r in &routes {
        let ep = &r.endpoint;
        let chain: Vec<String> = r
            .chain()
            .iter()
            .map(|e| format!("{}@{}:{}", e.user, e.address, e.port))
            .collect();
        let via = match chain.is_empty() {
            true => String::new(),
            false => format!(" via {}", chain.join(" -> ")),
        };
        let keys: Vec<String> = r
            .identities
            .iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        let _ = writeln!(
            out,
            "  {}  {}@{}:{}{via}  keys [{}]",
            ep.name,
            ep.user,
            ep.address,
            ep.port,
            keys.join(", ")
        );
    }
    let files: Vec<String> = settings
        .known_hosts
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let _ = writeln!(out, "  known_hosts: {}", files.join(", "));
    Ok(out)
}

fn table(inv: &inventory::Inventory, hosts: &[&Host]) -> String {
    let mut out = String::new();
    let marker = if inv.production { " (PRODUCTION)" } else { "" };
    let _ = writeln!(
        out,
        "inventory {}{marker}: {} of {} hosts",
        inv.name,
        hosts.len(),
        inv.hosts.len()
    );
    let w = hosts.iter().map(|h| h.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "\n{:w$}  {:21}  {:10}  groups",
        "host", "address", "user"
    );
    for h in hosts {
        let addr = format!("{}:{}", h.address, h.port);
        let groups: Vec<&str> = h.groups.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "{:w$}  {addr:21}  {:10}  {}",
            h.name,
            h.user.as_deref().unwrap_or("-"),
            groups.join(",")
        );
    }
    for h in hosts {
        for note in &h.ssh.notes {
            let _ = writeln!(out, "note: {}: {note}", h.name);
        }
    }
    let _ = writeln!(out, "\ngroups:");
    for (g, members) in inv.groups() {
        let shown = members
            .iter()
            .filter(|m| hosts.iter().any(|h| h.name == m.name))
            .count();
        let _ = writeln!(out, "  {g}: {shown} host(s)");
    }
    out
}
