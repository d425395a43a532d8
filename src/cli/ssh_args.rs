//! How the operator reaches hosts, given on the command line of `run`, `resume` and `exec`:
//! keys, known_hosts, ssh config, user and bastion. None of it is part of the plan's digest, so
//! one reviewed plan runs on staging and production with each environment's credentials.
//!
//! Precedence, highest first: command line, inventory (a host's own `user`, non-default
//! `port`), plan `[ssh]`, ssh config.

use super::load::relative_to;
use crate::fleet;
use crate::plan::model::Plan;
use crate::transport::{SshConfigSource, SshSettings};
use std::path::{Path, PathBuf};

/// SSH options shared by the commands that reach hosts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SshArgs {
    /// Identity file to offer (repeatable); replaces the plan's `[ssh] identities`; the ssh
    /// config's IdentityFile keys are still offered after it.
    #[arg(long = "identity", short = 'k', value_name = "FILE")]
    pub identities: Vec<PathBuf>,
    /// known_hosts file to trust (repeatable); replaces the plan's and ssh's own files.
    #[arg(long = "known-hosts", value_name = "FILE")]
    pub known_hosts: Vec<PathBuf>,
    /// Resolve hosts through this ssh config file instead of ~/.ssh/config and /etc/ssh/ssh_config.
    #[arg(long, value_name = "FILE", conflicts_with = "no_ssh_config")]
    pub ssh_config: Option<PathBuf>,
    /// Ignore the ssh config: connect to inventory addresses, ports and users as written.
    #[arg(long)]
    pub no_ssh_config: bool,
    /// Remote user where the inventory names none (overrides the plan and the ssh config).
    #[arg(long, short = 'l', value_name = "USER")]
    pub user: Option<String>,
    /// Bastions to tunnel every connection through, as `ssh -J`: `[user@]host[:port]`, comma
    /// separated; each hop is resolved through the ssh config (overrides the plan and config).
    #[arg(long, short = 'J', value_name = "HOPS")]
    pub proxy_jump: Option<String>,
}

impl SshArgs {
    /// Which ssh config to read.
    pub fn config_source(&self) -> SshConfigSource {
        match (&self.ssh_config, self.no_ssh_config) {
            (_, true) => SshConfigSource::Off,
            (Some(path), false) => SshConfigSource::File(path.clone()),
            (None, false) => SshConfigSource::Default,
        }
    }

    /// The plan's `[ssh]` settings with these options laid over them.
    pub fn settings_for_plan(&self, plan: &Plan, plan_path: &Path) -> SshSettings {
        let home = fleet::account_home();
        let plan_ids: Vec<PathBuf> = plan
            .ssh
            .identities
            .iter()
            .map(|i| crate::transport::ssh_config::expand(i, &home))
            .collect();
        let plan_known: Vec<PathBuf> = plan
            .ssh
            .known_hosts
            .iter()
            .map(|k| relative_to(plan_path, k))
            .collect();
        let base = SshSettings {
            use_agent: plan.ssh.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some(),
            connect_timeout: plan.ssh.connect_timeout,
            keepalive: plan.ssh.keepalive,
            connect_rate: plan.execution.connect_rate,
            connect_burst: plan.execution.connect_burst,
            ..SshSettings::default()
        };
        self.over(
            base,
            plan_ids,
            plan_known,
            plan.ssh.user.clone(),
            plan.ssh.proxy_jump.clone(),
        )
    }

    /// `base` with identities, known_hosts, user and bastion chosen by precedence: these
    /// options, else the plan's values given here, else ssh's own (config or defaults).
    pub fn over(
        &self,
        base: SshSettings,
        identities: Vec<PathBuf>,
        known_hosts: Vec<PathBuf>,
        user: Option<String>,
        proxy_jump: Option<String>,
    ) -> SshSettings {
        let ssh_config = self.config_source();
        let identities = match (&self.identities[..], identities) {
            ([], ids) if ids.is_empty() && ssh_config == SshConfigSource::Off => {
                fleet::default_identities()
            }
            ([], ids) => ids,
            (given, _) => given.to_vec(),
        };
        let (known_hosts, ssh_known_hosts) = match &self.known_hosts[..] {
            [] => (known_hosts, true),
            given => (given.to_vec(), false),
        };
        SshSettings {
            identities,
            known_hosts,
            ssh_known_hosts,
            user: self.user.clone().or(user),
            force_proxy_jump: self.proxy_jump.is_some(),
            proxy_jump: self.proxy_jump.clone().or(proxy_jump),
            ssh_config,
            ..base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_over_the_plan_and_known_hosts_given_replace_ssh_s_own() {
        let args = SshArgs {
            identities: vec!["/staging/key".into()],
            known_hosts: vec!["/staging/known_hosts".into()],
            user: Some("stage".into()),
            ..SshArgs::default()
        };
        let s = args.over(
            SshSettings::default(),
            vec!["/prod/key".into()],
            vec!["/prod/known_hosts".into()],
            Some("prod".into()),
            Some("bastion".into()),
        );
        assert_eq!(s.identities, [PathBuf::from("/staging/key")]);
        assert_eq!(s.known_hosts, [PathBuf::from("/staging/known_hosts")]);
        assert!(!s.ssh_known_hosts);
        assert_eq!(s.user.as_deref(), Some("stage"));
        assert_eq!(
            s.proxy_jump.as_deref(),
            Some("bastion"),
            "the plan's bastion stays"
        );
        assert_eq!(s.ssh_config, SshConfigSource::Default);
    }

    #[test]
    fn without_options_the_plan_s_values_stand_and_ssh_s_known_hosts_join_them() {
        let s = SshArgs::default().over(
            SshSettings::default(),
            vec!["/prod/key".into()],
            vec!["/prod/known_hosts".into()],
            None,
            None,
        );
        assert_eq!(s.identities, [PathBuf::from("/prod/key")]);
        assert!(s.ssh_known_hosts);
        let off = SshArgs {
            no_ssh_config: true,
            ..SshArgs::default()
        };
        assert_eq!(off.config_source(), SshConfigSource::Off);
    }
}
