//! One SSH connection to a lab host: publickey authentication and `exec` channels.

use super::exec;
use super::host::HostShared;
use russh::keys::PublicKey;
use russh::server::{
    Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, ChannelOpenFailure, MethodKind, MethodSet};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

/// Session channels open at once on one connection; sshd's `MaxSessions` default is 10,
/// cutover's client uses 8, so 64 only stops a runaway client.
const MAX_CHANNELS: usize = 64;

/// The state of one connection.
pub(super) struct Conn {
    host: Arc<HostShared>,
    peer: SocketAddr,
    /// Session channels opened but not yet running a command.
    opened: HashMap<ChannelId, Channel<Msg>>,
    /// Channels running a command (for the channel limit).
    running: HashSet<ChannelId>,
}

impl Conn {
    /// A connection from `peer` to `host`.
    pub fn new(host: Arc<HostShared>, peer: SocketAddr) -> Self {
        Self {
            host,
            peer,
            opened: HashMap::new(),
            running: HashSet::new(),
        }
    }

    /// Whether `key` is one of the host's authorized client keys.
    fn authorized(&self, key: &PublicKey) -> Auth {
        if self
            .host
            .authorized
            .iter()
            .any(|k| k.key_data() == key.key_data())
        {
            Auth::Accept
        } else {
            reject()
        }
    }
}

/// Rejection that tells the client publickey is the only method.
fn reject() -> Auth {
    let methods: &[MethodKind] = &[MethodKind::PublicKey];
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(methods)),
        partial_success: false,
    }
}

impl Handler for Conn {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.authorized(offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.authorized(key.public_key))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.opened.len() + self.running.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.opened.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.opened.remove(&channel);
        self.running.remove(&channel);
        Ok(())
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(channel) = self.opened.remove(&id) else {
            return session.channel_failure(id);
        };
        match exec::spawn(&self.host, command) {
            Ok(started) => {
                session.channel_success(id)?;
                self.running.insert(id);
                tokio::spawn(exec::serve(channel, started, session.handle()));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(host = %self.host.name, peer = %self.peer, error = %e,
                    "embedded ssh: cannot start the command");
                self.opened.insert(id, channel);
                session.channel_failure(id)
            }
        }
    }

    async fn shell_request(
        &mut self,
        id: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Interactive shells are not served; drop the channel so nothing buffers on it.
        self.opened.remove(&id);
        session.channel_failure(id)
    }

    async fn subsystem_request(
        &mut self,
        id: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.opened.remove(&id);
        session.channel_failure(id)
    }

    async fn pty_request(
        &mut self,
        id: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Refused, but the channel stays usable: `ssh -t host cmd` goes on to `exec`.
        session.channel_failure(id)
    }

    async fn x11_request(
        &mut self,
        id: ChannelId,
        _single_connection: bool,
        _auth_protocol: &str,
        _auth_cookie: &str,
        _screen: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(id)
    }

    async fn env_request(
        &mut self,
        id: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Like sshd without `AcceptEnv`: the host's environment is fixed.
        session.channel_failure(id)
    }
}
