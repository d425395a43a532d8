//! Error types of the inventory module: each names what failed, where, and what to do.

use super::Position;

/// Why a host range pattern such as `web[01-20]` could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostlistError {
    /// A `[` without its `]`.
    #[error("unclosed `[` at column {col} in `{pattern}`: close the range with `]`")]
    Unclosed {
        /// The whole pattern.
        pattern: String,
        /// 1-based column of the `[`.
        col: usize,
    },
    /// A `]` without a `[`, or a `[` inside a range.
    #[error("stray `{ch}` at column {col} in `{pattern}`: ranges look like `web[01-20]`")]
    Stray {
        /// The whole pattern.
        pattern: String,
        /// The unexpected character.
        ch: char,
        /// 1-based column of it.
        col: usize,
    },
    /// A range item that is not `N` or `N-M` with decimal digits.
    #[error(
        "bad range item `{item}` in `{pattern}`: use digits like `[1-3,7,10-12]` (no `*`, letters or spaces)"
    )]
    BadItem {
        /// The whole pattern.
        pattern: String,
        /// The offending item between commas.
        item: String,
    },
    /// A range whose end is below its start.
    #[error("range `{item}` in `{pattern}` runs backwards: write the low number first")]
    Backwards {
        /// The whole pattern.
        pattern: String,
        /// The offending item.
        item: String,
    },
    /// The expansion would produce more names than [`super::hostlist::MAX_EXPANSION`].
    #[error("`{pattern}` expands to more than {limit} names: split the fleet or narrow the ranges")]
    TooLarge {
        /// The whole pattern.
        pattern: String,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The pattern (or a part of it) is empty.
    #[error("empty host pattern: give a host name such as `web01` or `web[01-20]`")]
    Empty,
}

/// Why an inventory could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file could not be read.
    #[error("cannot read inventory {path}: {source}; check the path and its permissions")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The native TOML did not parse or has an unknown/mistyped field.
    #[error("{origin}:{}: {message}", at.map_or("?".to_string(), |p| p.to_string()))]
    Toml {
        /// Where the inventory came from.
        origin: String,
        /// Where in the text, when toml reports it.
        at: Option<Position>,
        /// toml's message (names the field and the expected type).
        message: String,
    },
    /// The Ansible JSON did not parse or does not have the `ansible-inventory --list` shape.
    #[error("{origin}:{at}: {message}; produce the file with `ansible-inventory -i <inv> --list`")]
    Json {
        /// Where the inventory came from.
        origin: String,
        /// Where in the text.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// A host entry is malformed (missing or conflicting fields).
    #[error("{origin}:{at}: {problem}")]
    Host {
        /// Where the inventory came from.
        origin: String,
        /// Where the host entry starts.
        at: Position,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A host range did not expand.
    #[error("{origin}:{at}: {source}")]
    Range {
        /// Where the inventory came from.
        origin: String,
        /// Where the pattern is.
        at: Position,
        /// The expansion error.
        #[source]
        source: HostlistError,
    },
    /// `names` and `addresses` expand to different counts.
    #[error(
        "{origin}:{at}: `names` expands to {names} hosts but `addresses` to {addresses}: make the ranges the same size"
    )]
    AddressCount {
        /// Where the inventory came from.
        origin: String,
        /// Where the host entry starts.
        at: Position,
        /// Number of names.
        names: usize,
        /// Number of addresses.
        addresses: usize,
    },
    /// An Ansible INI or YAML inventory, which cutover reads only in its resolved JSON form.
    #[error(
        "{origin}:{at}: this looks like an Ansible {kind} inventory; cutover reads the resolved form: run `ansible-inventory -i {origin} --list > inventory.json` and pass inventory.json"
    )]
    AnsibleSource {
        /// Where the inventory came from.
        origin: String,
        /// The first line that gave it away.
        at: Position,
        /// `INI` or `YAML`.
        kind: &'static str,
    },
    /// Two entries define the same host name.
    #[error(
        "{origin}:{second}: host `{name}` is already defined at {origin}:{first}: host names must be unique"
    )]
    DuplicateHost {
        /// Where the inventory came from.
        origin: String,
        /// The duplicated name.
        name: String,
        /// Where it was first defined.
        first: Position,
        /// Where it was defined again.
        second: Position,
    },
}

/// Why a selector string such as `label:zone=b` did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Empty selector (or a lone `!`).
    #[error(
        "empty selector: use `all`, a group name, `label:key=value`, `host:name` or `!<selector>`"
    )]
    Empty,
    /// `!!x`: double negation is almost certainly a typo.
    #[error("selector `{input}` negates twice: write the positive selector instead")]
    DoubleNegation {
        /// The selector as given.
        input: String,
    },
    /// `label:` without `key=value`.
    #[error("selector `{input}` needs `label:key=value`, e.g. `label:zone=us-east1-b`")]
    BadLabel {
        /// The selector as given.
        input: String,
    },
    /// A group or host name with characters names never have.
    #[error(
        "selector `{input}`: `{name}` is not a valid name (letters, digits, `_`, `-`, `.` only); prefixes are `label:` and `host:`"
    )]
    BadName {
        /// The selector as given.
        input: String,
        /// The offending name.
        name: String,
    },
}

/// Why a selection could not be resolved against an inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No host is in this group.
    #[error("unknown group `{name}`{}; known groups: {}", did_you_mean(suggestion), known.join(", "))]
    UnknownGroup {
        /// The group asked for.
        name: String,
        /// A close known group name, if any.
        suggestion: Option<String>,
        /// All known groups, sorted.
        known: Vec<String>,
    },
    /// No host has this name.
    #[error(
        "unknown host `{name}`{}; see `cutover inventory` for host names",
        did_you_mean(suggestion)
    )]
    UnknownHost {
        /// The host asked for.
        name: String,
        /// A close known host name, if any.
        suggestion: Option<String>,
    },
    /// No host carries this label value.
    #[error("no host has label `{key}={value}`; known values of `{key}`: {}", if known_values.is_empty() { "none (no host has this key)".to_string() } else { known_values.join(", ") })]
    NoLabelMatch {
        /// Label key.
        key: String,
        /// Label value asked for.
        value: String,
        /// Values of `key` that do exist, sorted.
        known_values: Vec<String>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
}

impl InventoryError {
    /// Where in the inventory text the problem is, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            InventoryError::Read { .. } => None,
            InventoryError::Toml { at, .. } => *at,
            InventoryError::Json { at, .. }
            | InventoryError::Host { at, .. }
            | InventoryError::Range { at, .. }
            | InventoryError::AddressCount { at, .. }
            | InventoryError::AnsibleSource { at, .. } => Some(*at),
            InventoryError::DuplicateHost { second, .. } => Some(*second),
        }
    }

    /// The message without its `origin:line:col: ` prefix (for renderers that show the location).
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = match (self, self.position()) {
            (InventoryError::Read { .. }, _) | (_, None) => return full,
            (
                InventoryError::Toml { origin, .. }
                | InventoryError::Json { origin, .. }
                | InventoryError::Host { origin, .. }
                | InventoryError::Range { origin, .. }
                | InventoryError::AddressCount { origin, .. }
                | InventoryError::AnsibleSource { origin, .. }
                | InventoryError::DuplicateHost { origin, .. },
                Some(p),
            ) => format!("{origin}:{p}: "),
        };
        full.strip_prefix(&prefix)
            .map_or(full.clone(), str::to_string)
    }
}
