//! Arming the simultaneous action on a host, disarming it, and reading what it did: pure
//! script generation and output parsing for the `systemd`, `at` and `waiter` mechanisms.
//!
//! Every mechanism runs the same job wrapper (`job::script`), which refuses to fire late,
//! records when it woke and started in nanoseconds, runs the action, and writes a receipt.

pub mod cleanup;
pub mod job;
pub mod mechanism;
pub mod receipt;

/// cutover's directory on a host (unless the host variable `cutover_dir` says otherwise): one
/// directory per run, and the host's ownership lease.
pub const BASE_DIR: &str = "/var/tmp/cutover";

/// Where a run keeps its per-host files: the job wrapper, pid file, receipt and output tail.
pub fn run_dir(run_id: &str) -> String {
    format!("{BASE_DIR}/{run_id}")
}

/// A run id safe in unit names, paths and process listings: `[a-z0-9-]` only.
pub fn safe_run_id(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_safe_everywhere() {
        assert_eq!(
            safe_run_id("20270114T0205Z_consul tls"),
            "20270114t0205z-consul-tls"
        );
        assert_eq!(run_dir("abc"), "/var/tmp/cutover/abc");
    }
}
