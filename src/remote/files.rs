//! Reading and atomically replacing a file on a host, as shell scripts plus a pure output parser.
//!
//! The write never leaves a half-written file: content goes to a temporary file beside the
//! target (same filesystem), is checksummed, fsynced, given the original owner and mode, and
//! renamed over the target; the directory is fsynced after. The original is kept as
//! `PATH.cutover-bak`: a run's first write of a file replaces any older backup (so the backup
//! is what this run found, which `cutover rollback` restores), later writes keep it. The
//! write refuses to run if the file changed since it was read.

use super::quote;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Largest file cutover edits in place: config files, not data.
pub const MAX_EDIT_BYTES: u64 = 4 * 1024 * 1024;

/// Exit code of the write script when the file changed since it was read.
pub const EXIT_CHANGED: u32 = 3;

/// A host's file as read: metadata, checksum and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Octal mode bits, e.g. `0o644`.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// The script that prints a file's mode, owner, checksum and base64 content (or `MISSING`).
pub fn read_script(path: &str) -> String {
    format!(
        "p={p}\nif [ ! -e \"$p\" ]; then echo MISSING; exit 0; fi\nsize=$(stat -c %s -- \"$p\")\nif [ \"$size\" -gt {max} ]; then echo \"TOOBIG $size\"; exit 0; fi\nstat -c '%a %u %g' -- \"$p\"\nsha256sum -- \"$p\" | cut -d' ' -f1\nbase64 -w0 -- \"$p\"\necho\n",
        p = quote(path),
        max = MAX_EDIT_BYTES
    )
}

/// What `read_script` printed, parsed.
pub fn parse_read(stdout: &str) -> Result<Option<RemoteFile>, String> {
    let mut lines = stdout.lines();
    let first = lines.next().ok_or("no output from the read script")?;
    if first == "MISSING" {
        return Ok(None);
    }
    if let Some(size) = first.strip_prefix("TOOBIG ") {
        return Err(format!(
            "file is {size} bytes; cutover edits files up to {MAX_EDIT_BYTES} bytes"
        ));
    }
    let meta: Vec<&str> = first.split_whitespace().collect();
    let [mode, uid, gid] = meta[..] else {
        return Err(format!("unexpected stat output `{first}`"));
    };
    let num = |s: &str, radix| {
        u32::from_str_radix(s, radix).map_err(|_| format!("unexpected stat output `{first}`"))
    };
    let sha256 = lines.next().ok_or("missing checksum")?.trim().to_string();
    let b64 = lines.next().unwrap_or("").trim();
    let content = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("bad base64 content: {e}"))?;
    if sha256_hex(&content) != sha256 {
        return Err("content does not match its checksum (truncated output?)".into());
    }
    Ok(Some(RemoteFile {
        mode: num(mode, 8)?,
        uid: num(uid, 10)?,
        gid: num(gid, 10)?,
        sha256,
        content,
    }))
}

/// sha256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a write does with `PATH.cutover-bak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backup {
    /// Keep a backup already there (a later write of the file in the same run).
    KeepFirst,
    /// Replace any backup with the file as it is now (the run's first write of it).
    Fresh,
}

/// The script that atomically replaces `path` with `content`, keeping the first backup.
///
/// `expect_sha` is the checksum read before the edit was computed (`None`: the file must not
/// exist). `new_mode` applies to new files and to uploads; edits keep the existing mode.
pub fn write_script(
    path: &str,
    content: &[u8],
    expect_sha: Option<&str>,
    new_mode: Option<u32>,
) -> String {
    write_script_with(path, content, expect_sha, new_mode, Backup::KeepFirst)
}

/// [`write_script`], saying what happens to an existing backup.
pub fn write_script_with(
    path: &str,
    content: &[u8],
    expect_sha: Option<&str>,
    new_mode: Option<u32>,
    backup: Backup,
) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(content);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let sha = sha256_hex(content);
    let guard = match expect_sha {
        Some(old) => format!(
            "echo '{old}  '\"$p\" | sha256sum -c --status || {{ echo 'cutover: file changed since it was read' >&2; exit {EXIT_CHANGED}; }}"
        ),
        None => format!(
            "if [ -e \"$p\" ]; then echo 'cutover: file appeared since it was read' >&2; exit {EXIT_CHANGED}; fi"
        ),
    };
    let perms = match (expect_sha, new_mode) {
        (_, Some(m)) => format!(
            "chmod {m:04o} \"$t\"{}",
            if expect_sha.is_some() {
                "\nchown --reference=\"$p\" \"$t\""
            } else {
                ""
            }
        ),
        (Some(_), None) => {
            "chown --reference=\"$p\" \"$t\"\nchmod --reference=\"$p\" \"$t\"".to_string()
        }
        (None, None) => "chmod 0644 \"$t\"".to_string(),
    };
    format!(
        "set -eu\np={p}\nt=\"$p.cutover-tmp.$$\"\ntrap 'rm -f \"$t\"' EXIT\n{guard}\nbase64 -d > \"$t\" <<'CUTOVER_EOF'\n{data}\nCUTOVER_EOF\necho '{sha}  '\"$t\" | sha256sum -c --status || {{ echo 'cutover: written content does not match its checksum' >&2; exit 1; }}\n{perms}\nsync \"$t\"\nif [ -e \"$p\" ]{keep}; then cp -p \"$p\" \"$p.cutover-bak.$$\" && mv -f \"$p.cutover-bak.$$\" \"$p.cutover-bak\"; fi\nmv -f \"$t\" \"$p\"\ntrap - EXIT\nsync \"$(dirname \"$p\")\" 2>/dev/null || true\nsha256sum -- \"$p\" | cut -d' ' -f1\n",
        p = quote(path),
        data = wrapped.join("\n"),
        keep = match backup {
            Backup::KeepFirst => " && [ ! -e \"$p.cutover-bak\" ]",
            Backup::Fresh => "",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_read() {
        let content = b"{\"verify\": true}\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        let out = format!("644 0 0\n{}\n{b64}\n", sha256_hex(content));
        let f = parse_read(&out).unwrap().unwrap();
        assert_eq!((f.mode, f.uid, f.gid), (0o644, 0, 0));
        assert_eq!(f.content, content);
    }

    #[test]
    fn missing_too_big_and_truncated_reads() {
        assert_eq!(parse_read("MISSING\n").unwrap(), None);
        assert!(
            parse_read("TOOBIG 999999999\n")
                .unwrap_err()
                .contains("up to")
        );
        let out = format!("644 0 0\n{}\nAAAA\n", sha256_hex(b"something else"));
        assert!(parse_read(&out).unwrap_err().contains("checksum"));
    }

    #[test]
    fn paths_are_quoted_in_scripts() {
        let s = write_script("/tmp/a b; rm -rf /", b"x", None, None);
        assert!(s.contains("p='/tmp/a b; rm -rf /'"), "{s}");
        assert!(read_script("/x$(id)").contains("p='/x$(id)'"));
    }
}
