//! cutover's native TOML inventory: raw serde types apart, then one conversion to [`Inventory`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_spanned::Spanned;

use super::expand_hostlist;
use super::{DEFAULT_PORT, Host, Inventory, InventoryError, InventorySource, Position};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    inventory: RawMeta,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    hosts: Vec<Spanned<RawHost>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: String,
    #[serde(default)]
    production: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    user: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Option<String>,
    names: Option<String>,
    address: Option<String>,
    addresses: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    vars: BTreeMap<String, RawVar>,
}

/// A var value: TOML strings, integers, floats and booleans are all stored as strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawVar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl RawVar {
    fn into_string(self) -> String {
        match self {
            RawVar::Str(s) => s,
            RawVar::Int(i) => i.to_string(),
            RawVar::Float(f) => f.to_string(),
            RawVar::Bool(b) => b.to_string(),
        }
    }
}

/// Parses native TOML `text` into an inventory.
pub(super) fn parse(text: &str, source: InventorySource) -> Result<Inventory, InventoryError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| InventoryError::Toml {
        origin: source.origin.clone(),
        at: e.span().map(|s| Position::from_offset(text, s.start)),
        message: e.message().trim_end().to_string(),
    })?;
    let name = &raw.inventory.name;
    if !super::select::valid_name(name) || name.len() > super::MAX_NAME_LEN || name.starts_with('.')
    {
        return Err(InventoryError::Host {
            origin: source.origin.clone(),
            at: Position::from_offset(text, text.find("[inventory]").unwrap_or(0)),
            problem: format!(
                "inventory name `{}` must be 1 to {} letters, digits, `_`, `-`, `.`, not starting with `.` (it names lock files and is shown in headers)",
                crate::sanitize::visible(name),
                super::MAX_NAME_LEN
            ),
        });
    }
    let mut hosts = Vec::new();
    let mut seen: BTreeMap<String, Position> = BTreeMap::new();
    for spanned in raw.hosts {
        let at = Position::from_offset(text, spanned.span().start);
        let ctx = Ctx {
            origin: &source.origin,
            at,
            defaults: &raw.defaults,
        };
        for host in ctx.expand(spanned.into_inner())? {
            if let Some(first) = seen.insert(host.name.clone(), at) {
                let (origin, name) = (source.origin.clone(), host.name);
                return Err(InventoryError::DuplicateHost {
                    origin,
                    name,
                    first,
                    second: at,
                });
            }
            hosts.push(host);
        }
    }
    Ok(Inventory {
        name: raw.inventory.name,
        production: raw.inventory.production,
        hosts,
        source,
    })
}

/// Where a `[[hosts]]` entry is, and the defaults that apply to it.
struct Ctx<'a> {
    origin: &'a str,
    at: Position,
    defaults: &'a RawDefaults,
}

impl Ctx<'_> {
    fn problem(&self, problem: impl Into<String>) -> InventoryError {
        InventoryError::Host {
            origin: self.origin.to_string(),
            at: self.at,
            problem: problem.into(),
        }
    }

    fn range(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        expand_hostlist(pattern).map_err(|source| InventoryError::Range {
            origin: self.origin.to_string(),
            at: self.at,
            source,
        })
    }

    /// Turns one `[[hosts]]` entry into one host (`name`) or many (`names`).
    fn expand(&self, raw: RawHost) -> Result<Vec<Host>, InventoryError> {
        let pairs = self.names_and_addresses(&raw)?;
        let template = Host {
            port: raw.port.or(self.defaults.port).unwrap_or(DEFAULT_PORT),
            user: raw.user.or_else(|| self.defaults.user.clone()),
            groups: raw.groups.into_iter().collect::<BTreeSet<_>>(),
            labels: raw.labels,
            vars: raw
                .vars
                .into_iter()
                .map(|(k, v)| (k, v.into_string()))
                .collect(),
            ..Host::new("", "")
        };
        if template.port == 0 {
            return Err(self.problem("port 0 is not a usable SSH port: use 1-65535"));
        }
        if let Some(bad) = template
            .groups
            .iter()
            .find(|g| !super::select::valid_name(g) || *g == "all")
        {
            return Err(self.problem(format!(
                "group `{bad}` is not allowed: use letters, digits, `_`, `-`, `.` (every host is in `all` already)"
            )));
        }
        if let Some((name, problem)) = pairs
            .iter()
            .find_map(|(n, a)| super::check_address(a).err().map(|p| (n, p)))
        {
            return Err(self.problem(format!("host `{name}`: {problem}")));
        }
        Ok(pairs
            .into_iter()
            .map(|(name, address)| Host {
                name,
                address,
                ..template.clone()
            })
            .collect())
    }

    fn names_and_addresses(&self, raw: &RawHost) -> Result<Vec<(String, String)>, InventoryError> {
        match (&raw.name, &raw.names) {
            (Some(name), None) => {
                if raw.addresses.is_some() {
                    return Err(self.problem(
                        "`addresses` goes with `names`; a single `name` takes `address`",
                    ));
                }
                if !super::select::valid_name(name) {
                    return Err(self.problem(format!(
                        "host name `{name}` must be letters, digits, `_`, `-`, `.`"
                    )));
                }
                Ok(vec![(
                    name.clone(),
                    raw.address.clone().unwrap_or_else(|| name.clone()),
                )])
            }
            (None, Some(pattern)) => self.zip_range(pattern, raw),
            (Some(_), Some(_)) => {
                Err(self.problem("give either `name` or `names` (a range), not both"))
            }
            (None, None) => {
                Err(self.problem("host entry needs `name = \"...\"` or `names = \"web[01-20]\"`"))
            }
        }
    }

    fn zip_range(
        &self,
        pattern: &str,
        raw: &RawHost,
    ) -> Result<Vec<(String, String)>, InventoryError> {
        if raw.address.is_some() {
            return Err(self.problem("`names` takes `addresses` (a range), not a single `address`"));
        }
        let names = self.range(pattern)?;
        if let Some(bad) = names.iter().find(|n| !super::select::valid_name(n)) {
            return Err(self.problem(format!(
                "host name `{bad}` must be letters, digits, `_`, `-`, `.`"
            )));
        }
        let addresses = match &raw.addresses {
            Some(p) => self.range(p)?,
            None => names.clone(),
        };
        if addresses.len() != names.len() {
            let (origin, at) = (self.origin.to_string(), self.at);
            return Err(InventoryError::AddressCount {
                origin,
                at,
                names: names.len(),
                addresses: addresses.len(),
            });
        }
        Ok(names.into_iter().zip(addresses).collect())
    }
}
