//! The known_hosts micro-benchmark: checking every host of a fleet against a known_hosts
//! file, with the linear matcher (`known_hosts::check`, what every connection did before the
//! index) and with the index (`KnownHosts`), in the same run on the same data.
//!
//! `cargo bench --bench known_hosts` (also `BENCH_SUITES=known_hosts just bench`). It prints a
//! markdown table; `BENCH_KH_SIZES` (`2000x2000,10000x10000`: hosts × lines) and
//! `BENCH_KH_HASHED` (`2000x2000`: the same with every line hashed, as `HashKnownHosts yes`
//! writes them) choose the sizes. Each host presents its own key, as in a lab, so every
//! verdict is `Trusted` and every lookup pays a full scan in the linear matcher.

// A benchmark's setup failing is a bug in the benchmark: it should stop loudly.
#![allow(clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cutover::transport::known_hosts::{self, KnownHosts, Verdict};
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{PrivateKey, PublicKey};
use sha1::Sha1;
use std::path::Path;
use std::time::Duration;

fn sizes(var: &str, default: &str) -> Vec<(usize, usize)> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| {
            let (h, l) = s.trim().split_once('x')?;
            Some((h.parse().ok()?, l.parse().ok()?))
        })
        .collect()
}

/// The lab's addresses: 250 per /24 from 127.0.10.1.
fn name(i: usize) -> String {
    format!("127.0.{}.{}", 10 + i / 250, i % 250 + 1)
}

fn hashed(i: usize, name: &str) -> String {
    let salt = (i as u64).to_le_bytes().repeat(3)[..20].to_vec();
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&salt).expect("any key length");
    mac.update(name.as_bytes());
    let hash = mac.finalize().into_bytes();
    format!("|1|{}|{}", STANDARD.encode(&salt), STANDARD.encode(hash))
}

/// `lines` known_hosts lines for hosts 0.., and the first `hosts` keys.
fn fleet(hosts: usize, lines: usize, hash: bool) -> (String, Vec<PublicKey>) {
    let mut rng = rand::rng();
    let keys: Vec<PublicKey> = (0..lines.max(hosts))
        .map(|_| {
            PrivateKey::random(&mut rng, russh::keys::Algorithm::Ed25519)
                .expect("ed25519 key")
                .public_key()
                .clone()
        })
        .collect();
    let text: String = (0..lines)
        .map(|i| {
            let host = if hash { hashed(i, &name(i)) } else { name(i) };
            let key = keys[i].to_openssh().expect("openssh key");
            format!("{host} {key}\n")
        })
        .collect();
    (text, keys[..hosts].to_vec())
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn measure(hosts: usize, lines: usize, hash: bool) {
    let (text, keys) = fleet(hosts, lines, hash);
    let names: Vec<String> = (0..hosts).map(name).collect();
    let started = cutover::clock::instant();
    let entries = known_hosts::parse(Path::new("known_hosts"), &text);
    let parsed = started.elapsed();

    let started = cutover::clock::instant();
    let linear: Vec<Verdict> = names
        .iter()
        .zip(&keys)
        .map(|(n, k)| known_hosts::check(&entries, n, k))
        .collect();
    let linear_time = started.elapsed();

    let started = cutover::clock::instant();
    let index = KnownHosts::new(entries);
    let built = started.elapsed();
    let indexed: Vec<Verdict> = names
        .iter()
        .zip(&keys)
        .map(|(n, k)| index.check(n, k))
        .collect();
    let index_time = started.elapsed();

    assert_eq!(
        linear, indexed,
        "the index must agree with the linear matcher"
    );
    let trusted = indexed.iter().filter(|v| **v == Verdict::Trusted).count();
    assert_eq!(trusted, hosts.min(lines));
    println!(
        "| {hosts} | {lines} | {} | {} | {} | {} | {} | {:.0}x |",
        if hash { "hashed" } else { "plain" },
        secs(parsed),
        secs(linear_time),
        secs(built),
        secs(index_time),
        linear_time.as_secs_f64() / index_time.as_secs_f64().max(1e-9),
    );
}

fn main() {
    println!(
        "| hosts | lines | lines are | parse s | linear check s | index build s | index build + check s | linear / index |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    for (hosts, lines) in sizes("BENCH_KH_SIZES", "2000x2000,10000x10000") {
        measure(hosts, lines, false);
    }
    for (hosts, lines) in sizes("BENCH_KH_HASHED", "2000x2000") {
        measure(hosts, lines, true);
    }
}
