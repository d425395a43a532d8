//! `lab serve`: the embedded backend's process. Serves every reachable lab host with russh
//! until SIGTERM or SIGINT (sent by `lab down`), then shuts the servers down.

use super::LabError;
use super::embedded::{HostSpec, Server};
use super::faults::Fault;
use super::keys;
use super::spec::{LabSpec, server_parts};
use super::state::LabState;
use std::path::Path;

/// The embedded server's host list for a lab: every host without the `unreachable` fault,
/// of the hosts `range` (indexes into the lab's host list: one server process's part).
pub fn host_specs(
    spec: &LabSpec,
    range: std::ops::Range<usize>,
) -> Result<Vec<HostSpec>, LabError> {
    let client = keys::load(&spec.client_key_path())?;
    let mut out = Vec::new();
    let hosts = spec.lab_hosts();
    for h in hosts.get(range).unwrap_or_default() {
        if h.has(|f| *f == Fault::Unreachable) {
            continue;
        }
        let addr = format!("{}:{}", h.addr, h.port)
            .parse()
            .map_err(|_| LabError::Usage(format!("bad lab address {}", h.addr)))?;
        let mut env = h.env(&spec.dir);
        env.push(("USER".into(), user()));
        env.push(("LOGNAME".into(), user()));
        out.push(HostSpec {
            name: h.name.clone(),
            addr,
            host_key: keys::load(&h.root.join("host_key"))?,
            authorized: vec![client.public_key().clone()],
            env,
            cwd: h.root.clone(),
            shell: "/bin/sh".into(),
        });
    }
    Ok(out)
}

fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

/// Serves part `part` of the lab in `dir` (see [`server_parts`]) until a termination signal.
pub fn serve(dir: &Path, part: usize) -> Result<(), LabError> {
    let state = LabState::load(dir)?;
    let Some(&(first, end)) = server_parts(state.spec.hosts).get(part) else {
        return Err(LabError::Usage(format!(
            "the lab in {} has no server part {part}",
            dir.display()
        )));
    };
    let specs = host_specs(&state.spec, first..end)?;
    // One listening socket per host, one per client connection, pipes per running command.
    let need = crate::transport::fd_limit::Need::lab_server(specs.len());
    crate::transport::fd_limit::raise_and_warn(need);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::Start {
            what: "the async runtime".into(),
            reason: e.to_string(),
        })?;
    rt.block_on(async move {
        let server = Server::start(specs).await.map_err(|e| LabError::Start {
            what: "the embedded servers".into(),
            reason: e.to_string(),
        })?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| LabError::Start {
                what: "a SIGTERM handler".into(),
                reason: e.to_string(),
            })?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        server.shutdown().await;
        Ok(())
    })
}
