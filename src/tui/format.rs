//! Text formats shared by the view and plain output: countdown, durations, spread, sparkline.

use crate::arm::receipt::Spread;
use chrono::{DateTime, FixedOffset, Utc};

/// `T-04:12` before the fire time, `T+00:08` after; hours appear when needed (`T-1:04:12`).
pub fn countdown(fire_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (fire_at - now).num_seconds();
    let (sign, s) = if secs > 0 || (secs == 0 && fire_at > now) {
        ('-', secs)
    } else {
        ('+', -secs)
    };
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("T{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("T{sign}{m:02}:{s:02}")
    }
}

/// The fire time in UTC and in the operator's zone, e.g. `02:30:00 UTC (03:30:00 +01:00)`.
pub fn fire_time(fire_at: DateTime<Utc>, local: FixedOffset) -> String {
    let utc = fire_at.format("%H:%M:%S UTC");
    if local.local_minus_utc() == 0 {
        return utc.to_string();
    }
    let l = fire_at.with_timezone(&local);
    format!("{utc} ({} {})", l.format("%H:%M:%S"), l.format("%:z"))
}

/// A signed nanosecond duration for people: `+3.2ms`, `-800µs`, `+1.25s`.
pub fn signed_ns(ns: i64) -> String {
    let sign = if ns < 0 { '-' } else { '+' };
    format!("{sign}{}", ns_abs(ns.unsigned_abs()))
}

/// An unsigned nanosecond duration for people: `12.3ms`, `800µs`, `1.25s`.
pub fn ns_abs(ns: u64) -> String {
    let f = ns as f64;
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.0}µs", f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", f / 1e6),
        _ => format!("{:.2}s", f / 1e9),
    }
}

/// Whole seconds as `4.2s` / `1m05s`, for timers like the leaderless window.
pub fn elapsed(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// One line about the fire spread: how many fired, how tight, how late, how many missing.
pub fn spread_summary(s: &Spread) -> String {
    format!(
        "fire spread: {} fired, {} missing; start spread {}, wake spread {}; lateness median {}, worst {}",
        s.fired.len(),
        s.missing.len(),
        ns_abs(s.start_spread_ns.unsigned_abs()),
        ns_abs(s.wake_spread_ns.unsigned_abs()),
        signed_ns(s.median_late_ns),
        signed_ns(s.max_late_ns),
    )
}

/// A sparkline of the values scaled between their min and max, `width` newest values.
pub fn sparkline(values: impl ExactSizeIterator<Item = f64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let skip = values.len().saturating_sub(width);
    let v: Vec<f64> = values.skip(skip).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = hi - lo;
    v.iter()
        .map(|x| {
            let level = if range > 0.0 {
                (x - lo) / range * 7.0
            } else {
                3.0
            };
            BARS[(level.round() as usize).min(7)]
        })
        .collect()
}

/// A short number for a probe value: `12`, `3.4`, `1.2k`.
pub fn value(v: f64) -> String {
    match v.abs() {
        a if a >= 10_000.0 => format!("{:.1}k", v / 1000.0),
        a if a >= 100.0 || v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

/// Cuts text to `max` characters, ending with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap()
    }

    #[test]
    fn countdown_counts_down_then_up() {
        let fire = at(2, 30, 0);
        assert_eq!(countdown(fire, at(2, 25, 48)), "T-04:12");
        assert_eq!(countdown(fire, at(1, 25, 48)), "T-1:04:12");
        assert_eq!(countdown(fire, fire), "T+00:00");
        assert_eq!(countdown(fire, at(2, 30, 8)), "T+00:08");
    }

    #[test]
    fn fire_time_shows_local_only_when_it_differs() {
        let plus1 = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(
            fire_time(at(2, 30, 0), plus1),
            "02:30:00 UTC (03:30:00 +01:00)"
        );
        let utc = FixedOffset::east_opt(0).unwrap();
        assert_eq!(fire_time(at(2, 30, 0), utc), "02:30:00 UTC");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(signed_ns(3_200_000), "+3.2ms");
        assert_eq!(signed_ns(-800_000), "-800µs");
        assert_eq!(ns_abs(1_250_000_000), "1.25s");
        assert_eq!(elapsed(chrono::Duration::milliseconds(65_000)), "1m05s");
    }

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline([1.0, 8.0, 4.5].into_iter(), 10), "▁█▅");
        assert_eq!(sparkline([5.0, 5.0].into_iter(), 10), "▄▄");
        assert_eq!(sparkline([1.0, 2.0, 3.0].into_iter(), 2), "▁█");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
