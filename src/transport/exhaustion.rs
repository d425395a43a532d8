//! Errors that are about this machine, not the host: out of file descriptors, memory or ports.
//!
//! When the orchestrator runs out of descriptors, every host after the limit fails the same
//! way; naming the host and its address in each message (and telling the operator to check
//! the host's firewall) would print one group per host for one local cause. These errors
//! carry a [`Exhausted`] kind instead, whose message names no host, so folds key on it.

use std::fmt;

/// A resource of the orchestrator's machine that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exhausted {
    /// `EMFILE`: this process hit its open-file limit (`ulimit -n`).
    ProcessFiles,
    /// `ENFILE`: the whole system hit its open-file limit (`fs.file-max`).
    SystemFiles,
    /// `ENOMEM` / `ENOBUFS`: the kernel could not allocate memory or socket buffers.
    Memory,
    /// `EADDRNOTAVAIL` on connect: no free local port for another connection.
    LocalPorts,
}

impl Exhausted {
    /// The kind behind an OS error, or `None` when the error may be the host's.
    pub fn of(error: &std::io::Error) -> Option<Self> {
        match error.raw_os_error()? {
            libc::EMFILE => Some(Self::ProcessFiles),
            libc::ENFILE => Some(Self::SystemFiles),
            libc::ENOMEM | libc::ENOBUFS => Some(Self::Memory),
            libc::EADDRNOTAVAIL => Some(Self::LocalPorts),
            _ => None,
        }
    }
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ProcessFiles => {
                "this machine ran out of open files for cutover (EMFILE, too many open files); \
                 raise the limit with `ulimit -n` (cutover raises its soft limit up to the hard one) \
                 or lower the fan-out"
            }
            Self::SystemFiles => {
                "this machine ran out of open files system-wide (ENFILE); raise `fs.file-max` \
                 or lower the fan-out"
            }
            Self::Memory => {
                "this machine ran out of memory or socket buffers (ENOMEM/ENOBUFS); lower the \
                 fan-out or free memory"
            }
            Self::LocalPorts => {
                "this machine ran out of local ports (EADDRNOTAVAIL); widen \
                 `net.ipv4.ip_local_port_range` or lower the fan-out"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Exhausted;
    use std::io::Error;

    #[test]
    fn only_local_resource_errors_are_the_orchestrators() {
        let of = |code| Exhausted::of(&Error::from_raw_os_error(code));
        assert_eq!(of(libc::EMFILE), Some(Exhausted::ProcessFiles));
        assert_eq!(of(libc::ENFILE), Some(Exhausted::SystemFiles));
        assert_eq!(of(libc::ENOMEM), Some(Exhausted::Memory));
        assert_eq!(of(libc::EADDRNOTAVAIL), Some(Exhausted::LocalPorts));
        assert_eq!(of(libc::ECONNREFUSED), None);
        assert_eq!(of(libc::EHOSTUNREACH), None);
        assert_eq!(Exhausted::of(&Error::other("no code")), None);
    }

    #[test]
    fn the_message_names_no_host_and_says_what_to_do() {
        let text = Exhausted::ProcessFiles.to_string();
        assert!(text.contains("ulimit -n"), "{text}");
        assert!(text.contains("Too many open files") || text.contains("too many open files"));
    }
}
