//! Host certificates checked against known_hosts lines (fixtures made with `ssh-keygen -s`).

use super::*;
use crate::transport::known_hosts::parse;
use std::path::Path;

/// The CA that signed the fixtures.
const CA: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRtmKnFkrZE7z1V0BOpVfM7SoDh305CQldKxhwh2JDV";
/// Another CA.
const OTHER_CA: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPpLaAckVCX6w40PfvYY7VlRvVDc+42SxBGCfA/D31O+";
/// The certified host key.
const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF4WSVm06HPhQWvoTB6BK/z/mgB/KblaDqWpGzGPvGoJ";
/// `ssh-keygen -s ca -h -n web1.example,10.0.0.1 -V 20200101:20400101 host.pub`.
const HOST_CERT: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIPB6iCzwoBwys4vMsXLrevoAYqVNhwlHrA8rEp4PsBU4AAAAIF4WSVm06HPhQWvoTB6BK/z/mgB/KblaDqWpGzGPvGoJAAAAAAAAAAAAAAACAAAABHdlYjEAAAAcAAAADHdlYjEuZXhhbXBsZQAAAAgxMC4wLjAuMQAAAABeC+EAAAAAAIOqfoAAAAAAAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIGRtmKnFkrZE7z1V0BOpVfM7SoDh305CQldKxhwh2JDVAAAAUwAAAAtzc2gtZWQyNTUxOQAAAECjGBQvi12eDmkFFk95hXtnKJPNLstG6S4QuSkvM000SbhYXTSsIU6MS/nt9Hz5Lcct+0JhT4u5xnErjm1zxccI";
/// The same key certified as a user (`-n ops`, no `-h`).
const USER_CERT: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAID6RE4gRCOf8OEWyDX+sTw3hrpgmdM3pBsYq+Ms6t+huAAAAIF4WSVm06HPhQWvoTB6BK/z/mgB/KblaDqWpGzGPvGoJAAAAAAAAAAAAAAABAAAAAXUAAAAHAAAAA29wcwAAAABeC+EAAAAAAIOqfoAAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBkbZipxZK2RO89VdATqVXzO0qA4d9OQkJXSsYcIdiQ1QAAAFMAAAALc3NoLWVkMjU1MTkAAABApzLY7VIoAT7GyoD9h+GOTNkXirn82sFcMWEaTOLYjQIcLrL0fViPoeCW/TWMHweYeJaTHuThBvi+XG7GByBVBA==";

/// 2025-01-01, inside the fixtures' window.
const NOW: u64 = 1_735_689_600;

fn cert(text: &str) -> Certificate {
    Certificate::from_openssh(text).unwrap()
}

fn check(known: &str, lookup: &str, principal: &str, c: &str, now: u64) -> Result<(), CertRefusal> {
    let entries = parse(Path::new("kh"), known);
    check_certificate(&entries, lookup, principal, &cert(c), now)
}

#[test]
fn a_cert_authority_line_for_the_host_vouches_for_its_certificate() {
    let known = format!("@cert-authority *.example,[10.0.0.*]:2222 {CA}\n");
    assert_eq!(
        check(&known, "web1.example", "web1.example", HOST_CERT, NOW),
        Ok(())
    );
    assert_eq!(
        check(&known, "[10.0.0.1]:2222", "10.0.0.1", HOST_CERT, NOW),
        Ok(())
    );
}

#[test]
fn each_refusal_says_which_check_failed() {
    let known = format!("@cert-authority *.example {CA}\n");
    let wrong = check(&known, "db1.example", "db1.example", HOST_CERT, NOW).unwrap_err();
    assert!(
        matches!(wrong, CertRefusal::WrongPrincipal { .. }),
        "{wrong}"
    );
    assert!(wrong.to_string().starts_with("wrong principal"), "{wrong}");
    let late = check(
        &known,
        "web1.example",
        "web1.example",
        HOST_CERT,
        2_300_000_000,
    )
    .unwrap_err();
    assert!(late.to_string().starts_with("expired"), "{late}");
    let early = check(&known, "web1.example", "web1.example", HOST_CERT, 1_000).unwrap_err();
    assert!(early.to_string().starts_with("not yet valid"), "{early}");
    let user = check(&known, "web1.example", "web1.example", USER_CERT, NOW).unwrap_err();
    assert_eq!(user, CertRefusal::NotHost);
}

#[test]
fn an_unknown_or_misplaced_ca_is_refused() {
    let other = format!("@cert-authority * {OTHER_CA}\n");
    let e = check(&other, "web1.example", "web1.example", HOST_CERT, NOW).unwrap_err();
    assert!(e.to_string().starts_with("unknown CA"), "{e}");
    let elsewhere = format!("@cert-authority *.other {CA}\nweb1.example {CA}\n");
    let e = check(&elsewhere, "web1.example", "web1.example", HOST_CERT, NOW).unwrap_err();
    assert!(
        matches!(e, CertRefusal::UnknownCa { .. }),
        "a plain line for the CA key is no CA: {e}"
    );
}

#[test]
fn a_revoked_ca_or_host_key_is_refused_even_when_the_ca_is_trusted() {
    let ca_revoked = format!("@cert-authority * {CA}\n@revoked * {CA}\n");
    let e = check(&ca_revoked, "web1.example", "web1.example", HOST_CERT, NOW).unwrap_err();
    assert!(e.to_string().contains("revoked: the CA key"), "{e}");
    let key_revoked = format!("@cert-authority * {CA}\n@revoked * {HOST_KEY}\n");
    let e = check(&key_revoked, "web1.example", "web1.example", HOST_CERT, NOW).unwrap_err();
    assert!(
        e.to_string()
            .contains("revoked: the host key is marked @revoked at kh:2"),
        "{e}"
    );
}
