//! A throwaway local account for tests that must run cutover as a non-root operator: its home
//! (from the password database) is a fresh world-traversable temp dir; dropping it deletes the
//! account (`userdel`) and the home, even on panic.

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A local account made with `useradd`, removed on drop.
pub struct Account {
    /// Login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home directory, as the password database has it.
    pub home: PathBuf,
    _dir: tempfile::TempDir,
}

impl Account {
    /// Creates `cutover-<tag>-<pid>` with a home under a new temp dir (needs root).
    pub fn create(tag: &str) -> Account {
        static MADE: AtomicU32 = AtomicU32::new(0);
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let name = format!("cutover-{tag}-{}-{n}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix("cutover-account-")
            .tempdir()
            .expect("temp dir");
        set_mode(dir.path(), 0o755);
        let home = dir.path().join(&name);
        let mut tries = 0;
        loop {
            let status = Command::new("useradd")
                // `*`: no password, yet not locked (sshd refuses locked accounts without PAM).
                .args(["-m", "-p", "*", "-s", "/bin/sh", "-d"])
                .arg(&home)
                .arg(&name)
                .status()
                .expect("run useradd (apt-get install passwd; tests run as root)");
            if status.success() {
                break;
            }
            tries += 1;
            // useradd fails while another holds the passwd lock.
            assert!(tries < 20, "useradd {name} failed: {status}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let user = nix::unistd::User::from_name(&name)
            .expect("getpwnam")
            .expect("the new account");
        Account {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home,
            _dir: dir,
        }
    }

    /// Writes `rel` under the home (parents made), owned by the account with `mode`.
    pub fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.home.join(rel);
        let mut dir = path.parent().expect("parent");
        let mut made = Vec::new();
        while !dir.exists() {
            made.push(dir.to_path_buf());
            dir = dir.parent().expect("parent");
        }
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        for d in made {
            self.own(&d, 0o700);
        }
        std::fs::write(&path, text).expect("write");
        self.own(&path, mode);
        path
    }

    /// Gives `path` to the account with `mode`.
    pub fn own(&self, path: &Path, mode: u32) {
        chown(path, Some(self.uid), Some(self.gid)).expect("chown");
        set_mode(path, mode);
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg("-f").arg(&self.name).status();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
