//! Taking one quorum reading: etcd and Consul over HTTP from the orchestrator, or a command on
//! a member through `RemoteRunner`. `None` means no endpoint or host gave any answer.

use crate::inventory::Host;
use crate::plan::model::{Quorum, QuorumSource};
use crate::plan::template::Quoting;
use crate::watch::reading::{QuorumReading, parse_command_output};
use crate::watch::remote::RemoteRunner;
use crate::watch::{consul, etcd};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::task::JoinSet;

/// What a poll may use.
pub(super) struct Ctx<'a> {
    pub http: &'a reqwest::Client,
    pub runner: Option<&'a dyn RemoteRunner>,
    pub hosts: &'a [Host],
    pub timeout: Duration,
}

/// An HTTP exchange's result: a body with its status, a definitive failure, or silence.
enum Answer {
    Body(u16, String),
    Refused(String),
    Silent(String),
}

pub(super) async fn poll(ctx: &Ctx<'_>, q: &Quorum, at: DateTime<Utc>) -> Option<QuorumReading> {
    match (q.source, q.endpoints.is_empty()) {
        (QuorumSource::Etcd, false) => etcd_http(ctx.http, &q.endpoints, at).await,
        (QuorumSource::Consul, false) => consul_http(ctx.http, &q.endpoints, at).await,
        (QuorumSource::Etcd, true) => remote(ctx, etcd::ETCDCTL_STATUS, q.source, at).await,
        (QuorumSource::Consul, true) => remote(ctx, consul::LIST_PEERS, q.source, at).await,
        (QuorumSource::Command, _) => {
            remote(ctx, q.run.as_deref().unwrap_or("false"), q.source, at).await
        }
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Answer::Silent(format!("no answer in time ({e})")),
        Err(e) => return Answer::Refused(error_chain(&e)),
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(body) => Answer::Body(status, body),
        Err(e) if e.is_timeout() => Answer::Silent(format!("body not received in time ({e})")),
        Err(e) => Answer::Refused(error_chain(&e)),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn url(endpoint: &str, path: &str) -> String {
    format!("{}{path}", endpoint.trim_end_matches('/'))
}

async fn etcd_http(
    http: &reqwest::Client,
    endpoints: &[String],
    at: DateTime<Utc>,
) -> Option<QuorumReading> {
    let mut set = JoinSet::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let req = http.post(url(ep, "/v3/maintenance/status")).body("{}");
        set.spawn(async move { (i, send(req).await) });
    }
    let mut answers: Vec<(usize, Answer)> = set.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    if answers.iter().all(|(_, a)| matches!(a, Answer::Silent(_))) {
        return None;
    }
    let statuses: Vec<(String, Result<etcd::EndpointStatus, String>)> = answers
        .into_iter()
        .map(|(i, a)| (endpoints[i].clone(), etcd_status(a)))
        .collect();
    let first_ok = statuses
        .iter()
        .find(|(_, s)| s.is_ok())
        .map(|(e, _)| e.clone());
    let list = match first_ok {
        Some(ep) => etcd_members(http, &ep).await,
        None => None,
    };
    Some(etcd::assemble(
        at,
        &format!("etcd {}", endpoints.join(",")),
        list.as_deref(),
        &statuses,
    ))
}

fn etcd_status(a: Answer) -> Result<etcd::EndpointStatus, String> {
    match a {
        Answer::Body(200, body) => etcd::parse_http_status(&body).map_err(|e| e.to_string()),
        Answer::Body(code, body) => Err(format!("HTTP {code}: {}", first_line(&body))),
        Answer::Refused(e) | Answer::Silent(e) => Err(e),
    }
}

async fn etcd_members(http: &reqwest::Client, ep: &str) -> Option<Vec<etcd::EtcdMember>> {
    match send(http.post(url(ep, "/v3/cluster/member/list")).body("{}")).await {
        Answer::Body(200, body) => etcd::parse_member_list(&body).ok(),
        _ => None,
    }
}

async fn consul_http(
    http: &reqwest::Client,
    endpoints: &[String],
    at: DateTime<Utc>,
) -> Option<QuorumReading> {
    for ep in endpoints {
        let source = format!("consul {ep}");
        let leader = match send(http.get(url(ep, "/v1/status/leader"))).await {
            Answer::Silent(_) => continue,
            Answer::Refused(e) => return Some(QuorumReading::failed(at, &source, e)),
            Answer::Body(200, body) => consul::parse_status_leader(&body),
            Answer::Body(code, body) => {
                return Some(QuorumReading::failed(
                    at,
                    &source,
                    format!("HTTP {code}: {}", first_line(&body)),
                ));
            }
        };
        let leader = match leader {
            Ok(Some(l)) => l,
            Ok(None) => return Some(QuorumReading::failed(at, &source, "No cluster leader")),
            Err(e) => return Some(QuorumReading::failed(at, &source, e.to_string())),
        };
        return Some(
            match send(http.get(url(ep, "/v1/operator/raft/configuration"))).await {
                Answer::Body(200, body) => {
                    consul::parse_raft_configuration(&body, Some(&leader), at, &source)
                        .unwrap_or_else(|e| QuorumReading::failed(at, &source, e.to_string()))
                }
                Answer::Body(code, body) => QuorumReading::failed(
                    at,
                    &source,
                    format!("HTTP {code}: {}", first_line(&body)),
                ),
                Answer::Refused(e) | Answer::Silent(e) => QuorumReading::failed(at, &source, e),
            },
        );
    }
    None
}

async fn remote(
    ctx: &Ctx<'_>,
    script: &str,
    source: QuorumSource,
    at: DateTime<Utc>,
) -> Option<QuorumReading> {
    let runner = ctx.runner?;
    for host in ctx.hosts {
        let name = host.name.as_str();
        let script = match crate::plan::template::render(script, host, Quoting::Shell) {
            Ok(s) => s,
            Err(e) => return Some(QuorumReading::failed(at, name, e.to_string())),
        };
        let Ok(out) = runner.run(host, &script, ctx.timeout).await else {
            continue;
        };
        let parsed = match source {
            QuorumSource::Etcd => etcd::parse_etcdctl_status(&out.stdout, &out.stderr, at, name),
            QuorumSource::Consul => consul::parse_list_peers(&out.stdout, &out.stderr, at, name),
            QuorumSource::Command => parse_command_output(&out.stdout, at, name),
        };
        return Some(parsed.unwrap_or_else(|e| QuorumReading::failed(at, name, e.to_string())));
    }
    None
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}
