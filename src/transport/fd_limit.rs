//! The open-file limit sized for the fleet: raised at start, and said once when it cannot be.
//!
//! Each host holds one TCP socket for its pooled connection, and a handshake in flight may
//! hold an agent socket too; a 2,000-host run under the usual soft limit of 1024 failed every
//! host past the thousandth with "Too many open files". The soft limit can be raised up to the
//! hard one without privileges, so cutover does that for what the fleet needs.

use std::sync::Once;

/// Descriptors the process needs besides the hosts: stdio, the journal, the runtime's
/// epoll and wake-up pipes, etcd and HTTP probe clients, the known_hosts and key reads.
pub const MARGIN: u64 = 256;

/// Open files wanted and needed: the soft limit is raised towards `want`, and the warning
/// is given only below `must`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Enough for comfort: two per host (a socket, and room for the pipes and agent sockets
    /// of whatever is in flight) plus the margin.
    pub want: u64,
    /// Below this, hosts fail with "Too many open files".
    pub must: u64,
}

impl Need {
    /// An orchestrator of `hosts` pooled connections with `in_flight` handshakes at once
    /// (each may hold an agent socket besides its own).
    pub fn fleet(hosts: usize, in_flight: u32) -> Self {
        let hosts = hosts as u64;
        Need {
            want: hosts.saturating_mul(2).saturating_add(MARGIN),
            must: hosts
                .saturating_add(u64::from(in_flight))
                .saturating_add(MARGIN),
        }
    }

    /// The lab's embedded server: a listening socket and a client connection per host.
    pub fn lab_server(hosts: usize) -> Self {
        let must = (hosts as u64).saturating_mul(2).saturating_add(MARGIN);
        Need {
            want: must.saturating_add(hosts as u64),
            must,
        }
    }
}

/// What raising the limit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdLimit {
    /// The soft limit already covered the fleet.
    Enough {
        /// The soft limit.
        soft: u64,
    },
    /// The soft limit was raised.
    Raised {
        /// The soft limit before.
        from: u64,
        /// The soft limit now.
        to: u64,
    },
    /// The limit (raised as far as allowed) is below what the fleet needs.
    Short {
        /// The soft limit now.
        limit: u64,
        /// What the fleet needs.
        needed: u64,
    },
}

/// The soft limit to set for `want` under `soft` and `hard`, or `None` to leave it.
pub fn target(soft: u64, hard: u64, want: u64) -> Option<u64> {
    (soft < want && soft < hard).then(|| want.min(hard))
}

impl FdLimit {
    /// The one-line warning to show, when the limit is short.
    pub fn warning(&self) -> Option<String> {
        match self {
            FdLimit::Short { limit, needed } => Some(format!(
                "open-file limit {limit} is below the {needed} this fleet needs; \
                 raise it with `ulimit -n {needed}` (and the hard limit in limits.conf or \
                 systemd's LimitNOFILE) or hosts past the limit fail with \"Too many open files\""
            )),
            _ => None,
        }
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` towards `need.want`, up to the hard limit.
/// When the limit cannot be read, nothing is said: the connections will tell.
pub fn raise(need: Need) -> FdLimit {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return FdLimit::Enough { soft: u64::MAX };
    };
    let Some(to) = target(soft, hard, need.want) else {
        return short_or_enough(soft, need.must);
    };
    match setrlimit(Resource::RLIMIT_NOFILE, to, hard) {
        Ok(()) if to >= need.must => FdLimit::Raised { from: soft, to },
        Ok(()) => short_or_enough(to, need.must),
        Err(_) => short_or_enough(soft, need.must),
    }
}

fn short_or_enough(limit: u64, needed: u64) -> FdLimit {
    if limit >= needed {
        FdLimit::Enough { soft: limit }
    } else {
        FdLimit::Short { limit, needed }
    }
}

/// [`raise`], printing its warning on stderr at most once per process.
pub fn raise_and_warn(need: Need) -> FdLimit {
    static WARNED: Once = Once::new();
    let outcome = raise(need);
    if let Some(text) = outcome.warning() {
        WARNED.call_once(|| eprintln!("cutover: warning: {text}"));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_wants_two_per_host_and_needs_one_plus_the_handshakes_in_flight() {
        let need = Need::fleet(10_000, 64);
        assert_eq!(need.want, 20_000 + MARGIN);
        assert_eq!(need.must, 10_064 + MARGIN);
        assert_eq!(Need::lab_server(10_000).must, 20_000 + MARGIN);
        assert_eq!(Need::fleet(0, 5).must, 5 + MARGIN);
    }

    #[test]
    fn the_soft_limit_rises_to_the_need_but_never_past_the_hard_limit() {
        assert_eq!(target(1024, 1_048_576, 20_256), Some(20_256));
        assert_eq!(target(1024, 4096, 20_256), Some(4096));
        assert_eq!(target(65_536, 1_048_576, 20_256), None);
        assert_eq!(target(4096, 4096, 20_256), None);
    }

    #[test]
    fn a_short_limit_says_what_is_needed_and_how_to_raise_it() {
        let text = FdLimit::Short {
            limit: 1024,
            needed: 4256,
        }
        .warning()
        .unwrap();
        assert!(text.starts_with("open-file limit 1024 is below the 4256 this fleet needs"));
        assert!(text.contains("ulimit -n"));
        assert_eq!(FdLimit::Enough { soft: 9 }.warning(), None);
    }

    #[test]
    fn raising_for_a_small_fleet_is_enough_on_any_sane_machine() {
        assert!(matches!(
            raise(Need::fleet(10, 5)),
            FdLimit::Enough { .. } | FdLimit::Raised { .. }
        ));
    }
}
