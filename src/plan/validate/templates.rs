//! Templates in every command, path, probe and check field: each `{{ ... }}` well formed,
//! and (with an inventory) each host field and variable defined on every host it runs on.

use super::V;
use crate::inventory::Host;
use crate::plan::model::{Plan, Targets};
use crate::plan::template::{self, Namespace, Reference, fields};

/// One templated field: its key path, its text, and the hosts it is rendered for
/// (`None`: runs on the orchestrator, where there is no host).
struct Site<'a> {
    path: String,
    text: String,
    targets: Option<(&'a Targets, bool)>,
}

impl V<'_> {
    /// Reports every malformed template and every variable some target host lacks.
    pub(super) fn templates(&mut self, plan: &Plan) {
        for site in sites(plan) {
            let (refs, errors) = template::parse(&site.text);
            for e in errors {
                let span = self.spans.inside(&site.path, &site.text, e.range());
                let d = self.error_at(&site.path, span, e.to_string());
                V::hint(d, e.hint());
            }
            for r in refs.iter().filter(|r| r.namespace != Namespace::Secrets) {
                self.defined(&site, r);
            }
        }
    }

    fn defined(&mut self, site: &Site<'_>, r: &Reference) {
        let span = self.spans.inside(&site.path, &site.text, r.range.clone());
        let Some((targets, once)) = site.targets else {
            let d = self.error_at(
                &site.path,
                span,
                format!(
                    "`{}` names a host, but this runs on the orchestrator",
                    r.canonical()
                ),
            );
            V::hint(d, "give it `targets` so it runs once per host");
            return;
        };
        let Some(hosts) = self
            .cx
            .inventory
            .and_then(|inv| inv.select(&targets.selectors).ok())
        else {
            return;
        };
        let hosts: Vec<&Host> = hosts
            .into_iter()
            .take(if once { 1 } else { usize::MAX })
            .collect();
        let missing: Vec<&str> = hosts
            .iter()
            .filter(|h| template::value(r, h).is_none())
            .map(|h| h.name.as_str())
            .collect();
        if missing.is_empty() {
            return;
        }
        let shown = if missing.len() > 5 {
            format!("{}, …", missing[..5].join(", "))
        } else {
            missing.join(", ")
        };
        let message = format!(
            "`{}` is not defined for {} of {} target hosts: {shown}",
            r.canonical(),
            missing.len(),
            hosts.len()
        );
        let hint = hint(r, &hosts);
        let d = self.error_at(&site.path, span, message);
        V::hint(d, hint);
    }
}

fn hint(r: &Reference, hosts: &[&Host]) -> String {
    if r.namespace == Namespace::Host {
        return format!(
            "`host.{}` is not set in the inventory for those hosts",
            r.key
        );
    }
    let known: std::collections::BTreeSet<&str> = hosts
        .iter()
        .flat_map(|h| h.vars.keys().map(String::as_str))
        .collect();
    match crate::plan::diagnostic::did_you_mean(&r.key, known.iter().copied()) {
        Some(k) => format!("did you mean `{{{{ vars.{k} }}}}`?"),
        None => format!(
            "define `{}` in the inventory's vars for those hosts (`cutover inventory show` lists them)",
            r.key
        ),
    }
}

/// Every templated field of the plan with where it runs.
fn sites(plan: &Plan) -> Vec<Site<'_>> {
    let mut out = Vec::new();
    let mut push = |path: String, listed: Vec<(String, String, template::Quoting)>, t| {
        for (key, text, _) in listed {
            out.push(Site {
                path: format!("{path}.{key}"),
                text,
                targets: t,
            });
        }
    };
    for (list, checks) in [("preflight", &plan.preflight), ("verify", &plan.verify)] {
        for (i, c) in checks.iter().enumerate() {
            let t = Some((&c.settings.targets, c.settings.once));
            push(
                format!("{list}[{i}]"),
                fields::listed(&c.kind, fields::check),
                t,
            );
        }
    }
    for (list, steps) in [("stage", &plan.stage), ("post", &plan.post)] {
        for (i, s) in steps.iter().enumerate() {
            let t = Some((&s.settings.targets, s.settings.once));
            push(
                format!("{list}[{i}]"),
                fields::listed(&s.kind, fields::step),
                t,
            );
        }
    }
    let a = &plan.action;
    push(
        "action".into(),
        vec![("run".into(), a.run.clone(), template::Quoting::Shell)],
        Some((&a.targets, false)),
    );
    if let Some(w) = &plan.watch {
        for (i, p) in w.probes.iter().enumerate() {
            let t = (!p.targets.text.is_empty()).then_some((&p.targets, false));
            push(
                format!("watch.probe[{i}]"),
                fields::listed(&p.kind, fields::probe),
                t,
            );
        }
        if let Some(q) = &w.quorum {
            let run = q
                .run
                .iter()
                .map(|r| ("run".to_string(), r.clone(), template::Quoting::Shell));
            push(
                "watch.quorum".into(),
                run.collect(),
                Some((&q.targets, false)),
            );
        }
    }
    out
}
