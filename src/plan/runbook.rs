//! The plan as a Markdown runbook for the merge request: deterministic, same input same bytes.

use super::digest::digest;
use super::model::{Action, Check, Plan, Step, StepSettings, Targets, Watch};
use super::template::{self, Quoting, fields};
use super::timeline::{arming_estimate, human};
use crate::inventory::{Host, Inventory};
use crate::remote::{self, Script};
use chrono::{DateTime, FixedOffset, Utc};
use std::fmt::Write as _;
use std::time::Duration;

/// Renders the runbook. Host lists need the inventory; without it the runbook says so.
pub fn render(plan: &Plan, inventory: Option<&Inventory>) -> String {
    let mut md = String::new();
    summary(&mut md, plan, inventory);
    timeline(&mut md, plan, inventory);
    hosts(&mut md, inventory);
    secrets(&mut md, plan);
    phase(
        &mut md,
        "Preflight (read-only)",
        &plan.preflight.iter().map(Item::Check).collect::<Vec<_>>(),
        inventory,
    );
    phase(
        &mut md,
        "Stage",
        &plan.stage.iter().map(Item::Step).collect::<Vec<_>>(),
        inventory,
    );
    phase(
        &mut md,
        "Verify (after staging, and again at T-minus)",
        &plan.verify.iter().map(Item::Check).collect::<Vec<_>>(),
        inventory,
    );
    action(&mut md, &plan.action, inventory);
    watch(&mut md, plan.watch.as_ref(), plan);
    phase(
        &mut md,
        "Post",
        &plan.post.iter().map(Item::Step).collect::<Vec<_>>(),
        inventory,
    );
    if !plan.rollback.is_empty() {
        let _ = writeln!(
            md,
            "## Rollback (`cutover rollback RUN`, before the fire)\n\nFiles staging wrote are restored from their checksummed backups and what it disabled is enabled again; then these steps run on each staged host.\n"
        );
        phase(
            &mut md,
            "Rollback steps",
            &plan.rollback.iter().map(Item::Step).collect::<Vec<_>>(),
            inventory,
        );
    }
    let _ = writeln!(md, "---\nPlan digest: `{}`  ", digest(plan, inventory));
    let _ = writeln!(
        md,
        "Run it with `cutover run PLAN --expect-digest {}` to refuse a plan changed after review.",
        digest(plan, inventory)
    );
    // What reviewers approve must be what runs: no escape, bidi or invisible character of
    // the plan or inventory reaches the page raw (Trojan Source).
    crate::sanitize::visible(&md)
}

/// Where each secret comes from; commands keep showing `{{ secrets.NAME }}`, never a value.
fn secrets(md: &mut String, plan: &Plan) {
    if plan.secrets.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## Secrets

Read when the run starts, redacted from every journal line, output and report.

| name | source |
|---|---|"
    );
    for (name, source) in &plan.secrets {
        let from = match source {
            super::model::SecretSource::Env(var) => format!("environment variable `{var}`"),
            super::model::SecretSource::File(path) => format!("file `{path}`"),
        };
        let _ = writeln!(md, "| `{{{{ secrets.{name} }}}}` | {from} |");
    }
    let _ = writeln!(md);
}

fn summary(md: &mut String, plan: &Plan, inv: Option<&Inventory>) {
    let m = &plan.meta;
    let _ = writeln!(md, "# Runbook: {}\n", m.name);
    if let Some(d) = &m.description {
        let _ = writeln!(md, "{}\n", d.trim());
    }
    let _ = writeln!(md, "| | |\n|---|---|");
    row(md, "Change", m.change.as_deref().unwrap_or("(none given)"));
    row(md, "Owner", m.owner.as_deref().unwrap_or("(none given)"));
    let inv_text = match inv {
        Some(i) if i.production => format!("**{} (PRODUCTION)**, {} hosts", i.name, i.hosts.len()),
        Some(i) => format!("{}, {} hosts", i.name, i.hosts.len()),
        None => "(not resolved: pass --inventory)".to_string(),
    };
    row(md, "Inventory", &inv_text);
    row(md, "Fire time", &fire_time(&plan.action.at));
    row(
        md,
        "Action",
        &format!(
            "`{}` via `{}`",
            remote::fired_command(&plan.action.run, plan.action.sudo),
            plan.action.mechanism.as_str()
        ),
    );
    let e = &plan.execution;
    row(
        md,
        "Execution",
        &format!(
            "batches of {}, failure budget {}, {} handshakes/s ({} in flight), command timeout {}",
            e.batch_size,
            e.max_failures,
            e.connect_rate,
            e.connect_burst,
            human(e.command_timeout)
        ),
    );
    row(md, "Digest", &format!("`{}`", digest(plan, inv)));
    md.push('\n');
    if let Some(bg) = &m.break_glass {
        let _ = writeln!(
            md,
            "> **Break glass:** {}\n",
            bg.trim().replace('\n', "\n> ")
        );
    }
}

fn row(md: &mut String, k: &str, v: &str) {
    let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|").replace('\n', " "));
}

fn fire_time(at: &DateTime<FixedOffset>) -> String {
    let utc = at.to_utc().format("%Y-%m-%d %H:%M:%S UTC");
    if at.offset().local_minus_utc() == 0 {
        utc.to_string()
    } else {
        format!("{utc} ({} as written)", at.to_rfc3339())
    }
}

fn timeline(md: &mut String, plan: &Plan, inv: Option<&Inventory>) {
    let a = &plan.action;
    let at = a.at.to_utc();
    let _ = writeln!(
        md,
        "## T-minus timeline\n\n| When | UTC | What |\n|---|---|---|"
    );
    let mut line = |offset: &str, t: Option<DateTime<Utc>>, what: String| {
        let when = t.map_or("before".to_string(), |t| t.format("%H:%M:%S").to_string());
        let _ = writeln!(md, "| {offset} | {when} | {what} |");
    };
    line(
        "before T-arm",
        None,
        format!(
            "preflight ({} checks), stage ({} steps), verify ({} checks)",
            plan.preflight.len(),
            plan.stage.len(),
            plan.verify.len()
        ),
    );
    let arming = inv
        .and_then(|i| i.select(&a.targets.selectors).ok())
        .map(|h| arming_estimate(h.len(), &plan.execution).total());
    let est = arming.map_or(String::new(), |d| format!(" (estimated {})", human(d)));
    line(
        &format!("T-{}", human(a.arm_window)),
        Some(at - dur(a.arm_window)),
        format!("arming window opens: re-verify, then arm every host{est}"),
    );
    line(
        &format!("T-{}", human(a.arm_deadline)),
        Some(at - dur(a.arm_deadline)),
        "arming deadline: any host not armed means disarm everywhere and abort".into(),
    );
    line(
        &format!("T-{}", human(a.reverify_before)),
        Some(at - dur(a.reverify_before)),
        "last drift check (agents, files); drift disarms".into(),
    );
    line(
        "T",
        Some(at),
        format!("**fire**: `{}` on every target host", a.run),
    );
    if let Some(w) = &plan.watch {
        line(
            &format!("T+{}", human(w.timeout)),
            Some(at + dur(w.timeout)),
            "watch timeout: not complete by now means failed (break glass)".into(),
        );
    }
    md.push('\n');
}

fn dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

fn hosts(md: &mut String, inv: Option<&Inventory>) {
    let _ = writeln!(md, "## Hosts\n");
    let Some(inv) = inv else {
        let _ = writeln!(
            md,
            "Inventory not resolved; render with `--inventory FILE` to list hosts and batches.\n"
        );
        return;
    };
    let _ = writeln!(md, "| Group | Count | Hosts |\n|---|---|---|");
    for (group, hosts) in inv.groups() {
        let _ = writeln!(md, "| {group} | {} | {} |", hosts.len(), host_list(&hosts));
    }
    md.push('\n');
}

/// A compact list of host names for tables.
fn host_list(hosts: &[&Host]) -> String {
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    crate::executor::nodeset::compact(&names)
}

enum Item<'a> {
    Check(&'a Check),
    Step(&'a Step),
}

fn phase(md: &mut String, title: &str, items: &[Item<'_>], inv: Option<&Inventory>) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(md, "## {title}\n");
    for (i, item) in items.iter().enumerate() {
        let (settings, script) = match item {
            Item::Check(c) => (&c.settings, remote::check(&c.kind)),
            Item::Step(s) => (&s.settings, remote::step(&s.kind)),
        };
        let _ = writeln!(md, "### {}. {}\n", i + 1, settings.name);
        let _ = writeln!(md, "- {}", settings_line(settings, inv));
        if let Some(g) = &settings.gate {
            let _ = writeln!(
                md,
                "- **Gate:** the operator types `{g}` before this step runs"
            );
        }
        script_block(md, &script, settings.sudo);
        let listed = match item {
            Item::Check(c) => fields::listed(&c.kind, fields::check),
            Item::Step(s) => fields::listed(&s.kind, fields::step),
        };
        rendered_values(md, &listed, &settings.targets, settings.once, inv);
    }
}

/// Rows of rendered values shown per step: a reviewer checks the pattern, not 255 rows.
const MAX_RENDERED_ROWS: usize = 12;

/// The values templated fields take on the hosts, one block per group of hosts that get
/// the same values, so a reviewer reads what runs, not only the template.
fn rendered_values(
    md: &mut String,
    listed: &[(String, String, Quoting)],
    targets: &Targets,
    once: bool,
    inv: Option<&Inventory>,
) {
    let templated: Vec<_> = listed
        .iter()
        .filter(|(_, text, _)| {
            template::parse(text)
                .0
                .iter()
                .any(|r| r.namespace != template::Namespace::Secrets)
        })
        .collect();
    let Some(hosts) = inv.and_then(|i| i.select(&targets.selectors).ok()) else {
        return;
    };
    if templated.is_empty() || hosts.is_empty() {
        return;
    }
    let hosts = &hosts[..if once { 1 } else { hosts.len() }];
    let mut groups: Vec<(Vec<String>, Vec<&Host>)> = Vec::new();
    for h in hosts {
        let values: Vec<String> = templated
            .iter()
            .map(|(_, text, q)| {
                template::render(text, h, *q).unwrap_or_else(|e| format!("<error: {e}>"))
            })
            .collect();
        match groups.iter_mut().find(|(v, _)| *v == values) {
            Some((_, members)) => members.push(h),
            None => groups.push((values, vec![h])),
        }
    }
    if let [(values, members)] = groups.as_slice() {
        let _ = writeln!(md, "- Rendered, the same on all {} hosts:", members.len());
        for ((key, _, _), value) in templated.iter().zip(values) {
            let _ = writeln!(md, "  - `{key}`: `{value}`");
        }
        md.push('\n');
        return;
    }
    let keys: Vec<String> = templated.iter().map(|(k, _, _)| format!("`{k}`")).collect();
    let _ = writeln!(md, "- Rendered per host:\n");
    let _ = writeln!(md, "  | Hosts | {} |", keys.join(" | "));
    let _ = writeln!(md, "  |---|{}", "---|".repeat(keys.len()));
    for (values, members) in groups.iter().take(MAX_RENDERED_ROWS) {
        let cells: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        let _ = writeln!(md, "  | {} | {} |", host_list(members), cells.join(" | "));
    }
    if groups.len() > MAX_RENDERED_ROWS {
        let rest: usize = groups[MAX_RENDERED_ROWS..]
            .iter()
            .map(|(_, m)| m.len())
            .sum();
        let _ = writeln!(
            md,
            "  | … {rest} more hosts in {} groups | |",
            groups.len() - MAX_RENDERED_ROWS
        );
    }
    md.push('\n');
}

fn settings_line(s: &StepSettings, inv: Option<&Inventory>) -> String {
    let count = inv
        .and_then(|i| i.select(&s.targets.selectors).ok())
        .map(|h| h.len());
    let hosts = match (count, s.once) {
        (Some(_), true) => "one host of".to_string(),
        (Some(n), false) => format!(
            "{n} hosts in {} batch(es) of {},",
            n.div_ceil(s.batch_size.max(1)),
            s.batch_size
        ),
        (None, _) => "hosts".to_string(),
    };
    format!(
        "{hosts} targets `{}`; failure budget {}; timeout {}",
        s.targets.text.join(", "),
        s.max_failures,
        human(s.timeout)
    )
}

fn script_block(md: &mut String, script: &Script, sudo: bool) {
    match script {
        Script::Remote(s) => {
            let how = if sudo { "sudo -n sh -s" } else { "sh -s" };
            let _ = writeln!(
                md,
                "- Runs on each host via `{how}`:\n\n```sh\n{}\n```\n",
                s.trim_end()
            );
        }
        Script::Local(argv) => {
            let words: Vec<String> = argv.iter().map(|w| remote::quote(w)).collect();
            let _ = writeln!(
                md,
                "- Runs on the orchestrator:\n\n```sh\n{}\n```\n",
                words.join(" ")
            );
        }
        Script::PerHost(what) => {
            let _ = writeln!(md, "- On each host: {what}\n");
        }
    }
}

fn action(md: &mut String, a: &Action, inv: Option<&Inventory>) {
    let _ = writeln!(md, "## Action: {}\n", a.name);
    let count = inv
        .and_then(|i| i.select(&a.targets.selectors).ok())
        .map_or("the".to_string(), |h| h.len().to_string());
    let _ = writeln!(
        md,
        "- Fires at **{}** on {count} hosts (targets `{}`)",
        fire_time(&a.at),
        a.targets.text.join(", ")
    );
    let _ = writeln!(
        md,
        "- Mechanism `{}`; arming between T-{} and T-{}; arming failure budget {}",
        a.mechanism.as_str(),
        human(a.arm_window),
        human(a.arm_deadline),
        a.max_failures
    );
    if let Some(g) = &a.gate {
        let _ = writeln!(md, "- **Gate:** the operator types `{g}` before arming");
    }
    let _ = writeln!(
        md,
        "- All or nothing: if any host fails to arm or verify by the deadline, every armed host is disarmed and the run aborts."
    );
    let _ = writeln!(
        md,
        "- Each host records a receipt (planned time, actual start, exit code); the fire spread is measured.\n"
    );
    let _ = writeln!(
        md,
        "```sh\n{}\n```\n",
        remote::fired_command(&a.run, a.sudo)
    );
    let listed = [("run".to_string(), a.run.clone(), Quoting::Shell)];
    rendered_values(md, &listed, &a.targets, false, inv);
}

fn watch(md: &mut String, w: Option<&Watch>, plan: &Plan) {
    let _ = writeln!(md, "## Watch and completion\n");
    let Some(w) = w else {
        let _ = writeln!(md, "No `[watch]`: nothing decides completion.\n");
        return;
    };
    let _ = writeln!(
        md,
        "- Poll every {}; complete when {} hold for {} continuously, counted only once every fired host's action has finished and reported{}; fail after {}",
        human(w.poll_interval),
        conditions(&w.complete_when),
        human(w.stable_for),
        match w.settle.is_zero() {
            true => String::new(),
            false => format!(" and at least {} after the fire", human(w.settle)),
        },
        human(w.timeout)
    );
    if let Some(q) = &w.quorum {
        let voters = q
            .voters
            .map_or("all targets".to_string(), |v| v.to_string());
        let _ = writeln!(
            md,
            "- Quorum: `{:?}` on `{}`, expecting {voters} voters; missing or stale readings count as unhealthy",
            q.source,
            q.targets.text.join(", ")
        );
    }
    for p in &w.probes {
        let _ = writeln!(md, "- Probe `{}`: {}", p.name, probe_text(p));
    }
    if !w.abort_if.is_empty() {
        let list: Vec<String> = w.abort_if.iter().map(|a| format!("`{a:?}`")).collect();
        let _ = writeln!(
            md,
            "- **Abort before the fire time (disarm everywhere) if:** {}",
            list.join(", ")
        );
    }
    if let Some(bg) = &plan.meta.break_glass {
        let _ = writeln!(
            md,
            "- On timeout: **break glass**: {}",
            bg.trim().replace('\n', " ")
        );
    }
    md.push('\n');
}

fn conditions(c: &[super::model::Condition]) -> String {
    let v: Vec<String> = c
        .iter()
        .map(|c| match c {
            super::model::Condition::Quorum => "quorum".to_string(),
            super::model::Condition::AllProbes => "all probes".to_string(),
            super::model::Condition::Probe(n) => format!("probe `{n}`"),
            super::model::Condition::TermIncreased => {
                "the raft term increased (an election happened)".to_string()
            }
            super::model::Condition::LeaderChanged => "the leader changed".to_string(),
        })
        .collect();
    v.join(" and ")
}

fn probe_text(p: &super::model::Probe) -> String {
    use super::model::ProbeKind;
    use super::model::Sample;
    let sample = match p.sample {
        None => String::new(),
        Some(Sample::Count(n)) => format!(" (a sample of {n} host(s) spread over them)"),
        Some(Sample::Fraction(f)) => format!(" (a sample of {}% spread over them)", f * 100.0),
        Some(Sample::PerGroup(n)) => format!(" (a sample of {n} host(s) of every group)"),
    };
    let every = p.interval.map_or(String::new(), |i| {
        format!(", every {}", humantime::format_duration(i))
    });
    let on = if p.targets.text.is_empty() {
        format!("from the orchestrator{every}")
    } else {
        format!(
            "on `{}`{sample}, {}% must pass{every}",
            p.targets.text.join(", "),
            p.min_pass * 100.0
        )
    };
    match &p.kind {
        ProbeKind::Http {
            url,
            expect_status,
            metric,
            ..
        } => {
            let m = metric.as_ref().map_or(String::new(), |m| {
                format!(
                    "; metric `{}` within [{}, {}]",
                    m.pattern,
                    m.min.map_or("-inf".into(), |v| v.to_string()),
                    m.max.map_or("+inf".into(), |v| v.to_string())
                )
            });
            format!("HTTP {url} expects {expect_status} {on}{m}")
        }
        ProbeKind::Tcp { port } => format!("TCP port {port} {on}"),
        ProbeKind::Command { run } => format!("`{run}` {on}"),
    }
}
