//! Through the `viberdesk-local` process: a bot connected with `--viber-token` (against the fake
//! Viber) takes signed callbacks over HTTP exactly as the webhook Lambda would.

mod support;

use reqwest::{Method, StatusCode};
use support::LOCAL;
use testkit::FakeViber;
use testkit::fixtures::{self, CALLBACKS, DOC_TOKEN};

#[tokio::test(flavor = "multi_thread")]
async fn connects_the_bot_and_sets_its_webhook_at_start() {
    let (viber, stack) = LOCAL.connected().await;
    for _ in 0..100 {
        if viber.webhook().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(viber.bodies("get_account_info").len(), 1);
    let set = viber.bodies("set_webhook");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0]["url"], format!("{}/viber/default", stack.base_url));
    assert_eq!(set[0]["send_name"], true);
    assert_eq!(set[0]["send_photo"], true);
    assert!(
        viber
            .requests()
            .iter()
            .all(|r| r.auth_token.as_deref() == Some(DOC_TOKEN))
    );
    assert_eq!(
        viber.webhook(),
        Some(format!("{}/viber/default", stack.base_url)),
        "Viber's signed check was accepted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_fixtures_are_accepted_over_http() {
    let (_viber, stack) = LOCAL.connected().await;
    for name in CALLBACKS {
        let body = fixtures::bytes(name);
        let response = stack
            .callback("default", &body, Some(fixtures::sign(DOC_TOKEN, &body)))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_over_http() {
    let (_viber, stack) = LOCAL.connected().await;
    let body = fixtures::bytes("message_text");
    let signature = fixtures::sign(DOC_TOKEN, &body);
    assert_eq!(
        stack.callback("default", &body, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack
            .callback("default", &body, Some(fixtures::sign("wrong", &body)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stack.callback("nobody", &body, Some(signature.clone())).await.status(),
        StatusCode::NOT_FOUND
    );
    let junk = b"{junk";
    assert_eq!(
        stack
            .callback("default", junk, Some(fixtures::sign(DOC_TOKEN, junk)))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(
        stack.callback("default", &huge, None).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let get = stack.request(Method::GET, "/viber/default").send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let refused: serde_json::Value = stack.callback("default", &body, None).await.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "invalid_signature");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_bot_token_stops_the_start_with_a_clear_error() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = std::process::Command::new(LOCAL.path())
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--viber-api-url",
            &viber.api_url(),
        ])
        .args(["--viber-token", "not-the-bot-token"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Viber refused the bot token"), "{stderr}");
    assert!(!stderr.contains("not-the-bot-token"), "the token must not be printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_it_cleanly() {
    let (_viber, mut stack) = LOCAL.connected().await;
    let status = stack.interrupt().await;
    assert!(status.success(), "{status:?}");
}

/// The stack's log goes to a pipe nobody reads (a terminal on pause, `| less`, a file on a disk
/// stuck in writeback): once the pipe is full, the stack still answers and stores. (It used to
/// stop dead: the runtime's workers blocked writing log lines.)
#[tokio::test(flavor = "multi_thread")]
async fn a_log_nobody_reads_never_stops_the_stack() {
    // The stack before the fix stopped at the 205th (64 KiB of its lines at `debug`).
    const CALLBACKS: u64 = 400;
    let viber = FakeViber::start(DOC_TOKEN).await;
    let api_url = viber.api_url();
    // The stack logs to stdout, which `LocalStack` discards: a shell points it at stderr, a pipe
    // this test holds open and never reads (64 KiB, a few hundred of the lines below).
    let command = || {
        let mut command = std::process::Command::new("sh");
        command
            .args(["-c", r#"exec "$0" "$@" 1>&2"#])
            .arg(LOCAL.path())
            .stderr(std::process::Stdio::piped());
        command
    };
    let stack = testkit::local::LocalStack::start_command(
        command,
        &["--viber-api-url", &api_url, "--viber-token", DOC_TOKEN],
        &[("RUST_LOG", "debug")],
    )
    .await;
    let template = fixtures::json("message_text");
    for n in 0..CALLBACKS {
        let mut callback = template.clone();
        callback["message_token"] = (1_000 + n).into();
        callback["timestamp"] = (1_732_528_955_210 + n).into();
        callback["message"]["text"] = format!("message {n}").into();
        let body = callback.to_string();
        let answered = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stack.post_signed_to("default", DOC_TOKEN, body.as_bytes()),
        )
        .await
        .unwrap_or_else(|_| panic!("callback {n} was not answered within 10 s"));
        assert_eq!(answered, StatusCode::OK, "callback {n}");
    }
    let (tasks, _) = stack
        .eventually("/api/tasks", |v| v["items"].as_array().is_some_and(|i| i.len() == 1))
        .await;
    let task_id = tasks["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/tasks/{task_id}/comments?limit=100");
    let mut stored = 0;
    for _ in 0..100 {
        // The last page: every message stored, in order.
        let mut cursor: Option<String> = None;
        stored = 0;
        loop {
            let page = match &cursor {
                Some(cursor) => stack.get_ok(&format!("{path}&cursor={cursor}")).await,
                None => stack.get_ok(&path).await,
            };
            stored += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if stored as u64 == CALLBACKS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored as u64, CALLBACKS, "every callback stored");
}
