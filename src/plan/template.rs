//! The plan's one template language: `{{ host.FIELD }}`, `{{ vars.NAME }}` and
//! `{{ secrets.NAME }}` in every command, path, probe and check field, rendered per host.
//!
//! Host fields and variables are rendered here, as text: in a shell command a value is
//! quoted for where it stands (shlex outside quotes, escaped inside double quotes, spliced
//! `'\''` inside single quotes), so a value never changes what a command does. Secrets are
//! left as written: commands get them as data (`crate::remote::secret_refs`), files get them
//! at the last moment (`crate::redact::Secrets::expand`). Foreign templates of other tools
//! (`docker inspect -f '{{ .State.Running }}'`, `{{ end }}`) pass through untouched. Pure.

pub mod fields;
mod quote;

use crate::inventory::Host;
use quote::QuoteState;
use std::ops::Range;

/// The namespaces a reference may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// `{{ host.name }}`: the inventory's facts about the host.
    Host,
    /// `{{ vars.root }}`: the host's inventory variables.
    Vars,
    /// `{{ secrets.token }}`: values read at run time, never shell text.
    Secrets,
}

/// Namespace names as written, for "did you mean".
pub const NAMESPACES: [&str; 3] = ["host", "vars", "secrets"];

/// The host fields a template may name (`host.labels.KEY` names one label).
pub const HOST_FIELDS: [&str; 6] = ["name", "address", "port", "user", "groups", "labels.KEY"];

/// One `{{ namespace.key }}` in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Byte range of the whole `{{ ... }}` in the text.
    pub range: Range<usize>,
    /// Which namespace.
    pub namespace: Namespace,
    /// The name after the namespace (`root`, `labels.rack`).
    pub key: String,
}

impl Reference {
    /// The reference as a reviewer writes it: `{{ vars.root }}`.
    pub fn canonical(&self) -> String {
        let ns = match self.namespace {
            Namespace::Host => "host",
            Namespace::Vars => "vars",
            Namespace::Secrets => "secrets",
        };
        format!("{{{{ {ns}.{} }}}}", self.key)
    }
}

/// Why a text's templates cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` with no `}}` after it.
    #[error("`{{{{` is never closed by `}}}}`")]
    Unclosed {
        /// Byte range of the `{{` and what follows on its line.
        range: Range<usize>,
    },
    /// `{{ var.root }}`: a namespace cutover does not know.
    #[error("unknown template namespace `{name}` in `{text}`")]
    UnknownNamespace {
        /// Byte range of the reference.
        range: Range<usize>,
        /// The namespace as written.
        name: String,
        /// The reference as written.
        text: String,
    },
    /// `{{ host.hostname }}`: not a host field.
    #[error("unknown host field `host.{field}`")]
    UnknownHostField {
        /// Byte range of the reference.
        range: Range<usize>,
        /// The field as written.
        field: String,
    },
    /// `{{ vars.root | upper }}`, `{{ vars. }}`: not a plain name.
    #[error("`{text}` is not a plain `{{{{ namespace.name }}}}` reference")]
    NotPlain {
        /// Byte range of the reference.
        range: Range<usize>,
        /// The reference as written.
        text: String,
    },
}

impl TemplateError {
    /// Byte range of the problem in the text.
    pub fn range(&self) -> Range<usize> {
        match self {
            TemplateError::Unclosed { range }
            | TemplateError::UnknownNamespace { range, .. }
            | TemplateError::UnknownHostField { range, .. }
            | TemplateError::NotPlain { range, .. } => range.clone(),
        }
    }

    /// What to write instead.
    pub fn hint(&self) -> String {
        match self {
            TemplateError::Unclosed { .. } => {
                "close it: `{{ vars.NAME }}`; templates are `{{ host.* }}`, `{{ vars.* }}`, `{{ secrets.* }}`".into()
            }
            TemplateError::UnknownNamespace { name, .. } => {
                match crate::plan::diagnostic::did_you_mean(name, NAMESPACES) {
                    Some(ns) => format!("did you mean `{ns}`? templates name `host`, `vars` or `secrets`"),
                    None => "templates name `host.FIELD`, `vars.NAME` (inventory variables) or `secrets.NAME`".into(),
                }
            }
            TemplateError::UnknownHostField { field, .. } => {
                let known = ["name", "address", "port", "user", "groups"];
                let list = HOST_FIELDS.map(|f| format!("host.{f}")).join(", ");
                match crate::plan::diagnostic::did_you_mean(field, known) {
                    Some(f) => format!("did you mean `host.{f}`? host fields: {list}"),
                    None => format!("host fields: {list}; inventory variables are `vars.NAME`"),
                }
            }
            TemplateError::NotPlain { .. } => {
                "write `{{ vars.NAME }}` (no filters or expressions; file `template` content is the place for those)".into()
            }
        }
    }
}

/// Go-template words that stand alone (`{{ end }}`): foreign, not a typo of ours.
const FOREIGN_WORDS: [&str; 6] = ["end", "else", "break", "continue", "nil", "true"];

/// Every reference of `text`, in order, and every problem (all of them, not the first).
pub fn parse(text: &str) -> (Vec<Reference>, Vec<TemplateError>) {
    let (mut refs, mut errors) = (Vec::new(), Vec::new());
    let mut at = 0;
    while let Some(open) = text[at..].find("{{").map(|i| at + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            let line_end = text[open..].find('\n').map_or(text.len(), |i| open + i);
            errors.push(TemplateError::Unclosed {
                range: open..line_end,
            });
            break;
        };
        let range = open..close + 2;
        match classify(&text[open + 2..close], range.clone(), &text[range.clone()]) {
            Ok(Some(r)) => refs.push(r),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        at = close + 2;
    }
    (refs, errors)
}

/// One `{{ inner }}`: ours, foreign (`None`), or a mistake.
fn classify(
    inner: &str,
    range: Range<usize>,
    whole: &str,
) -> Result<Option<Reference>, TemplateError> {
    let inner = inner.trim();
    let word_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (word, rest) = inner.split_at(word_end);
    let starts_like_ours = word.starts_with(|c: char| c.is_ascii_alphabetic());
    let namespace = match word {
        "host" => Namespace::Host,
        "vars" => Namespace::Vars,
        "secrets" => Namespace::Secrets,
        _ if starts_like_ours && rest.starts_with('.') => {
            return Err(TemplateError::UnknownNamespace {
                range,
                name: word.to_string(),
                text: whole.to_string(),
            });
        }
        _ if starts_like_ours && rest.is_empty() && !FOREIGN_WORDS.contains(&word) => {
            return Err(TemplateError::UnknownNamespace {
                range,
                name: word.to_string(),
                text: whole.to_string(),
            });
        }
        _ => return Ok(None),
    };
    let key = rest.strip_prefix('.').unwrap_or("");
    let plain = !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !plain {
        return Err(TemplateError::NotPlain {
            range,
            text: whole.to_string(),
        });
    }
    if namespace == Namespace::Host && !is_host_field(key) {
        return Err(TemplateError::UnknownHostField {
            range,
            field: key.to_string(),
        });
    }
    Ok(Some(Reference {
        range,
        namespace,
        key: key.to_string(),
    }))
}

fn is_host_field(key: &str) -> bool {
    matches!(key, "name" | "address" | "port" | "user" | "groups")
        || key.strip_prefix("labels.").is_some_and(|k| !k.is_empty())
}

/// The value of a host or variable reference for `host` (`None`: not defined there;
/// always `None` for secrets, which are never rendered into text here).
pub fn value(r: &Reference, host: &Host) -> Option<String> {
    match r.namespace {
        Namespace::Vars => host.vars.get(&r.key).cloned(),
        Namespace::Secrets => None,
        Namespace::Host => match r.key.as_str() {
            "name" => Some(host.name.clone()),
            "address" => Some(host.address.clone()),
            "port" => Some(host.port.to_string()),
            "user" => host.user.clone(),
            "groups" => Some(host.groups.iter().cloned().collect::<Vec<_>>().join(",")),
            k => host.labels.get(k.strip_prefix("labels.")?).cloned(),
        },
    }
}

/// How a rendered value is written into its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// Shell command text: quoted for where it stands.
    Shell,
    /// A path, unit, URL: the value as it is.
    Plain,
}

/// Why a text cannot be rendered for a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The text's templates are malformed (validation reports these first).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The host has no such variable or field.
    #[error("`{reference}` is not defined for host {host}")]
    Undefined {
        /// The reference.
        reference: String,
        /// The host.
        host: String,
    },
    /// A value holds `{{`: rendered, it could name a secret the plan did not (fail closed).
    #[error("`{reference}` on host {host} holds `{{{{`, which cutover does not render twice")]
    Nested {
        /// The reference.
        reference: String,
        /// The host.
        host: String,
    },
    /// A value holds a NUL byte, which no shell word can carry.
    #[error("`{reference}` holds a NUL byte on host {host}")]
    Nul {
        /// The reference.
        reference: String,
        /// The host.
        host: String,
    },
}

/// `text` with every host and variable reference replaced by its value for `host`;
/// secrets and foreign templates stay as written.
pub fn render(text: &str, host: &Host, quoting: Quoting) -> Result<String, RenderError> {
    let (refs, errors) = parse(text);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    let mut out = String::with_capacity(text.len());
    let mut state = QuoteState::default();
    let mut at = 0;
    for r in refs.iter().filter(|r| r.namespace != Namespace::Secrets) {
        let before = &text[at..r.range.start];
        state.advance(before);
        out.push_str(before);
        let undefined = || RenderError::Undefined {
            reference: r.canonical(),
            host: host.name.clone(),
        };
        let v = value(r, host).ok_or_else(undefined)?;
        if v.contains("{{") {
            return Err(RenderError::Nested {
                reference: r.canonical(),
                host: host.name.clone(),
            });
        }
        match quoting {
            Quoting::Plain => out.push_str(&v),
            Quoting::Shell => out.push_str(&state.quote(&v).ok_or_else(|| RenderError::Nul {
                reference: r.canonical(),
                host: host.name.clone(),
            })?),
        }
        at = r.range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
