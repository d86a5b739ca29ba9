//! Through the `viberdesk-local` process: staff upload a picture and a file, reply with text and
//! both, and the fake Viber receives three valid messages whose media links return exactly the
//! uploaded bytes; `delivered` callbacks then mark the reply delivered. Once on the embedded
//! adapters, once on moto (DynamoDB, a FIFO outbound queue, S3 presigned URLs).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::LOCAL;
use testkit::fixtures;
use testkit::local::{LocalStack, SHORT_RETRIES};
use testkit::{FakeViber, http_client};

const PICTURE: &[u8] = b"\xff\xd8\xff\xe0 a small jpeg, as far as anyone here can tell";

fn file_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(40_000).collect()
}

/// Announces an upload through the API, then PUTs the bytes to the signed URL it gave.
async fn upload(stack: &LocalStack, file_name: &str, content_type: &str, bytes: &[u8]) -> String {
    let (status, announced) = stack
        .post_json(
            "/api/attachments",
            json!({"file_name": file_name, "content_type": content_type, "size": bytes.len()}),
        )
        .await;
    assert_eq!(status, 201, "{announced}");
    let url = announced["upload_url"].as_str().unwrap();
    let put = stack.put_bytes(url, content_type, bytes).await;
    assert!(put.is_success(), "upload to {url}: {put}");
    announced["id"].as_str().unwrap().to_owned()
}

/// The whole round trip on a running stack whose bot is the fixtures' (`--viber-token`).
/// `max_latency`: from the API's answer to the last message reaching the fake Viber.
async fn reply_round_trip(stack: &LocalStack, viber: &FakeViber, max_latency: Duration) {
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let client = fixtures::json("message_text")["sender"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (tasks, _) = stack
        .eventually("/api/tasks", |t| !t["items"].as_array().unwrap().is_empty())
        .await;
    let task_id = tasks["items"][0]["id"].as_str().unwrap().to_owned();
    let comments = format!("/api/tasks/{task_id}/comments");

    let picture = upload(stack, "box.jpg", "image/jpeg", PICTURE).await;
    let file = upload(stack, "Рахунок 48213.pdf", "application/pdf", &file_bytes()).await;
    let before = viber.bodies("send_message").len();
    let posted_at = Instant::now();
    let (status, queued) = stack.post_json(&comments,
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
    let (listed, _) = reply_when(stack, &comments, &reply_id, "sent").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");

    // Viber's receipts for the three messages move the reply to `delivered`.
    let tokens = viber.accepted_tokens();
    let tokens = &tokens[tokens.len() - 3..];
    for token in tokens {
        let delivered = format!(
            r#"{{"event":"delivered","timestamp":1732529470339,"chat_hostname":"SN-CHAT-05_","message_token":{token},"user_id":"{client}"}}"#
        );
        stack.post_signed(delivered.as_bytes()).await;
    }
    let (_, reply) = reply_when(stack, &comments, &reply_id, "delivered").await;
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
    let (viber, stack) = LOCAL.connected().await;
    // README "The local stack": a reply reaches Viber within a second.
    reply_round_trip(&stack, &viber, Duration::from_secs(1)).await;

    // An upload URL is single-purpose: a tampered one is refused.
    let (_, announced) = stack
        .post_json(
            "/api/attachments",
            json!({"file_name": "a.pdf", "content_type": "application/pdf", "size": 3}),
        )
        .await;
    let url = announced["upload_url"].as_str().unwrap().replace("size=3", "size=4");
    let tampered = stack.put_bytes(&url, "application/pdf", b"abcd").await;
    assert_eq!(tampered, 403);
    let me = stack.get_ok("/api/me").await;
    assert_eq!(me["role"], "owner");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_round_trip_runs_on_dynamodb_sqs_and_s3() {
    let (viber, stack) = LOCAL.connected_on_moto().await;
    // SQS is long-polled (1 s waits), so a reply may wait for the next poll.
    reply_round_trip(&stack, &viber, Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_viber_keeps_refusing_ends_failed_within_seconds() {
    let (viber, stack) = LOCAL.connected_with(&SHORT_RETRIES).await;
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let (tasks, _) = stack
        .eventually("/api/tasks", |t| !t["items"].as_array().unwrap().is_empty())
        .await;
    let comments = format!("/api/tasks/{}/comments", tasks["items"][0]["id"].as_str().unwrap());
    // Every attempt the queue allows (5 receives, retried after SHORT_RETRIES) gets HTTP 503.
    for _ in 0..5 {
        viber.script("send_message", testkit::fake_viber::Answer::Http(503));
    }
    let started = Instant::now();
    let (status, queued) = stack
        .post_json(&comments, json!({"text": "Hello?", "notify_client": true}))
        .await;
    assert_eq!(status, 202, "{queued}");
    let reply_id = queued["id"].as_str().unwrap().to_owned();
    let failed = loop {
        let reply = reply_status(&stack, &comments, &reply_id).await;
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

/// Where the blobs live decides what can be checked about their URLs.
#[derive(Clone, Copy, PartialEq)]
enum Blobs {
    /// The stack's own signed `/blobs/…` URLs, which check signature, expiry and size.
    Embedded,
    /// S3 presigned URLs on moto, which checks neither signatures nor sizes.
    Moto,
}

/// Staff see an upload as soon as its bytes landed: `GET /api/attachments/{id}` answers it
/// available with a download URL returning exactly those bytes; an upload of another size than
/// announced stays unavailable and says so.
async fn an_upload_can_be_previewed_once_it_landed(stack: &LocalStack, blobs: Blobs) {
    let announced_only = {
        let (status, announced) = stack
            .post_json(
                "/api/attachments",
                json!({"file_name": "later.pdf", "content_type": "application/pdf", "size": 10}),
            )
            .await;
        assert_eq!(status, 201, "{announced}");
        announced["id"].as_str().unwrap().to_owned()
    };
    let (status, waiting) = stack.get(&format!("/api/attachments/{announced_only}")).await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(waiting["available"], false, "{waiting}");
    assert_eq!(waiting["download_url"], Value::Null);
    assert!(
        waiting["unavailable_reason"]
            .as_str()
            .unwrap()
            .contains("never uploaded"),
        "{waiting}"
    );

    let picture = upload(stack, "preview.jpg", "image/jpeg", PICTURE).await;
    for read in 0..2 {
        let (status, seen) = stack.get(&format!("/api/attachments/{picture}")).await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen["available"], true, "read {read}: {seen}");
        assert_eq!(seen["unavailable_reason"], Value::Null, "{seen}");
        assert_eq!(seen["size"], PICTURE.len());
        let url = seen["download_url"].as_str().unwrap();
        let downloaded = http_client().get(url).send().await.unwrap();
        assert_eq!(downloaded.status(), 200, "{url}");
        assert_eq!(downloaded.bytes().await.unwrap().to_vec(), PICTURE, "{url}");
        if blobs == Blobs::Embedded {
            // The URL is signed for this object: another key or a later expiry is refused.
            let other_key = url.replace("preview.jpg", "other.jpg");
            assert_eq!(http_client().get(other_key).send().await.unwrap().status(), 403);
            let later = url.replace("expires=", "expires=9");
            assert_eq!(http_client().get(later).send().await.unwrap().status(), 403);
        }
    }

    // Announced as 10 bytes, 12 sent.
    let (_, announced) = stack
        .post_json(
            "/api/attachments",
            json!({"file_name": "short.pdf", "content_type": "application/pdf", "size": 10}),
        )
        .await;
    let put = stack
        .put_bytes(
            announced["upload_url"].as_str().unwrap(),
            "application/pdf",
            b"twelve bytes",
        )
        .await;
    let id = announced["id"].as_str().unwrap();
    let (_, wrong) = stack.get(&format!("/api/attachments/{id}")).await;
    assert_eq!(wrong["available"], false, "{wrong}");
    assert_eq!(wrong["download_url"], Value::Null, "{wrong}");
    let reason = wrong["unavailable_reason"].as_str().unwrap();
    match blobs {
        // The stack's own URL refuses a body of another size than signed: nothing landed.
        Blobs::Embedded => {
            assert!(put.is_client_error(), "{put}");
            assert!(reason.contains("never uploaded"), "{reason}");
        }
        // moto takes any size: the read finds 12 bytes where 10 were announced.
        Blobs::Moto => {
            assert!(put.is_success(), "{put}");
            assert!(
                reason.contains("announced as 10 bytes but 12 were uploaded"),
                "{reason}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_can_be_previewed_once_it_landed_on_the_embedded_store() {
    let (_viber, stack) = LOCAL.connected().await;
    an_upload_can_be_previewed_once_it_landed(&stack, Blobs::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_can_be_previewed_once_it_landed_on_s3() {
    let (_viber, stack) = LOCAL.connected_on_moto().await;
    an_upload_can_be_previewed_once_it_landed(&stack, Blobs::Moto).await;
}

/// Reply `id` in a page of comments (`null` when it is not there).
fn reply_in(listed: &Value, id: &str) -> Value {
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Reply `id` as the API lists it now.
async fn reply_status(stack: &LocalStack, comments: &str, id: &str) -> Value {
    reply_in(&stack.get_ok(comments).await, id)
}

/// Once the API lists reply `id` as `status`: the page, and the reply.
async fn reply_when(stack: &LocalStack, comments: &str, id: &str, status: &str) -> (Value, Value) {
    let (listed, _) = stack
        .eventually(comments, |page| reply_in(page, id)["status"] == status)
        .await;
    let reply = reply_in(&listed, id);
    (listed, reply)
}

fn receipt(event: &str, token: u64, client: &str) -> Vec<u8> {
    let extra = if event == "failed" {
        r#","desc":"Receiver is not subscribed""#
    } else {
        ""
    };
    format!(
        r#"{{"event":"{event}","timestamp":1732529470339,"chat_hostname":"SN-CHAT-05_","message_token":{token},"user_id":"{client}"{extra}}}"#
    )
    .into_bytes()
}

/// A reply of three parts whose last part waits for retries while Viber's receipts for the
/// first two come in: the reply stays `queued` (never `delivered`) until the last part is
/// accepted, then `sent`, and `delivered` only once all three are; a failed part fails it.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_shows_delivered_only_when_every_part_is() {
    use testkit::fake_viber::Answer;
    let (viber, stack) = LOCAL.connected_with(&SHORT_RETRIES).await;
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let client = fixtures::json("message_text")["sender"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (tasks, _) = stack
        .eventually("/api/tasks", |t| !t["items"].as_array().unwrap().is_empty())
        .await;
    let comments = format!("/api/tasks/{}/comments", tasks["items"][0]["id"].as_str().unwrap());
    let picture = upload(&stack, "box.jpg", "image/jpeg", PICTURE).await;
    let file = upload(&stack, "invoice.pdf", "application/pdf", &file_bytes()).await;

    // Text and picture are accepted; the file meets HTTP 500 on four attempts (SHORT_RETRIES
    // waits up to 0.25 + 0.5 + 1 + 2 s between them) and goes through on the fifth.
    for answer in [Answer::Delay(Duration::ZERO), Answer::Delay(Duration::ZERO)] {
        viber.script("send_message", answer);
    }
    for _ in 0..4 {
        viber.script("send_message", Answer::Http(500));
    }
    let (status, queued) = stack
        .post_json(
            &comments,
            json!({"text": "Ось фото і рахунок.", "attachment_ids": [picture, file], "notify_client": true}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let reply_id = queued["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while viber.accepted_tokens().len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(5), "parts 1 and 2 never sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first_two = viber.accepted_tokens();
    for token in &first_two {
        stack.post_signed(&receipt("delivered", *token, &client)).await;
    }
    // While the file waits for its retry the reply is queued, saying why; never delivered.
    let waiting_until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < waiting_until {
        let reply = reply_status(&stack, &comments, &reply_id).await;
        assert_eq!(reply["status"], "queued", "{reply}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = reply_status(&stack, &comments, &reply_id).await;
    assert!(reply["status_reason"].as_str().unwrap().contains("500"), "{reply}");

    // The file goes through: the reply is `sent` (its last part is not delivered yet).
    let started = Instant::now();
    let sent = loop {
        let reply = reply_status(&stack, &comments, &reply_id).await;
        if reply["status"] != "queued" {
            break reply;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still {reply}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["status_reason"], Value::Null, "{sent}");
    let tokens = viber.accepted_tokens();
    assert_eq!(tokens.len(), 3, "no part was sent twice");
    // Out of order: the file is seen before it is delivered.
    stack.post_signed(&receipt("seen", tokens[2], &client)).await;
    stack.post_signed(&receipt("delivered", tokens[2], &client)).await;
    reply_when(&stack, &comments, &reply_id, "delivered").await;

    // A second reply whose picture Viber reports failed shows `failed`, whatever else arrives.
    let (status, queued) = stack
        .post_json(
            &comments,
            json!({"text": "Ще одне фото", "attachment_ids": [picture], "notify_client": true}),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    let second_id = queued["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while viber.accepted_tokens().len() < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the second reply was never sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tokens = viber.accepted_tokens();
    stack.post_signed(&receipt("failed", tokens[4], &client)).await;
    stack.post_signed(&receipt("seen", tokens[3], &client)).await;
    let (_, failed) = reply_when(&stack, &comments, &second_id, "failed").await;
    assert_eq!(failed["status_reason"], "Receiver is not subscribed", "{failed}");
}

/// A reply posted again under its `Idempotency-Key` (the web inbox after a lost answer), through
/// the local stack's HTTP front and on DynamoDB: answered with the first post's comment, marked
/// `Idempotent-Replayed`, and sent to Viber once.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_posted_again_under_its_key_reaches_viber_once() {
    let (viber, stack) = LOCAL.connected_on_moto().await;
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let (tasks, _) = stack
        .eventually("/api/tasks", |t| !t["items"].as_array().unwrap().is_empty())
        .await;
    let comments = format!("/api/tasks/{}/comments", tasks["items"][0]["id"].as_str().unwrap());
    let post = || async {
        let response = stack
            .request(reqwest::Method::POST, &comments)
            .bearer_auth(testkit::local::OWNER_TOKEN)
            .header("Idempotency-Key", "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")
            .json(&json!({"text": "Посилка вже в дорозі", "notify_client": true}))
            .send()
            .await
            .unwrap();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .map(|value| value.to_str().unwrap().to_owned());
        (response.status(), replayed, response.json::<Value>().await.unwrap())
    };
    let (status, replayed, first) = post().await;
    assert_eq!((status.as_u16(), replayed), (202, None), "{first}");
    let (status, replayed, again) = post().await;
    assert_eq!((status.as_u16(), replayed.as_deref()), (202, Some("true")), "{again}");
    assert_eq!(again["id"], first["id"]);

    let id = first["id"].as_str().unwrap();
    reply_when(&stack, &comments, id, "sent").await;
    // Long enough for a second job to have been sent, had there been one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(viber.bodies("send_message").len(), 1);
    let staff: Vec<Value> = stack.get_ok(&comments).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["author"]["type"] == "staff")
        .cloned()
        .collect();
    assert_eq!(staff.len(), 1);
}
