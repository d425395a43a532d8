use super::*;
use chrono::TimeZone;

fn http(body_matches: Option<&str>, metric: Option<(&str, Option<f64>, Option<f64>)>) -> HttpCheck {
    let kind = ProbeKind::Http {
        url: "http://x/".into(),
        expect_status: 200,
        body_matches: body_matches.map(String::from),
        max_latency: Some(Duration::from_millis(500)),
        metric: metric.map(|(p, max, min)| MetricBound {
            pattern: p.into(),
            max,
            min,
        }),
    };
    HttpCheck::from_kind(&kind).unwrap().unwrap()
}

fn ok(body: &str) -> Result<HttpObserved, String> {
    Ok(HttpObserved {
        status: 200,
        latency: Duration::from_millis(20),
        body: body.into(),
    })
}

#[test]
fn http_status_latency_body() {
    let c = http(Some("^ok"), None);
    assert_eq!(c.judge(&ok("ok\n")), Verdict::Pass);
    let slow = Ok(HttpObserved {
        status: 200,
        latency: Duration::from_millis(900),
        body: "ok".into(),
    });
    assert_eq!(
        c.judge(&slow),
        Verdict::fail("answered in 900ms (max 500ms)")
    );
    let bad = Ok(HttpObserved {
        status: 503,
        latency: Duration::ZERO,
        body: String::new(),
    });
    assert_eq!(c.judge(&bad), Verdict::fail("status 503 (expected 200)"));
    assert_eq!(
        c.judge(&ok("down")),
        Verdict::fail("body does not match /^ok/")
    );
    assert_eq!(
        c.judge(&Err("connection refused".into())),
        Verdict::Error {
            reason: "connection refused".into()
        }
    );
}

#[test]
fn http_symptom_metric() {
    let c = http(None, Some((r"errors_per_sec (\S+)", Some(5.0), None)));
    assert_eq!(c.judge(&ok("errors_per_sec 0.5\n")), Verdict::Pass);
    assert_eq!(
        c.judge(&ok("errors_per_sec 12\n")),
        Verdict::fail("metric 12 above max 5")
    );
    assert_eq!(
        c.judge(&ok("errors_per_sec NaNx\n")),
        Verdict::fail("metric `NaNx` is not a number")
    );
    assert!(
        c.judge(&ok("nothing"))
            .reason()
            .unwrap()
            .contains("not found")
    );
    let floor = http(None, Some((r"rps=(\d+)", None, Some(100.0))));
    assert_eq!(
        floor.judge(&ok("rps=40")),
        Verdict::fail("metric 40 below min 100")
    );
}

#[test]
fn tcp_and_command() {
    assert!(tcp_verdict(&Ok(Duration::from_millis(1))).passed());
    assert!(!tcp_verdict(&Err("refused".into())).passed());
    let pass = Observed {
        exit: Some(0),
        stdout: "fine".into(),
        stderr: String::new(),
    };
    assert!(command_verdict(&Ok(pass)).passed());
    let fail = Observed {
        exit: Some(2),
        stdout: String::new(),
        stderr: "no quorum\n".into(),
    };
    assert_eq!(
        command_verdict(&Ok(fail)),
        Verdict::fail("exit 2: no quorum")
    );
}

#[test]
fn min_pass_fraction() {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    let results = |n_fail: usize| -> Vec<(String, Verdict)> {
        (0..4)
            .map(|i| {
                (
                    format!("h{i}"),
                    if i < n_fail {
                        Verdict::fail("down")
                    } else {
                        Verdict::Pass
                    },
                )
            })
            .collect()
    };
    assert!(ProbeVerdict::gather("p", at, 0.75, results(1)).ok());
    assert!(!ProbeVerdict::gather("p", at, 0.75, results(2)).ok());
    assert!(!ProbeVerdict::gather("p", at, 0.0, vec![]).ok());
    let v = ProbeVerdict::gather("p", at, 1.0, results(1));
    assert_eq!(v.summary(), "3/4 passed (need 100%): h0: down");
}
