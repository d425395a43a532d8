//! Medians of the repeated runs as a markdown table, the ratios the targets are stated in,
//! and the write-back of both into docs/benchmarks.md between its result markers.

use crate::measure::Sample;
use crate::tools::{Pacing, Tool};
use std::fmt::Write;

/// Machine cores the floor divides sshd CPU by.
pub const CORES: f64 = 2.0;
/// Start and end of the generated block in docs/benchmarks.md.
pub const BEGIN: &str = "<!-- bench:results:begin -->";
/// End of the generated block.
pub const END: &str = "<!-- bench:results:end -->";

/// One run of one tool.
pub struct Record {
    /// Fleet size.
    pub hosts: usize,
    /// Remote command.
    pub script: String,
    /// The client.
    pub tool: Tool,
    /// What it cost.
    pub sample: Sample,
}

/// The median of each field over the records of one (hosts, script, tool).
struct Row {
    hosts: usize,
    script: String,
    tool: Tool,
    runs: usize,
    med: Sample,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn rows(records: &[Record]) -> Vec<Row> {
    let mut keys: Vec<(usize, String, Tool)> = Vec::new();
    for r in records {
        let k = (r.hosts, r.script.clone(), r.tool);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(hosts, script, tool)| {
            let of: Vec<&Sample> = records
                .iter()
                .filter(|r| r.hosts == hosts && r.script == script && r.tool == tool)
                .map(|r| &r.sample)
                .collect();
            let m = |f: fn(&Sample) -> f64| median(of.iter().map(|s| f(s)).collect());
            let med = Sample {
                wall: m(|s| s.wall),
                client_cpu: m(|s| s.client_cpu),
                sshd_cpu: m(|s| s.sshd_cpu),
                max_rss_kib: m(|s| s.max_rss_kib as f64) as u64,
            };
            Row {
                hosts,
                script,
                tool,
                runs: of.len(),
                med,
            }
        })
        .collect()
}

/// The figures table: one line per (hosts, command, tool), medians.
fn figures(rows: &[Row]) -> String {
    let mut t = String::from(
        "| hosts | command | client | runs | wall s | client CPU s | client CPU ms/host \
         | sshd CPU s | floor s | wall / floor | peak RSS MiB |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let floor = r.med.sshd_cpu / CORES;
        let _ = writeln!(
            t,
            "| {} | `{}` | {} | {} | {:.2} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
            r.hosts,
            r.script,
            r.tool.label(),
            r.runs,
            r.med.wall,
            r.med.client_cpu,
            r.med.client_cpu * 1000.0 / r.hosts as f64,
            r.med.sshd_cpu,
            floor,
            r.med.wall / floor,
            r.med.max_rss_kib as f64 / 1024.0,
        );
    }
    t
}

fn find<'a>(
    rows: &'a [Row],
    hosts: usize,
    script: &str,
    pick: impl Fn(&Tool) -> bool,
) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.hosts == hosts && r.script == script && pick(&r.tool))
}

/// The ratios the targets are stated in, for each cutover configuration.
fn ratios(rows: &[Row], default_fanout: usize, equal: usize) -> String {
    let mut t = String::from(
        "| hosts | command | cutover | pdsh -f 32 wall / cutover wall (≥ 4) \
         | same, pdsh with KEX curve25519 | pdsh -f N wall / cutover wall \
         | parallel-ssh wall / cutover wall (≥ 1.5) | cutover wall / floor (≤ 1.3) \
         | client CPU ms/host (< 3) | peak RSS MiB (< 64 at 500) |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cut = rows
        .iter()
        .filter(|r| matches!(r.tool, Tool::Cutover { .. }));
    for c in cut {
        let [pdsh, pdsh_kex, pdsh_n, pssh] = peer_cells(rows, c, default_fanout, equal);
        let _ = writeln!(
            t,
            "| {} | `{}` | {} | {pdsh} | {pdsh_kex} | {pdsh_n} | {pssh} | {:.2}x | {:.2} | {:.1} |",
            c.hosts,
            c.script,
            c.tool.label(),
            c.med.wall / (c.med.sshd_cpu / CORES),
            c.med.client_cpu * 1000.0 / c.hosts as f64,
            c.med.max_rss_kib as f64 / 1024.0,
        );
    }
    t
}

/// Peer wall / cutover wall against pdsh -f 32 (both KEX), pdsh -f N and parallel-ssh;
/// each only where the comparison is the one the target means, "–" elsewhere.
fn peer_cells(rows: &[Row], c: &Row, default_fanout: usize, equal: usize) -> [String; 4] {
    let Tool::Cutover { pacing, fanout } = c.tool else {
        return Default::default();
    };
    let vs = |peer: Tool| {
        find(rows, c.hosts, &c.script, |t| *t == peer)
            .map_or("–".into(), |o| format!("{:.2}x", o.med.wall / c.med.wall))
    };
    let pdsh = |fanout, same_kex| vs(Tool::Pdsh { fanout, same_kex });
    let none = || "–".to_string();
    let at_default = fanout == default_fanout || pacing == Pacing::Default;
    let at_equal = fanout == equal && pacing == Pacing::Unpaced;
    [
        if at_default { pdsh(32, false) } else { none() },
        if at_default { pdsh(32, true) } else { none() },
        if at_equal { pdsh(equal, false) } else { none() },
        if at_equal {
            vs(Tool::Pssh { pool: equal })
        } else {
            none()
        },
    ]
}

/// The generated markdown block (figures, then ratios), with the run's parameters.
pub fn block(records: &[Record], header: &str, default_fanout: usize, equal: usize) -> String {
    let rows = rows(records);
    format!(
        "{BEGIN}\n{header}\n\n### Figures (medians)\n\n{}\n### Ratios against the targets\n\n{}{END}",
        figures(&rows),
        ratios(&rows, default_fanout, equal)
    )
}

/// `doc` with the text between the markers replaced by `block` (appended if no markers).
pub fn splice(doc: &str, block: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &doc[..b], &doc[e + END.len()..]),
        _ => format!("{doc}\n{block}\n"),
    }
}
