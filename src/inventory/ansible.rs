//! Ansible inventories, read from the JSON that `ansible-inventory -i <inv> --list` prints.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{DEFAULT_PORT, Host, Inventory, InventoryError, InventorySource, Position, stem_name};

/// The group every Ansible host is in; cutover treats it as implicit.
const ALL: &str = "all";

/// Parses `ansible-inventory --list` JSON into an inventory named after the file stem.
pub(super) fn parse(text: &str, source: InventorySource) -> Result<Inventory, InventoryError> {
    let origin = source.origin.clone();
    let json_err = |at: Position, message: String| InventoryError::Json {
        origin: origin.clone(),
        at,
        message,
    };
    let root: Value = serde_json::from_str(text).map_err(|e| {
        json_err(
            Position {
                line: e.line(),
                col: e.column(),
            },
            e.to_string(),
        )
    })?;
    let top = root
        .as_object()
        .ok_or_else(|| json_err(Position::line(1), "top level is not an object".into()))?;
    let groups = Groups::read(top).map_err(|m| json_err(Position::line(1), m))?;
    let hostvars = read_hostvars(top).map_err(|m| json_err(Position::line(1), m))?;
    let mut hosts = Vec::new();
    for name in groups.host_order(&hostvars) {
        let vars = hostvars.get(&name).cloned().unwrap_or_default();
        let host = build_host(&name, groups.memberships(&name), vars).map_err(|problem| {
            InventoryError::Host {
                origin: origin.clone(),
                at: locate(text, &name),
                problem,
            }
        })?;
        hosts.push(host);
    }
    Ok(Inventory {
        name: stem_name(&source.origin),
        production: false,
        hosts,
        source,
    })
}

/// Group name → direct hosts and child groups, as listed.
struct Groups {
    hosts: BTreeMap<String, Vec<String>>,
    children: BTreeMap<String, Vec<String>>,
}

impl Groups {
    fn read(top: &Map<String, Value>) -> Result<Self, String> {
        let mut groups = Groups {
            hosts: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        for (name, body) in top.iter().filter(|(k, _)| *k != "_meta") {
            let body = body
                .as_object()
                .ok_or(format!("group `{name}` is not an object"))?;
            groups
                .hosts
                .insert(name.clone(), string_list(body, "hosts", name)?);
            groups
                .children
                .insert(name.clone(), string_list(body, "children", name)?);
        }
        Ok(groups)
    }

    /// Hosts in the order a depth-first walk from `all` meets them, then any others sorted.
    fn host_order(&self, hostvars: &BTreeMap<String, Map<String, Value>>) -> Vec<String> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        let mut visited = BTreeSet::new();
        self.walk(ALL, &mut visited, &mut |h| {
            if seen.insert(h.to_string()) {
                order.push(h.to_string());
            }
        });
        let rest = self
            .hosts
            .values()
            .flatten()
            .map(String::as_str)
            .chain(hostvars.keys().map(String::as_str));
        let rest: BTreeSet<&str> = rest.filter(|h| !seen.contains(*h)).collect();
        order.extend(rest.into_iter().map(str::to_string));
        order
    }

    fn walk<'a>(
        &'a self,
        group: &'a str,
        visited: &mut BTreeSet<&'a str>,
        visit: &mut dyn FnMut(&str),
    ) {
        if !visited.insert(group) {
            return; // cycle or diamond: each group is walked once
        }
        self.hosts
            .get(group)
            .into_iter()
            .flatten()
            .for_each(|h| visit(h));
        for child in self.children.get(group).into_iter().flatten() {
            self.walk(child, visited, visit);
        }
    }

    /// Every group that contains `host` directly or through children, except `all`.
    fn memberships(&self, host: &str) -> BTreeSet<String> {
        let direct = self
            .hosts
            .iter()
            .filter(|(_, hs)| hs.iter().any(|h| h == host))
            .map(|(g, _)| g.as_str());
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<&str> = direct.collect();
        while let Some(group) = todo.pop() {
            if out.insert(group.to_string()) {
                let parents = self
                    .children
                    .iter()
                    .filter(|(_, cs)| cs.iter().any(|c| c == group));
                todo.extend(parents.map(|(p, _)| p.as_str()));
            }
        }
        out.remove(ALL);
        out
    }
}

fn string_list(body: &Map<String, Value>, key: &str, group: &str) -> Result<Vec<String>, String> {
    match body.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(format!("group `{group}`: `{key}` must list strings"))
            })
            .collect(),
        Some(_) => Err(format!("group `{group}`: `{key}` must be a list")),
    }
}

fn read_hostvars(top: &Map<String, Value>) -> Result<BTreeMap<String, Map<String, Value>>, String> {
    let Some(meta) = top.get("_meta") else {
        return Ok(BTreeMap::new());
    };
    let Some(hostvars) = meta.get("hostvars") else {
        return Ok(BTreeMap::new());
    };
    let hostvars = hostvars
        .as_object()
        .ok_or("`_meta.hostvars` is not an object")?;
    hostvars
        .iter()
        .map(|(h, v)| match v {
            Value::Object(m) => Ok((h.clone(), m.clone())),
            _ => Err(format!("`_meta.hostvars.{h}` is not an object")),
        })
        .collect()
}

/// Maps `ansible_host`/`ansible_port`/`ansible_user` to the connection fields, the rest to vars.
fn build_host(
    name: &str,
    groups: BTreeSet<String>,
    mut vars: Map<String, Value>,
) -> Result<Host, String> {
    let address = vars
        .remove("ansible_host")
        .map(value_string)
        .unwrap_or_else(|| name.to_string());
    let user = vars.remove("ansible_user").map(value_string);
    let port = match vars.remove("ansible_port") {
        None => DEFAULT_PORT,
        Some(v) => {
            let text = value_string(v);
            text.parse::<u16>().ok().filter(|p| *p != 0).ok_or(format!(
                "host `{name}`: ansible_port `{text}` is not a port from 1 to 65535"
            ))?
        }
    };
    super::check_address(&address).map_err(|p| format!("host `{name}`: {p}"))?;
    let ssh = super::ansible_ssh::read(name, &mut vars)?;
    let vars = vars
        .into_iter()
        .map(|(k, v)| (k, value_string(v)))
        .collect();
    Ok(Host {
        port,
        user,
        groups,
        vars,
        ssh,
        ..Host::new(name, address)
    })
}

/// Where `host`'s variables are in the JSON (its `_meta.hostvars` entry), else its first
/// mention, else the top.
fn locate(text: &str, host: &str) -> Position {
    let key = format!("\"{host}\"");
    let meta = text.find("\"hostvars\"").unwrap_or(0);
    let at = text[meta..]
        .find(&key)
        .map(|i| meta + i)
        .or_else(|| text.find(&key));
    at.map_or(Position::line(1), |i| Position::from_offset(text, i))
}

/// Strings as-is; every other JSON value serialized compactly.
fn value_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
