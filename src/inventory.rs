//! (stand-in until the inventory branch lands) Hosts, groups and selection.

use std::collections::{BTreeMap, BTreeSet};

/// A resolved inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Name.
    pub name: String,
    /// Production inventories require typed confirmation.
    pub production: bool,
    /// Hosts.
    pub hosts: Vec<Host>,
}

/// One host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: Option<String>,
    /// Groups.
    pub groups: BTreeSet<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Vars.
    pub vars: BTreeMap<String, String>,
}

/// A host selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// All.
    All,
    /// Group.
    Group(String),
}

/// Bad selector.
#[derive(Debug, thiserror::Error)]
#[error("bad selector {0}")]
pub struct SelectorError(String);

/// Bad selection.
#[derive(Debug, thiserror::Error)]
#[error("unknown group {0}")]
pub struct SelectError(String);

impl Selector {
    /// Parse.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        if s == "all" {
            Ok(Self::All)
        } else {
            Ok(Self::Group(s.to_string()))
        }
    }
}

impl Inventory {
    /// Select.
    pub fn select(&self, sels: &[Selector]) -> Result<Vec<&Host>, SelectError> {
        let mut out = Vec::new();
        for h in &self.hosts {
            if sels.iter().any(|s| match s {
                Selector::All => true,
                Selector::Group(g) => h.groups.contains(g),
            }) {
                out.push(h);
            }
        }
        for s in sels {
            if let Selector::Group(g) = s {
                if !self.hosts.iter().any(|h| h.groups.contains(g)) {
                    return Err(SelectError(g.clone()));
                }
            }
        }
        Ok(out)
    }
    /// Groups.
    pub fn groups(&self) -> BTreeMap<String, Vec<&Host>> {
        let mut m: BTreeMap<String, Vec<&Host>> = BTreeMap::new();
        for h in &self.hosts {
            for g in &h.groups {
                m.entry(g.clone()).or_default().push(h);
            }
        }
        m
    }
    /// Digest input.
    pub fn digest_input(&self) -> String {
        self.hosts
            .iter()
            .map(|h| format!("{} {}:{}\n", h.name, h.address, h.port))
            .collect()
    }
}

/// Inventory load failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InventoryError(String);

/// Loads an inventory file.
pub fn load(path: &std::path::Path) -> Result<Inventory, InventoryError> {
    Err(InventoryError(format!(
        "cannot load {} yet",
        path.display()
    )))
}
