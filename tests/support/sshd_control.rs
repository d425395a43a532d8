//! Restarting a host's sshd, from the test (`Host::restart`) or from the host itself
//! (`sshd-stop` / `sshd-start` in its shim dir, as an action restarting sshd would), with the
//! pid file that lets the harness stop an sshd the host started on its own.

use super::Host;

impl Host {
    /// Stops this sshd (and its connections) and starts it again on the same address and key,
    /// as `systemctl restart sshd` would; returns once it accepts connections.
    pub fn restart(&mut self) {
        self.kill_hard();
        self.launch();
        self.wait_ready();
    }

    /// Writes `sshd-stop` and `sshd-start` into the shim dir: the host's own way to stop its
    /// sshd with every connection, and to start it again (daemonized, as a service manager
    /// would). An sshd started this way is found through the pid file and stopped on drop.
    pub fn install_sshd_control(&self) {
        let stop = format!(
            "#!/bin/sh\n# Stops this host's sshd and every connection it serves.\n\
             p=$(cat {pidfile} 2>/dev/null) || exit 0\n\
             all=\"$p\"; new=\"$p\"\n\
             while [ -n \"$new\" ]; do\n\
               new=$(ps -e -o pid=,ppid= | awk -v s=\" $new \" 'index(s, \" \" $2 \" \") {{print $1}}' | tr '\\n' ' ')\n\
               all=\"$all $new\"\n\
             done\n\
             kill -KILL $all 2>/dev/null\n\
             rm -f {pidfile}\n",
            pidfile = self.pidfile.display()
        );
        self.shim("sshd-stop", &stop);
        let start = format!(
            "#!/bin/sh\nexec {} -f {} -E {}\n",
            super::SSHD,
            self.dir.join("sshd_config").display(),
            self.log.display()
        );
        self.shim("sshd-start", &start);
    }

    /// The pid in the pid file, if that process is an sshd of this host (started by the host
    /// itself, e.g. through `sshd-start`).
    pub(super) fn daemon_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(&self.pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let config = self.dir.join("sshd_config");
        String::from_utf8_lossy(&cmdline)
            .contains(&*config.to_string_lossy())
            .then_some(pid)
    }
}
