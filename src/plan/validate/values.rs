//! Parsers for single plan values (durations, sizes, budgets, modes); each error says what's expected.

use crate::plan::model::{Budget, KeyFormat, Mechanism, QuorumSource};
use crate::plan::raw::{RawBudget, RawTargets};
use std::time::Duration;

/// `"90s"`, `"2m"`, `"500ms"`: humantime syntax.
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. \"30s\", \"2m\", \"500ms\"")
    })
}

/// `"64KiB"`, `"1MB"`, `"4096"`.
pub fn size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| format!("`{text}` is not a size; write e.g. \"64KiB\" or \"1MiB\""))
}

/// A count (`2`, `"2"`) or a whole percentage (`"5%"`, 0 to 100).
pub fn budget(raw: &RawBudget) -> Result<Budget, String> {
    match raw {
        RawBudget::Count(n) => usize::try_from(*n)
            .map(Budget::Count)
            .map_err(|_| format!("failure budget {n} is negative: use 0 or more")),
        RawBudget::Text(t) => t.trim().parse::<Budget>().map_err(|e| e.to_string()),
    }
}

/// Targets as written into a list of selector strings (default `all`).
pub fn targets(raw: Option<&RawTargets>) -> Vec<String> {
    match raw {
        None => vec!["all".to_string()],
        Some(RawTargets::One(s)) => vec![s.clone()],
        Some(RawTargets::Many(v)) => v.clone(),
    }
}

/// `systemd`, `at`, `waiter`, `auto`.
pub fn mechanism(text: &str) -> Result<Mechanism, String> {
    match text {
        "systemd" => Ok(Mechanism::Systemd),
        "at" => Ok(Mechanism::At),
        "waiter" => Ok(Mechanism::Waiter),
        "auto" => Ok(Mechanism::Auto),
        _ => Err(unknown(
            "mechanism",
            text,
            &["systemd", "at", "waiter", "auto"],
        )),
    }
}

/// `json`, `toml`, `ini`.
pub fn key_format(text: &str) -> Result<KeyFormat, String> {
    match text {
        "json" => Ok(KeyFormat::Json),
        "toml" => Ok(KeyFormat::Toml),
        "ini" => Ok(KeyFormat::Ini),
        _ => Err(unknown("format", text, &["json", "toml", "ini"])),
    }
}

/// `etcd`, `consul`, `command`.
pub fn quorum_source(text: &str) -> Result<QuorumSource, String> {
    match text {
        "etcd" => Ok(QuorumSource::Etcd),
        "consul" => Ok(QuorumSource::Consul),
        "command" => Ok(QuorumSource::Command),
        _ => Err(unknown(
            "quorum source",
            text,
            &["etcd", "consul", "command"],
        )),
    }
}

/// "unknown WHAT `text`", with "did you mean" when one of `known` is close, and the list.
pub fn unknown(what: &str, text: &str, known: &[&str]) -> String {
    let list = match known {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    match crate::plan::diagnostic::did_you_mean(text, known.iter().copied()) {
        Some(k) => format!("unknown {what} `{text}`: did you mean `{k}`? (use {list})"),
        None => format!("unknown {what} `{text}`: use {list}"),
    }
}

/// A regular expression that compiles.
pub fn regex(text: &str) -> Result<String, String> {
    regex::Regex::new(text)
        .map(|_| text.to_string())
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            format!(
                "invalid regular expression `{text}`: {}",
                last.trim_start_matches("error: ")
            )
        })
}

/// An octal file mode such as `"0644"`.
pub fn mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("`{text}` is not an octal file mode like \"0644\""))
}

/// An absolute path on a host, or one starting with a host variable or field
/// (`{{ vars.root }}/etc/x`), whose rendered value the staging step checks is absolute.
pub fn abs_path(text: &str) -> Result<String, String> {
    let inner = text.strip_prefix("{{").map(str::trim_start).unwrap_or("");
    let templated = inner.starts_with("vars.") || inner.starts_with("host.");
    if (text.starts_with('/') || templated) && !text.contains('\0') {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` must be an absolute path on the host"))
    }
}

/// A percentage written as `"90%"`, as a fraction.
pub fn fraction(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .trim()
        .strip_suffix('%')
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("`{text}` is not a percentage like \"90%\""))?;
    if (0.0..=100.0).contains(&p) {
        Ok(p / 100.0)
    } else {
        Err(format!("{text} is out of range: use 0% to 100%"))
    }
}

/// A TCP port.
pub fn port(n: i64) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{n} is not a TCP port (1-65535)"))
}

/// A word for an operator gate: non-empty, no spaces.
pub fn gate(text: &str) -> Result<String, String> {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(text.to_string())
    } else {
        Err(format!(
            "gate `{text}` must be one word (letters, digits, - or _) for the operator to type"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_suggest_the_closest_known_one() {
        assert_eq!(
            mechanism("sytemd").unwrap_err(),
            "unknown mechanism `sytemd`: did you mean `systemd`? (use systemd, at, waiter or auto)"
        );
        assert_eq!(
            quorum_source("zookeeper").unwrap_err(),
            "unknown quorum source `zookeeper`: use etcd, consul or command"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(duration("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64KiB").unwrap(), 65536);
        assert_eq!(size("4096").unwrap(), 4096);
        assert!(size("lots").is_err());
    }

    #[test]
    fn budgets() {
        assert_eq!(budget(&RawBudget::Count(3)).unwrap(), Budget::Count(3));
        assert_eq!(
            budget(&RawBudget::Text("5%".into())).unwrap(),
            Budget::Percent(5)
        );
        assert_eq!(
            budget(&RawBudget::Text("2".into())).unwrap(),
            Budget::Count(2)
        );
        assert!(
            budget(&RawBudget::Text("150%".into()))
                .unwrap_err()
                .contains("over 100%")
        );
        assert!(
            budget(&RawBudget::Count(-1))
                .unwrap_err()
                .contains("negative")
        );
        assert_eq!(Budget::Percent(5).allowed(255), 12);
        assert_eq!(Budget::Percent(0).allowed(255), 0);
        assert_eq!(Budget::Percent(100).allowed(7), 7);
    }

    #[test]
    fn small_values() {
        assert_eq!(mode("0644").unwrap(), 0o644);
        assert!(mode("0999").is_err());
        assert!(abs_path("etc/x").is_err());
        assert_eq!(fraction("90%").unwrap(), 0.9);
        assert!(port(0).is_err());
        assert!(gate("arm now").is_err());
        assert!(regex("(").is_err());
        assert_eq!(targets(None), vec!["all"]);
    }
}
