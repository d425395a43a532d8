//! Output: bounded capture of huge streams and sanitized text.

use crate::support::Fleet;
use crate::{run, script};
use cutover::transport::{RemoteCommand, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_of_output_stay_bounded() {
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let cmd = RemoteCommand {
        output_cap: 4096,
        ..script(
            "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo tail-marker >&2; head -c 5000000 /dev/zero >&2",
        )
    };
    let result = conn.run(&cmd).await.unwrap();
    assert!(result.success(), "{result:?}");
    assert_eq!(result.stdout.total_bytes(), 100_000_001);
    assert!(result.stdout.truncated());
    assert_eq!(result.stdout.kept_bytes(), 4096);
    assert_eq!(result.stderr.total_bytes(), 5_000_012);
    assert!(
        result
            .stdout
            .text()
            .contains("[… 99995905 bytes omitted …]")
    );
    assert!(vm_rss_kib() < 512 * 1024, "VmRSS {} KiB", vm_rss_kib());
}

#[tokio::test]
async fn escapes_and_bidi_controls_are_made_visible() {
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let result = run(
        &conn,
        r"printf '\033[31mred\033[0m \033]0;title\007ok\342\200\256evil\342\201\246\n'",
    )
    .await;
    assert_eq!(
        result.stdout.text(),
        "\\u{1b}[31mred\\u{1b}[0m \\u{1b}]0;title\\u{7}ok\\u{202e}evil\\u{2066}\n"
    );
    assert!(
        result.stdout.raw().contains(&0x1b),
        "raw bytes are kept as they came"
    );
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
