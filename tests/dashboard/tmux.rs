//! A private tmux server (its own `-L` socket) running one command in a fixed-size window:
//! keys in, screen out; killed by its socket (and its pid, if need be) when dropped.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// One tmux server with one session.
pub struct Tmux {
    socket: String,
    pid: Option<u32>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Tmux {
    /// Starts `argv` (with `env` set) in a detached `width`x`height` session. The shell prints
    /// `CUTOVER-EXIT=<code>` when the command ends and keeps the pane open.
    pub fn start(width: u16, height: u16, env: &[(&str, &str)], argv: &[String]) -> Self {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is missing: apt-get install tmux"
        );
        let socket = format!(
            "cutover-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let quoted: Vec<String> = argv
            .iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect();
        let script = format!(
            "env {} {}; echo CUTOVER-EXIT=$?; sleep 600",
            vars.join(" "),
            quoted.join(" ")
        );
        let mut t = Tmux { socket, pid: None };
        let (w, h) = (width.to_string(), height.to_string());
        t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "-s",
            "main",
            "sh",
            "-c",
            &script,
        ]);
        t.pid = t
            .tmux(&["display-message", "-p", "#{pid}"])
            .trim()
            .parse()
            .ok();
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys as tmux names them (`a`, `y`, `Enter`, `C-c`).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "main", k]);
        }
    }

    /// The visible screen, as text.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "main"])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}
