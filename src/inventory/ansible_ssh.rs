//! What an Ansible host's SSH variables mean to cutover: `ansible_ssh_private_key_file`,
//! `ansible_ssh_common_args` / `ansible_ssh_extra_args` (`-J`, `-i`, `-o ProxyJump=`,
//! `-o IdentityFile=`, and the usual `-o ProxyCommand="ssh -W %h:%p bastion"` read as a
//! ProxyJump), `ansible_become*`. What cutover cannot honour is noted per host, or refused when
//! ignoring it would connect another way (any other ProxyCommand). Pure.

use super::HostSsh;
use serde_json::{Map, Value};

/// Reads (and removes) the SSH variables of one host.
pub(super) fn read(name: &str, vars: &mut Map<String, Value>) -> Result<HostSsh, String> {
    let mut ssh = HostSsh {
        identity: take(vars, "ansible_ssh_private_key_file")
            .or_else(|| take(vars, "ansible_private_key_file")),
        ..HostSsh::default()
    };
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(args) = take(vars, key) {
            read_args(name, key, &args, &mut ssh)?;
        }
    }
    let become_user = vars.get("ansible_become_user").map(text);
    if let Some(user) = become_user.filter(|u| u != "root") {
        ssh.notes.push(format!(
            "ansible_become_user={user}: cutover's privileged steps run as root through `sudo -n`"
        ));
    }
    let method = vars.get("ansible_become_method").map(text);
    if let Some(method) = method.filter(|m| m != "sudo") {
        ssh.notes.push(format!(
            "ansible_become_method={method}: cutover only uses `sudo -n`"
        ));
    }
    Ok(ssh)
}

/// Applies one `ansible_ssh_*_args` value.
fn read_args(name: &str, key: &str, args: &str, ssh: &mut HostSsh) -> Result<(), String> {
    let words = shlex::split(args).ok_or(format!("host `{name}`: {key} has unbalanced quotes"))?;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.get(..2) {
            Some(f @ ("-J" | "-i" | "-o")) if word.len() > 2 => {
                (f.to_string(), Some(word[2..].to_string()))
            }
            _ => (word.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| words.next());
        match flag.as_str() {
            "-J" => ssh.proxy_jump = value(),
            "-i" => ssh.identity = ssh.identity.take().or(value()),
            "-o" => {
                let option = value().unwrap_or_default();
                read_option(name, key, &option, ssh)?;
            }
            other => ssh.notes.push(format!(
                "{key}: `{other}` is not understood by cutover and was ignored"
            )),
        }
    }
    Ok(())
}

/// Applies one `-o Keyword=value`.
fn read_option(name: &str, key: &str, option: &str, ssh: &mut HostSsh) -> Result<(), String> {
    let (keyword, value) = option
        .split_once('=')
        .or_else(|| option.split_once(' '))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .unwrap_or((option.to_ascii_lowercase(), String::new()));
    match keyword.as_str() {
        "proxyjump" => ssh.proxy_jump = Some(value),
        "identityfile" => ssh.identity = ssh.identity.take().or(Some(value)),
        "proxycommand" => {
            ssh.proxy_jump = Some(jump_of_proxy_command(&value).ok_or(format!(
                "host `{name}`: {key} sets ProxyCommand `{value}`, which cutover cannot run; use `-J bastion` (ProxyJump)"
            ))?);
        }
        "stricthostkeychecking" | "userknownhostsfile" => ssh.notes.push(format!(
            "{key}: `-o {option}` ignored: cutover always checks host keys against its known_hosts"
        )),
        _ => ssh.notes.push(format!(
            "{key}: `-o {option}` is not understood by cutover and was ignored"
        )),
    }
    Ok(())
}

/// `ssh [-q] [-p PORT] [-l USER] -W %h:%p [USER@]HOST` as the ProxyJump `[USER@]HOST[:PORT]`.
fn jump_of_proxy_command(command: &str) -> Option<String> {
    let words = shlex::split(command)?;
    let mut words = words.iter().map(String::as_str);
    if words.next()? != "ssh" {
        return None;
    }
    let (mut host, mut port, mut user, mut forwards) = (None, None, None, false);
    while let Some(w) = words.next() {
        match w {
            "-W" => forwards = words.next()? == "%h:%p",
            "-p" => port = Some(words.next()?),
            "-l" => user = Some(words.next()?),
            "-q" => {}
            w if w.starts_with('-') => return None,
            w if host.is_none() => host = Some(w),
            _ => return None,
        }
    }
    let host = host?;
    if !forwards {
        return None;
    }
    let user = user.map_or(String::new(), |u| format!("{u}@"));
    let port = port.map_or(String::new(), |p| format!(":{p}"));
    Some(format!("{user}{host}{port}"))
}

fn take(vars: &mut Map<String, Value>, key: &str) -> Option<String> {
    vars.remove(key).map(|v| text(&v))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ssh_of(vars: Value) -> Result<HostSsh, String> {
        let Value::Object(mut map) = vars else {
            panic!("object")
        };
        read("web1", &mut map)
    }

    #[test]
    fn keys_and_bastions_in_common_args_are_understood() {
        let ssh = ssh_of(json!({
            "ansible_ssh_private_key_file": "~/.ssh/prod",
            "ansible_ssh_common_args": "-o ProxyJump=ops@bastion:2222 -o StrictHostKeyChecking=no",
        }))
        .unwrap();
        assert_eq!(ssh.identity.as_deref(), Some("~/.ssh/prod"));
        assert_eq!(ssh.proxy_jump.as_deref(), Some("ops@bastion:2222"));
        assert_eq!(ssh.notes.len(), 1, "{:?}", ssh.notes);
        assert!(
            ssh.notes[0].contains("StrictHostKeyChecking"),
            "{:?}",
            ssh.notes
        );
        let ssh = ssh_of(json!({"ansible_ssh_extra_args": "-J bastion -i /k"})).unwrap();
        assert_eq!(
            (ssh.proxy_jump.as_deref(), ssh.identity.as_deref()),
            (Some("bastion"), Some("/k"))
        );
    }

    #[test]
    fn the_usual_proxy_command_is_a_proxy_jump_and_others_are_refused() {
        let ssh = ssh_of(json!({
            "ansible_ssh_common_args": "-o ProxyCommand=\"ssh -W %h:%p -q -p 2222 ops@bastion\"",
        }))
        .unwrap();
        assert_eq!(ssh.proxy_jump.as_deref(), Some("ops@bastion:2222"));
        let e = ssh_of(json!({"ansible_ssh_common_args": "-o ProxyCommand=\"nc -X 5 %h %p\""}))
            .unwrap_err();
        assert!(e.contains("cannot run") && e.contains("web1"), "{e}");
    }

    #[test]
    fn become_users_other_than_root_are_noted() {
        let ssh =
            ssh_of(json!({"ansible_become": true, "ansible_become_user": "postgres"})).unwrap();
        assert!(ssh.notes[0].contains("postgres"), "{:?}", ssh.notes);
        let ssh = ssh_of(json!({"ansible_become": true, "ansible_become_user": "root"})).unwrap();
        assert!(ssh.notes.is_empty());
    }
}
