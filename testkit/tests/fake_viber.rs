//! The fake Viber's `set_webhook` behaves as Viber's: it checks the body, then POSTs a `webhook`
//! event signed with the bot's token to the URL and answers only once that got HTTP 200.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use testkit::FakeViber;

const TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";

type Seen = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A webhook on loopback that records what it gets and answers `status`.
async fn receiver(status: StatusCode) -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn record(State((seen, status)): State<(Seen, StatusCode)>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let signature = headers
            .get("x-viber-content-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        seen.lock().unwrap().push((signature, body.to_vec()));
        status
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/viber/{id}", axum::routing::post(record))
        .with_state((seen.clone(), status));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/viber/acme"), seen)
}

async fn set_webhook(viber: &FakeViber, token: &str, body: Value) -> Value {
    testkit::http_client()
        .post(format!("{}/set_webhook", viber.api_url()))
        .header("X-Viber-Auth-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn set_webhook_checks_the_url_with_a_signed_webhook_event() {
    let viber = FakeViber::start(TOKEN).await;
    let (url, seen) = receiver(StatusCode::OK).await;
    let answer = set_webhook(
        &viber,
        TOKEN,
        json!({"url": url, "event_types": ["delivered", "seen"], "send_name": true, "send_photo": true}),
    )
    .await;
    assert_eq!(answer["status"], 0, "{answer}");
    assert_eq!(
        answer["event_types"],
        json!(["message", "subscribed", "unsubscribed", "delivered", "seen"])
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (signature, body) = &seen[0];
    assert_eq!(
        shared::viber::signature::verify(TOKEN, body, signature.as_deref()),
        Ok(())
    );
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["event"], "webhook");
    assert!(event["message_token"].is_u64() && event["timestamp"].is_i64());
    assert_eq!(viber.webhook().as_deref(), Some(url.as_str()));
}

#[tokio::test]
async fn set_webhook_fails_when_the_check_does_not_get_200() {
    let viber = FakeViber::start(TOKEN).await;
    let (url, _) = receiver(StatusCode::UNAUTHORIZED).await;
    let answer = set_webhook(&viber, TOKEN, json!({"url": url})).await;
    assert_eq!(answer["status"], 1);
    assert_eq!(viber.webhook(), None);
}

#[tokio::test]
async fn set_webhook_refuses_malformed_bodies_like_viber() {
    let viber = FakeViber::start(TOKEN).await;
    let (url, seen) = receiver(StatusCode::OK).await;
    for (body, status) in [
        (json!({}), 4),
        (json!({"url": 5}), 3),
        (json!({"url": url, "event_types": ["delivered", "typing"]}), 3),
        (json!({"url": url, "event_types": "delivered"}), 3),
        (json!({"url": url, "send_name": "yes"}), 3),
        (json!({"url": "ftp://example.com/hook"}), 1),
    ] {
        let answer = set_webhook(&viber, TOKEN, body.clone()).await;
        assert_eq!(answer["status"], status, "{body}: {answer}");
    }
    assert_eq!(
        set_webhook(&viber, "not-a-token", json!({"url": url})).await["status"],
        2
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing is called back for a refused request"
    );
}

#[tokio::test]
async fn several_bots_have_their_own_profile_and_webhook() {
    let viber = FakeViber::start(TOKEN).await;
    viber.add_bot("sales-token", "Acme Sales", "acmesales");
    let (url, seen) = receiver(StatusCode::OK).await;
    assert_eq!(
        set_webhook(&viber, "sales-token", json!({"url": url})).await["status"],
        0
    );
    let (signature, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(
        shared::viber::signature::verify("sales-token", &body, signature.as_deref()),
        Ok(())
    );
    assert_eq!(viber.webhook_of("sales-token").as_deref(), Some(url.as_str()));
    assert_eq!(viber.webhook(), None);
    let info: Value = testkit::http_client()
        .post(format!("{}/get_account_info", viber.api_url()))
        .header("X-Viber-Auth-Token", "sales-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info["name"].as_str(), info["uri"].as_str()),
        (Some("Acme Sales"), Some("acmesales"))
    );
    viber.revoke("sales-token");
    assert_eq!(
        set_webhook(&viber, "sales-token", json!({"url": ""})).await["status"],
        2
    );
}
