//! Inventory: the fleet a plan runs against, loaded from native TOML, Ansible JSON or host lists.
//!
//! Everything here is pure except [`load`], the thin shell that reads a file and picks a format.

mod address;
mod ansible;
mod ansible_ssh;
mod digest;
mod error;
mod hostlist;
mod native;
mod position;
mod select;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use address::check_address;
pub use error::{HostlistError, InventoryError, SelectError, SelectorError};
pub use hostlist::expand_hostlist;
pub use position::Position;
pub use select::Selector;

/// Default SSH port when neither the host nor the defaults give one.
pub const DEFAULT_PORT: u16 = 22;

/// A resolved inventory: unique host names in a stable order, ready for selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// Inventory name; production runs require the operator to type it.
    pub name: String,
    /// Whether runs against this inventory need the typed-name confirmation.
    pub production: bool,
    /// Hosts with unique names, in the order the source lists them.
    pub hosts: Vec<Host>,
    /// Where the inventory came from, for messages.
    pub source: InventorySource,
}

/// One host of an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Unique name used in selectors, journals and reports.
    pub name: String,
    /// Address to connect to (IP or DNS name).
    pub address: String,
    /// SSH port.
    pub port: u16,
    /// SSH user; `None` means the transport's default.
    pub user: Option<String>,
    /// Groups the host belongs to (never contains `all`, which is implicit).
    pub groups: BTreeSet<String>,
    /// Free-form key/value labels, selectable with `label:key=value`.
    pub labels: BTreeMap<String, String>,
    /// Template variables for plan steps, stored as strings.
    pub vars: BTreeMap<String, String>,
    /// How to reach it beyond address, port and user, where the inventory says (Ansible's
    /// `ansible_ssh_private_key_file`, `ansible_ssh_common_args`); not part of the digest.
    pub ssh: HostSsh,
}

/// A host's own SSH settings from its inventory: credentials, so outside the plan digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSsh {
    /// A private key to offer this host first.
    pub identity: Option<String>,
    /// Bastions in front of it, as `ssh -J`.
    pub proxy_jump: Option<String>,
    /// Inventory settings cutover read but cannot honour, one sentence each.
    pub notes: Vec<String>,
}

/// The format of an inventory source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// cutover's own TOML format (`.toml`).
    Native,
    /// JSON printed by `ansible-inventory --list` (`.json`).
    Ansible,
    /// pdsh/pssh-style host list, one `[user@]host[:port]` pattern per line.
    HostList,
}

/// Which format and file an inventory was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySource {
    /// Format the text was parsed as.
    pub format: Format,
    /// Path or other origin label, as given to [`parse`].
    pub origin: String,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Native => "native TOML",
            Format::Ansible => "ansible-inventory JSON",
            Format::HostList => "host list",
        })
    }
}

impl Host {
    /// A host named `name` at `address` with the default port and nothing else set.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        Host {
            name: name.into(),
            address: address.into(),
            port: DEFAULT_PORT,
            user: None,
            groups: BTreeSet::new(),
            labels: BTreeMap::new(),
            vars: BTreeMap::new(),
            ssh: HostSsh::default(),
        }
    }
}

impl Inventory {
    /// Hosts by group name, each list in inventory order (the implicit `all` is not listed).
    pub fn groups(&self) -> BTreeMap<String, Vec<&Host>> {
        let mut out: BTreeMap<String, Vec<&Host>> = BTreeMap::new();
        for host in &self.hosts {
            for group in &host.groups {
                out.entry(group.clone()).or_default().push(host);
            }
        }
        out
    }

    /// The host called `name`, if any.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// Parses inventory `text` in `format`; `origin` names the source in messages (pure).
pub fn parse(text: &str, format: Format, origin: &str) -> Result<Inventory, InventoryError> {
    let source = InventorySource {
        format,
        origin: origin.to_string(),
    };
    let inventory = match format {
        Format::Native => native::parse(text, source),
        Format::Ansible => ansible::parse(text, source),
        Format::HostList => hostlist::parse_file(text, source),
    }?;
    // Every format: host names appear in headers, journals and file names, so no escape,
    // control or bidi character may hide in one.
    if let Some(bad) = inventory
        .hosts
        .iter()
        .find(|h| !select::valid_name(&h.name))
    {
        return Err(InventoryError::Host {
            origin: origin.to_string(),
            at: Position::from_offset(text, text.find(bad.name.as_str()).unwrap_or(0)),
            problem: format!(
                "host name `{}` must be letters, digits, `_`, `-`, `.`",
                crate::sanitize::visible(&bad.name)
            ),
        });
    }
    Ok(inventory)
}

/// Guesses the format from the file extension, then from the content.
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => return Format::Native,
        Some("json") => return Format::Ansible,
        _ => {}
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        Format::Ansible
    } else if text.lines().any(|l| l.trim() == "[inventory]") {
        Format::Native
    } else {
        Format::HostList
    }
}

/// Reads the inventory file at `path`, picking its format with [`detect_format`].
pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(
        &text,
        detect_format(path, &text),
        &path.display().to_string(),
    )
}

/// The file stem of `origin`, used as the name of inventories whose format has none; every
/// character outside letters, digits, `_`, `-`, `.` becomes `_` (it names lock files).
fn stem_name(origin: &str) -> String {
    let stem = Path::new(origin)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "inventory".to_string());
    stem.chars()
        .take(MAX_NAME_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Longest inventory name: it is shown in headers and is part of lock-file names.
pub const MAX_NAME_LEN: usize = 64;
