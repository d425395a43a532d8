//! Templates with host variables (`{{ host.name }}`, `{{ vars.dc }}`), strict about unknowns.

use super::EditError;
use crate::inventory::Host;
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::BTreeMap;

/// Renders `text` for `host`; an unknown variable is an error, never an empty string.
pub fn render(text: &str, host: &Host) -> Result<String, EditError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build();
    env.set_syntax(syntax.map_err(|e| EditError::Template {
        message: e.to_string(),
    })?);
    env.render_str(text, context(host))
        .map_err(|e| EditError::Template {
            message: e.to_string(),
        })
}

fn context(host: &Host) -> Value {
    let mut h: BTreeMap<&str, Value> = BTreeMap::new();
    h.insert("name", Value::from(host.name.clone()));
    h.insert("address", Value::from(host.address.clone()));
    h.insert("port", Value::from(host.port));
    if let Some(user) = &host.user {
        h.insert("user", Value::from(user.clone()));
    }
    h.insert(
        "groups",
        host.groups.iter().cloned().map(Value::from).collect(),
    );
    h.insert("labels", Value::from(host.labels.clone()));
    let mut root: BTreeMap<&str, Value> = BTreeMap::new();
    root.insert("host", Value::from(h));
    root.insert("vars", Value::from(host.vars.clone()));
    Value::from(root)
}

/// True when `text` contains template syntax (so it must be rendered per host).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::tests::host;

    #[test]
    fn renders_host_fields_and_vars_keeping_the_final_newline() {
        let out = render(
            "node_name = \"{{ host.name }}\"\ndc = \"{{ vars.dc }}\"\n",
            &host(),
        )
        .unwrap();
        assert_eq!(out, "node_name = \"consul-01\"\ndc = \"gprd\"\n");
    }

    #[test]
    fn unknown_variables_are_errors() {
        let e = render("{{ vars.missing }}", &host()).unwrap_err();
        assert!(e.to_string().contains("undefined"), "{e}");
    }

    #[test]
    fn recognises_templates() {
        assert!(is_template("{{ vars.root }}/etc"));
        assert!(!is_template("/etc/consul.json"));
    }
}
