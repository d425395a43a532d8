//! Fire spread and lateness computed the same way for every mechanism, medians over the
//! repetitions, the ratios the targets are stated in, and the write-back into
//! docs/benchmarks.md between the arming markers.

use std::fmt::Write;

/// Start of the generated block in docs/benchmarks.md.
pub const BEGIN: &str = "<!-- bench:arming:begin -->";
/// End of the generated block.
pub const END: &str = "<!-- bench:arming:end -->";

/// One arming measurement.
pub struct Arm {
    /// Fleet size.
    pub hosts: usize,
    /// Tool label.
    pub tool: String,
    /// Seconds until every host was armed (pdsh: its wall time).
    pub total: f64,
    /// cutover's arm phase alone, seconds.
    pub phase: Option<f64>,
}

/// What one host's mechanism recorded: wake time and, where there is an action, its start.
pub type Wake = Option<(i64, Option<i64>)>;

/// One fire: every host's wake (and start) against the planned time.
pub struct Fire {
    /// Fleet size.
    pub hosts: usize,
    /// Mechanism label.
    pub tool: String,
    /// Planned fire time, ns.
    pub planned_ns: i64,
    /// Per host, in fleet order.
    pub wakes: Vec<Wake>,
    /// cutover only: the commit round's window (first write sent to last confirmed), ms.
    pub commit_ms: Option<f64>,
}

/// The figures of one fire, in ms.
#[derive(Clone, Copy)]
pub struct FireStats {
    fired: usize,
    early: usize,
    wake_spread: f64,
    start_spread: Option<f64>,
    wake_late_median: f64,
    wake_late_max: f64,
    start_late_median: Option<f64>,
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn range(v: &[i64]) -> f64 {
    v.iter()
        .max()
        .zip(v.iter().min())
        .map_or(f64::NAN, |(a, b)| ms(a - b))
}

impl Fire {
    /// Spread (max minus min) and lateness (against the plan) of wakes and starts.
    pub fn stats(&self) -> FireStats {
        let wakes: Vec<i64> = self.wakes.iter().flatten().map(|w| w.0).collect();
        let starts: Vec<i64> = self.wakes.iter().flatten().filter_map(|w| w.1).collect();
        let late = |v: &[i64]| median(v.iter().map(|t| ms(t - self.planned_ns)).collect());
        FireStats {
            fired: wakes.len(),
            early: wakes.iter().filter(|w| **w < self.planned_ns).count(),
            wake_spread: range(&wakes),
            start_spread: (!starts.is_empty()).then(|| range(&starts)),
            wake_late_median: late(&wakes),
            wake_late_max: wakes
                .iter()
                .max()
                .map_or(f64::NAN, |w| ms(w - self.planned_ns)),
            start_late_median: (!starts.is_empty()).then(|| late(&starts)),
        }
    }

    /// One progress line.
    pub fn line(&self) -> String {
        let s = self.stats();
        format!(
            "{:>4} {:<28} fired {:>4}/{:<4} wake spread {:>8.2} ms  median late {:>7.2} ms  start spread {}",
            self.hosts,
            self.tool,
            s.fired,
            self.hosts,
            s.wake_spread,
            s.wake_late_median,
            s.start_spread.map_or("–".into(), |v| format!("{v:.2} ms"))
        )
    }
}

/// `(hosts, tool)` keys in first-seen order.
fn keys<'a>(it: impl Iterator<Item = (usize, &'a str)>) -> Vec<(usize, String)> {
    let mut k: Vec<(usize, String)> = Vec::new();
    for (h, t) in it {
        if !k.iter().any(|(kh, kt)| *kh == h && kt == t) {
            k.push((h, t.to_string()));
        }
    }
    k
}

fn arm_table(arms: &[Arm]) -> String {
    let mut t = String::from(
        "| hosts | tool | runs | seconds to armed (median) | cutover arm phase s | pdsh wall / cutover |\n|---:|---|---:|---:|---:|---:|\n",
    );
    for (hosts, tool) in keys(arms.iter().map(|a| (a.hosts, a.tool.as_str()))) {
        let of = |t: &str| -> Vec<&Arm> {
            arms.iter()
                .filter(|a| a.hosts == hosts && a.tool == t)
                .collect()
        };
        let mine = of(&tool);
        let total = median(mine.iter().map(|a| a.total).collect());
        let phase = median(mine.iter().filter_map(|a| a.phase).collect());
        let cut = median(of(crate::CUTOVER_ARM).iter().map(|a| a.total).collect());
        let vs = if tool.starts_with("pdsh") {
            format!("{:.2}x", total / cut)
        } else {
            "–".into()
        };
        let phase = if phase.is_nan() {
            "–".into()
        } else {
            format!("{phase:.2}")
        };
        let _ = writeln!(
            t,
            "| {hosts} | {tool} | {} | {total:.2} | {phase} | {vs} |",
            mine.len()
        );
    }
    t
}

fn fire_table(fires: &[Fire]) -> String {
    let mut t = String::from(
        "| hosts | mechanism | runs | fired | wake spread ms | start spread ms | median wake lateness ms | worst wake lateness ms | median start lateness ms | woke early |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (hosts, tool) in keys(fires.iter().map(|f| (f.hosts, f.tool.as_str()))) {
        let st: Vec<FireStats> = fires
            .iter()
            .filter(|f| f.hosts == hosts && f.tool == tool)
            .map(Fire::stats)
            .collect();
        let m = |f: fn(&FireStats) -> f64| median(st.iter().map(f).collect());
        let opt = |f: fn(&FireStats) -> Option<f64>| {
            let v: Vec<f64> = st.iter().filter_map(f).collect();
            if v.is_empty() {
                "–".to_string()
            } else {
                format!("{:.2}", median(v))
            }
        };
        let _ = writeln!(
            t,
            "| {hosts} | {tool} | {} | {}/{hosts} | {:.2} | {} | {:.2} | {:.2} | {} | {} |",
            st.len(),
            st.iter().map(|s| s.fired).min().unwrap_or(0),
            m(|s| s.wake_spread),
            opt(|s| s.start_spread),
            m(|s| s.wake_late_median),
            m(|s| s.wake_late_max),
            opt(|s| s.start_late_median),
            st.iter().map(|s| s.early).sum::<usize>(),
        );
    }
    let commits: Vec<(usize, &str, f64)> = fires
        .iter()
        .filter_map(|f| f.commit_ms.map(|c| (f.hosts, f.tool.as_str(), c)))
        .collect();
    if !commits.is_empty() {
        t.push_str("\nThe commit round (prepare, then commit: the only window in which a crash could split the fleet), first write sent to last confirmed:\n\n| hosts | mechanism | runs | median ms | worst ms |\n|---:|---|---:|---:|---:|\n");
        for (hosts, tool) in keys(commits.iter().map(|c| (c.0, c.1))) {
            let v: Vec<f64> = commits
                .iter()
                .filter(|c| c.0 == hosts && c.1 == tool)
                .map(|c| c.2)
                .collect();
            let worst = v.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(
                t,
                "| {hosts} | {tool} | {} | {:.1} | {worst:.1} |",
                v.len(),
                median(v.clone())
            );
        }
    }
    t
}

/// The targets, per fleet size, from the medians of the same run.
fn targets(arms: &[Arm], fires: &[Fire]) -> String {
    let mut t = String::from("| target | hosts | measured | met |\n|---|---:|---|---|\n");
    let arm = |h: usize, tool: &str| {
        median(
            arms.iter()
                .filter(|a| a.hosts == h && a.tool == tool)
                .map(|a| a.total)
                .collect(),
        )
    };
    let mut sizes: Vec<usize> = arms.iter().map(|a| a.hosts).collect();
    sizes.dedup();
    for h in sizes {
        let c = arm(h, crate::CUTOVER_ARM);
        let _ = writeln!(
            t,
            "| arming 500 hosts < 30 s | {h} | {c:.2} s | {} |",
            if h == 500 {
                yes(c < 30.0)
            } else {
                "(500 only)"
            }
        );
    }
    let fire = |h: usize, tool: &str, f: fn(&FireStats) -> f64| {
        median(
            fires
                .iter()
                .filter(|x| x.hosts == h && x.tool == tool)
                .map(|x| f(&x.stats()))
                .collect(),
        )
    };
    let mut sizes: Vec<usize> = fires.iter().map(|f| f.hosts).collect();
    sizes.dedup();
    for h in sizes {
        let w = fire(h, crate::WAITER, |s| s.wake_spread);
        let p = fire(h, crate::PERL, |s| s.wake_spread);
        let a = fire(h, crate::PDSH_AT, |s| s.wake_spread);
        let l = fire(h, crate::WAITER, |s| s.wake_late_median);
        let _ = writeln!(
            t,
            "| waiter wake spread ≤ Perl sleep-until's | {h} | {w:.2} vs {p:.2} ms ({:.2}x) | {} |",
            w / p,
            yes(w <= p)
        );
        let _ = writeln!(
            t,
            "| waiter wake spread ≥ 3x better than `at` | {h} | {a:.2} vs {w:.2} ms ({:.1}x) | {} |",
            a / w,
            yes(a >= 3.0 * w)
        );
        let _ = writeln!(
            t,
            "| waiter median wake lateness < 10 ms | {h} | {l:.2} ms | {} |",
            yes(l < 10.0)
        );
        let pa = fire(h, crate::PERL_ACTION, |s| s.wake_spread);
        let _ = writeln!(
            t,
            "| (like for like) waiter wake spread ≤ Perl sleep-until + the same job's | {h} | {w:.2} vs {pa:.2} ms ({:.2}x) | {} |",
            w / pa,
            yes(w <= pa)
        );
    }
    t
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// The generated markdown block: parameters, arming, fire, targets.
pub fn block(header: &str, arms: &[Arm], fires: &[Fire]) -> String {
    format!(
        "{BEGIN}\n{header}\n\n#### Time to arm\n\n{}\n#### Fire spread and lateness\n\n{}\n#### Targets\n\n{}{END}",
        arm_table(arms),
        fire_table(fires),
        targets(arms, fires)
    )
}

/// `doc` with the text between the markers replaced by `block` (appended if no markers).
pub fn splice(doc: &str, block: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &doc[..b], &doc[e + END.len()..]),
        _ => format!("{doc}\n{block}\n"),
    }
}
