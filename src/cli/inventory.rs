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
    Ok(ExitCode::SUCCESS)
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
