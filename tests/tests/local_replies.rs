//! Through the `viberdesk-local` process: staff upload a picture and a file, reply with text and
//! both, and the fake Viber receives three valid messages whose media links return exactly the
//! uploaded bytes; `delivered` callbacks then mark the reply delivered. Once on the embedded
//! adapters, once on moto (DynamoDB, a FIFO outbound queue, S3 presigned URLs).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{LocalStack, OWNER_TOKEN, api, eventually, post_signed};
use testkit::fixtures::{self, DOC_TOKEN};
use testkit::{FakeViber, http_client};

const PICTURE: &[u8] = b"\xff\xd8\xff\xe0 a small jpeg, as far as anyone here can tell";

fn file_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(40_000).collect()
}

async fn post_json(stack: &LocalStack, path: &str, body: Value) -> (u16, Value) {
    let response = http_client()
        .post(format!("{}{path}", stack.base_url))
        .bearer_auth(OWNER_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Announces an upload through the API, then PUTs the bytes to the signed URL it gave.
async fn upload(stack: &LocalStack, file_name: &str, content_type: &str, bytes: &[u8]) -> String {
    let (status, announced) = post_json(
        stack,
        "/api/attachments",
        json!({"file_name": file_name, "content_type": content_type, "size": bytes.len()}),
    )
    .await;
    assert_eq!(status, 201, "{announced}");
    let url = announced["upload_url"].as_str().unwrap();
    let put = http_client()
        .put(url)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "upload to {url}: {}", put.status());
    announced["id"].as_str().unwrap().to_owned()
}

/// The whole round trip on a running stack whose bot is the fixtures' (`--viber-token`).
/// `max_latency`: from the API's answer to the last message reaching the fake Viber.
async fn reply_round_trip(stack: &LocalStack, viber: &FakeViber, max_latency: Duration) {
    post_signed(stack, &fixtures::bytes("message_text")).await;
    let client = fixtures::json("message_text")["sender"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (tasks, _) = eventually(stack, "/api/tasks", |t| !t["items"].as_array().unwrap().is_empty()).await;
    let task_id = tasks["items"][0]["id"].as_str().unwrap().to_owned();
    let comments = format!("/api/tasks/{task_id}/comments");

    let picture = upload(stack, "box.jpg", "image/jpeg", PICTURE).await;
    let file = upload(stack, "Рахунок 48213.pdf", "application/pdf", &file_bytes()).await;
    let before = viber.bodies("send_message").len();
    let posted_at = Instant::now();
    let (status, queued) = post_json(
        stack,
        &comments,
        json!({"text": "Добрий день! Ось фото і рахунок.", "attachment_ids": [picture, file], "notify_client": true}),
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    let reply_id = queued["id"].as_str().unwrap().to_owned();

    let sent = loop {
        let sent = viber.bodies("send_message");
        if sent.len() >= before + 3 {
            break sent[before..].to_vec();
        }
        assert!(
            posted_at.elapsed() < Duration::from_secs(5),
            "Viber got {:?}",
            &sent[before..]
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let took = posted_at.elapsed();
    eprintln!("reply reached the fake Viber in {took:?}");
    assert!(took < max_latency, "took {took:?}");
    assert_eq!(sent.len(), 3, "{sent:?}");
    let types: Vec<&str> = sent.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["text", "picture", "file"]);
    for message in &sent {
        assert_eq!(message["receiver"], client.as_str());
        assert!(message["sender"]["name"].as_str().is_some_and(|n| !n.is_empty()));
    }
    assert_eq!(sent[0]["text"], "Добрий день! Ось фото і рахунок.");
    assert_eq!(sent[2]["file_name"], "Рахунок 48213.pdf");
    assert_eq!(sent[2]["size"], file_bytes().len());
    for (message, expected) in [(&sent[1], PICTURE.to_vec()), (&sent[2], file_bytes())] {
        let url = message["media"].as_str().unwrap();
        let downloaded = http_client().get(url).send().await.unwrap();
        assert_eq!(downloaded.status(), 200, "{url}");
        assert_eq!(downloaded.bytes().await.unwrap().to_vec(), expected, "{url}");
    }
    let (listed, _) = eventually(stack, &comments, |c| {
        c["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == reply_id.as_str() && c["status"] == "sent")
    })
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");

    // Viber's receipts for the three messages move the reply to `delivered`.
    let tokens = viber.accepted_tokens();
    let tokens = &tokens[tokens.len() - 3..];
    for token in tokens {
        let delivered = format!(
            r#"{{"event":"delivered","timestamp":1732529470339,"chat_hostname":"SN-CHAT-05_","message_token":{token},"user_id":"{client}"}}"#
        );
        post_signed(stack, delivered.as_bytes()).await;
    }
    let (delivered, _) = eventually(stack, &comments, |c| {
        c["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == reply_id.as_str() && c["status"] == "delivered")
    })
    .await;
    let reply = delivered["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == reply_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(reply["attachments"].as_array().unwrap().len(), 2, "{reply}");
    assert_eq!(reply["author"]["type"], "staff");
    assert!(
        reply["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["available"] == true)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_with_a_picture_and_a_file_reaches_viber_and_is_delivered() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let stack = LocalStack::start(&["--viber-api-url", &viber.api_url(), "--viber-token", DOC_TOKEN], &[]).await;
    // DESIGN.md: in the local stack a reply reaches Viber within a second.
    reply_round_trip(&stack, &viber, Duration::from_secs(1)).await;

    // An upload URL is single-purpose: a tampered one is refused.
    let (_, announced) = post_json(
        &stack,
        "/api/attachments",
        json!({"file_name": "a.pdf", "content_type": "application/pdf", "size": 3}),
    )
    .await;
    let url = announced["upload_url"].as_str().unwrap().replace("size=3", "size=4");
    let tampered = http_client()
        .put(url)
        .header("content-type", "application/pdf")
        .body(b"abcd".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    let me = api(&stack, "/api/me").await;
    assert_eq!(me["role"], "owner");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_round_trip_runs_on_dynamodb_sqs_and_s3() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let env = support::moto_environment().await;
    let stack = LocalStack::start(
        &["--viber-api-url", &viber.api_url(), "--viber-token", DOC_TOKEN],
        &support::pairs(&env),
    )
    .await;
    // SQS is long-polled (1 s waits), so a reply may wait for the next poll.
    reply_round_trip(&stack, &viber, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_viber_keeps_refusing_ends_failed_within_seconds() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    let stack = LocalStack::start(&["--viber-api-url", &viber.api_url(), "--viber-token", DOC_TOKEN], &[]).await;
    post_signed(&stack, &fixtures::bytes("message_text")).await;
    let (tasks, _) = eventually(&stack, "/api/tasks", |t| !t["items"].as_array().unwrap().is_empty()).await;
    let comments = format!("/api/tasks/{}/comments", tasks["items"][0]["id"].as_str().unwrap());
    // Every attempt the local policy allows (5 receives) gets HTTP 503.
    for _ in 0..5 {
        viber.script("send_message", testkit::fake_viber::Answer::Http(503));
    }
    let started = Instant::now();
    let (status, queued) = post_json(&stack, &comments, json!({"text": "Hello?", "notify_client": true})).await;
    assert_eq!(status, 202, "{queued}");
    let reply_id = queued["id"].as_str().unwrap().to_owned();
    let failed = loop {
        let listed = api(&stack, &comments).await;
        let reply = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == reply_id.as_str())
            .cloned()
            .unwrap();
        if reply["status"] == "failed" {
            break reply;
        }
        assert_eq!(reply["status"], "queued", "{reply}");
        assert!(started.elapsed() < Duration::from_secs(60), "still {reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("the reply ended failed after {:?}", started.elapsed());
    let reason = failed["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("503") && reason.contains("gave up after 5 attempts"),
        "{reason}"
    );
    assert_eq!(viber.bodies("send_message").len(), 5, "one attempt per receive");
}
