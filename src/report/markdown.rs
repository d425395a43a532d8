//! The [`Report`] as Markdown, times in UTC: a header table, then one section per concern,
//! each left out when it has nothing to say.

use super::{DiffGroup, Entry, Fire, HostGroup, Report, Watch};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// The whole report.
pub fn render(r: &Report) -> String {
    let mut md = String::new();
    header(&mut md, r);
    timeline(&mut md, &r.timeline);
    diffs(&mut md, &r.diffs);
    failures(&mut md, r);
    exclusions(&mut md, r);
    fire(&mut md, &r.fire);
    watch(&mut md, &r.watch);
    operator(&mut md, &r.operator);
    hosts(&mut md, &r.hosts);
    rollback(&mut md, r.rollback.as_ref());
    if r.torn_tail {
        let _ = writeln!(
            md,
            "\n> The journal's last line was torn (the orchestrator died mid-write); it is left out."
        );
    }
    md
}

/// Which hosts `cutover rollback` restored, and which it could not (absent when never run).
fn rollback(md: &mut String, r: Option<&super::Rollback>) {
    let Some(r) = r else {
        return;
    };
    let _ = writeln!(md, "\n## Rollback\n");
    if !r.restored.is_empty() {
        let _ = writeln!(
            md,
            "- restored and verified on {} host(s): {}",
            r.restored.len(),
            r.restored_hostlist
        );
    }
    for (host, why) in &r.failed {
        let _ = writeln!(md, "- **not rolled back: {host}**: {why}");
    }
}

fn header(md: &mut String, r: &Report) {
    let Some(h) = &r.header else {
        let _ = writeln!(
            md,
            "# Cutover report: {}\n\nThe journal has no start record.\n",
            r.run
        );
        return;
    };
    let _ = writeln!(md, "# Cutover report: {}\n", h.plan);
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(
        md,
        "| Run | `{}` |\n| Operator | {} |\n| Inventory | {}{} ({} hosts) |",
        r.run,
        h.operator,
        h.inventory,
        if h.production { " **PRODUCTION**" } else { "" },
        h.hosts
    );
    let _ = writeln!(
        md,
        "| Digest | `{}` |\n| Started | {} |\n| Planned fire | {} |",
        h.digest,
        day(h.started),
        day(h.fire_at)
    );
    if let Some(v) = &r.verdict
        && let Some(s) = v.fire_to_complete_s
    {
        let _ = writeln!(md, "| Fire to complete | {s:.1} s |");
    }
    if r.attempts > 1 {
        let _ = writeln!(
            md,
            "| Attempts | {} (resumed {} time(s) with `cutover resume`) |",
            r.attempts,
            r.attempts - 1
        );
    }
    match &r.verdict {
        Some(v) => {
            let took = v.took_s.map_or(String::new(), |s| format!(" ({s:.1} s)"));
            let _ = writeln!(
                md,
                "| Ended | {}{took} |\n| Verdict | **{}**{} |",
                day(v.ended),
                v.outcome,
                if h.dry_run { " (dry run)" } else { "" }
            );
            if let Some(why) = &v.reason {
                let _ = writeln!(md, "| Why | {} |", cell(why));
            }
            md.push('\n');
        }
        None => {
            let _ = writeln!(
                md,
                "| Verdict | **unfinished**: the journal ends without a result (orchestrator stopped?) |\n"
            );
        }
    }
}

fn timeline(md: &mut String, rows: &[Entry]) {
    let _ = writeln!(md, "## Timeline (UTC)\n\n| time | what |\n|---|---|");
    for e in rows {
        let _ = writeln!(md, "| {} | {} |", time(e.at), cell(&e.what));
    }
}

fn diffs(md: &mut String, list: &[DiffGroup]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Staged changes\n");
    for d in list {
        let written = if d.written == d.hosts.len() {
            "written on all".to_string()
        } else {
            format!("written on {}", d.written)
        };
        if d.diff.is_empty() {
            let _ = writeln!(
                md,
                "- {} `{}` on {}: already as planned, no change\n",
                d.step,
                d.file,
                hosts_cell(&d.hostlist, d.hosts.len())
            );
            continue;
        }
        let context = if d.context_differs {
            format!(
                "\n\nThe same change on every one of them; context lines differ by host ({}'s diff shown).",
                d.hosts[0]
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "### {} `{}` on {} ({written}){context}\n\n```diff\n{}{}```\n",
            d.step,
            d.file,
            hosts_cell(&d.hostlist, d.hosts.len()),
            d.diff,
            if d.diff.ends_with('\n') { "" } else { "\n" }
        );
    }
}

fn failures(md: &mut String, r: &Report) {
    if r.failures.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## Failures\n\n| step | hosts | reason |\n|---|---|---|"
    );
    for s in &r.failures {
        for g in &s.groups {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                s.step,
                hosts_cell(&g.hostlist, g.hosts.len()),
                cell(&g.reason)
            );
        }
    }
}

fn exclusions(md: &mut String, r: &Report) {
    if r.exclusions.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n## Exclusions\n\nThese hosts left the run: nothing later touched them, they were not armed and did not fire.\n\n| phase | hosts | reason |\n|---|---|---|"
    );
    for e in &r.exclusions {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            e.phase.map_or("before the run (operator)", |p| p.as_str()),
            hosts_cell(&e.hostlist, e.hosts.len()),
            cell(&e.reason)
        );
    }
}

fn fire(md: &mut String, f: &Fire) {
    if f.hosts.is_empty() && f.spread.is_none() {
        return;
    }
    let _ = writeln!(md, "\n## Arming and fire\n");
    if let Some(p) = f.planned {
        let _ = writeln!(md, "- Planned fire: {}", precise(p));
    }
    if let Some(ms) = f.commit_window_ms {
        let _ = writeln!(
            md,
            "- Commit window: {ms:.1} ms (the only span in which a crash could split the fleet)"
        );
    }
    match &f.spread_text {
        Some(s) => {
            let _ = writeln!(md, "- {}", cell(s));
        }
        None => {
            let _ = writeln!(md, "- Fire spread: not measured (the run did not reach it)");
        }
    }
    let _ = writeln!(
        md,
        "\n| host | mechanism | job | committed | woke | started | ended | late | exit |\n|---|---|---|---|---|---|---|---|---|"
    );
    for h in &f.hosts {
        let t = |t: Option<DateTime<Utc>>| t.map_or("-".to_string(), time);
        let exit = match (&h.exit, &h.skipped) {
            (Some(c), _) => c.to_string(),
            (None, Some(why)) => format!("did not fire: {why}"),
            (None, None) => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            h.host,
            h.mechanism.map_or("-", |m| m.as_str()),
            h.job
                .as_deref()
                .map_or("-".to_string(), |j| format!("`{}`", cell(j))),
            match h.committed {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            },
            t(h.woke),
            t(h.started),
            t(h.ended),
            h.late_ms.map_or("-".to_string(), |l| format!("{l:.1} ms")),
            exit
        );
    }
}

fn watch(md: &mut String, w: &Watch) {
    if w.milestones.is_empty() && w.probe_failures_before_fire.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Watch\n");
    if let Some(o) = &w.outcome {
        let _ = writeln!(md, "Outcome: **{}**\n", cell(o));
    }
    if let Some(load) = &w.load {
        let _ = writeln!(
            md,
            "The watch's own load: {}; {} poll(s), the slowest {} ms.\n",
            cell(load),
            w.polls,
            w.slowest_poll_ms
        );
    }
    for p in &w.probe_failures_before_fire {
        let _ = writeln!(
            md,
            "- **probe `{}` already failing before the fire** ({}): {}/{} passed",
            p.probe,
            time(p.at),
            p.passed,
            p.total
        );
        for g in &p.groups {
            let _ = writeln!(
                md,
                "  - {}: {}",
                hosts_cell(&g.hostlist, g.hosts.len()),
                cell(&g.reason)
            );
        }
    }
    if !w.probe_failures_before_fire.is_empty() {
        md.push('\n');
    }
    if !w.milestones.is_empty() {
        let _ = writeln!(md, "| time | milestone |\n|---|---|");
        for m in &w.milestones {
            let _ = writeln!(md, "| {} | {} |", time(m.at), cell(&m.what));
        }
    }
}

fn operator(md: &mut String, list: &[Entry]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Operator actions\n\n| time | action |\n|---|---|");
    for e in list {
        let _ = writeln!(md, "| {} | {} |", time(e.at), cell(&e.what));
    }
}

fn hosts(md: &mut String, groups: &[HostGroup]) {
    if groups.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Hosts\n\n| hosts | state |\n|---|---|");
    for g in groups {
        let state = if g.attention {
            format!("**{}**", cell(&g.state))
        } else {
            cell(&g.state)
        };
        let _ = writeln!(
            md,
            "| {} | {state} |",
            hosts_cell(&g.hostlist, g.hosts.len())
        );
    }
}

/// `lab-3`, or `lab-[1-5] (5)` for more than one host.
fn hosts_cell(list: &str, n: usize) -> String {
    if n == 1 {
        list.to_string()
    } else {
        format!("{list} ({n})")
    }
}

/// Text safe in a table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|")
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

fn precise(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
