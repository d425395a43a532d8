//! The process groups a command spread into, read from `/proc`, so a kill reaches them all.
//!
//! A command runs in its own process group, but tools inside it may make groups of their
//! own (GNU `timeout` does `setpgid(0, 0)`), and killing only the first group would leave
//! those running. Descendants that left this server's session (`setsid`, the way the waiter
//! arming mechanism detaches) are not touched: they survive, as they would under sshd.

use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};

/// One line of `/proc/PID/stat`, the fields that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    pgrp: i32,
    session: i32,
}

/// The process groups to kill for a command led by `leader` in group `pgid`: its own and
/// those of every descendant still in this process's session.
pub(super) fn groups_of(leader: Pid, pgid: Pid) -> HashSet<Pid> {
    let procs = read_all();
    let session = nix::unistd::getsid(None).map(Pid::as_raw).unwrap_or(-1);
    let mut groups = HashSet::from([pgid]);
    for pid in descendants(&procs, leader.as_raw()) {
        if let Some(s) = procs.get(&pid).filter(|s| s.session == session) {
            groups.insert(Pid::from_raw(s.pgrp));
        }
    }
    groups
}

/// Every descendant of `root` (children, their children, ...).
fn descendants(procs: &HashMap<i32, Stat>, root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, stat) in procs {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            out.push(child);
            todo.push(child);
        }
    }
    out
}

/// Every process's parent, group and session, from `/proc` (unreadable entries skipped).
fn read_all() -> HashMap<i32, Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&text)?))
        })
        .collect()
}

/// Parses `/proc/PID/stat`; the command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(1);
    let mut next = || fields.next()?.parse::<i32>().ok();
    Some(Stat {
        ppid: next()?,
        pgrp: next()?,
        session: next()?,
    })
}

#[cfg(test)]
mod tests {
    use super::{Stat, descendants, parse_stat};
    use std::collections::HashMap;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "4242 (odd) name) S 17 4242 99 0 -1 4194560 110 0 0 0";
        let stat = parse_stat(text).unwrap();
        assert_eq!(
            stat,
            Stat {
                ppid: 17,
                pgrp: 4242,
                session: 99
            }
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_follow_parents_down_the_tree() {
        let stat = |ppid| Stat {
            ppid,
            pgrp: 0,
            session: 0,
        };
        let procs = HashMap::from([(10, stat(1)), (11, stat(10)), (12, stat(11)), (20, stat(1))]);
        let mut found = descendants(&procs, 10);
        found.sort();
        assert_eq!(found, vec![11, 12]);
    }
}
