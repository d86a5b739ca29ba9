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
