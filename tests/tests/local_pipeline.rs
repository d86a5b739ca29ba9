//! Through the `viberdesk-local` process: a signed Viber callback becomes a task and a comment
//! that the staff API shows within a second; a client's file follows through the media worker
//! (pending until copied, or unavailable with the reason), never holding back the client's next
//! message; in memory and on moto.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::LOCAL;
use testkit::fixtures;
use testkit::http_client;
use testkit::local::{LocalStack, SHORT_RETRIES};
use testkit::media_server::{MediaReply, MediaServer};

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_message_becomes_a_task_with_its_comment_within_a_second() {
    let (_viber, stack) = LOCAL.connected().await;
    stack.post_signed(&fixtures::bytes("message_text")).await;
    let (tasks, took) = stack
        .eventually("/api/tasks", |v| v["items"].as_array().is_some_and(|i| !i.is_empty()))
        .await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let task = &tasks["items"][0];
    assert_eq!(task["title"], "Viber: Олена Коваленко");
    assert_eq!(task["status"], "new");
    assert_eq!(task["integration_id"], "default");
    let me = stack.get_ok("/api/me").await;
    assert_eq!(task["assignee_id"], me["id"], "no template assignee: the account owner");

    let task_id = task["id"].as_str().unwrap();
    let comments = stack.get_ok(&format!("/api/tasks/{task_id}/comments")).await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 1);
    let comment = &comments["items"][0];
    assert_eq!(comment["author"]["type"], "contact");
    assert_eq!(comment["status"], "received");
    assert_eq!(comment["author"]["id"], task["requester_id"]);
    let contact = stack
        .get_ok(&format!("/api/contacts/{}", task["requester_id"].as_str().unwrap()))
        .await;
    assert_eq!(contact["viber_user_id"], "9Kf2mQ1xT7bVnC3pLs8aZw==");
    assert_eq!(contact["subscribed"], true);

    // Viber re-sends the same callback: nothing changes.
    stack.post_signed(&fixtures::bytes("message_text")).await;
    stack.post_signed(&fixtures::bytes("message_location")).await;
    let path = format!("/api/tasks/{task_id}/comments");
    let (comments, _) = stack
        .eventually(&path, |v| v["items"].as_array().is_some_and(|i| i.len() >= 2))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stack.get_ok(&path).await["items"].as_array().unwrap().len(),
        2,
        "{comments}"
    );
    assert_eq!(stack.get_ok("/api/tasks").await["items"].as_array().unwrap().len(), 1);
}

/// A client's picture message (token `token`) with a caption, linking to `url`.
fn picture_message(token: u64, url: &str) -> String {
    format!(
        r#"{{"event":"message","timestamp":1732529012480,"message_token":{token},"sender":{{"id":"u-pic","name":"Олена"}},"message":{{"type":"picture","text":"Коробка","media":"{url}","file_name":"box.jpg","size":50000}},"silent":false}}"#
    )
}

/// The same client's text message, a second after the picture.
fn text_message(token: u64, text: &str) -> String {
    format!(
        r#"{{"event":"message","timestamp":1732529013480,"message_token":{token},"sender":{{"id":"u-pic","name":"Олена"}},"message":{{"type":"text","text":"{text}"}},"silent":false}}"#
    )
}

/// The only task's comments, once `ready` holds for them (within `limit`).
async fn comments_when(stack: &LocalStack, limit: Duration, ready: impl Fn(&Value) -> bool) -> (Value, Duration) {
    let started = std::time::Instant::now();
    let (tasks, _) = stack
        .eventually_within(limit, Duration::from_millis(20), "/api/tasks", |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
    let path = format!("/api/tasks/{}/comments", tasks["items"][0]["id"].as_str().unwrap());
    let (comments, _) = stack
        .eventually_within(limit, Duration::from_millis(20), &path, ready)
        .await;
    (comments, started.elapsed())
}

fn first_attachment(comments: &Value) -> &Value {
    &comments["items"][0]["attachments"][0]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_picture_is_stored_at_once_then_copied_and_downloadable_through_the_api() {
    let (_viber, stack) = LOCAL.connected().await;
    let media = MediaServer::start().await;
    let picture: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    // The download takes a second: the message is in its task before.
    media.route(
        "/5/media/photo.jpg",
        MediaReply::Delayed(
            Duration::from_secs(1),
            Box::new(MediaReply::Bytes {
                body: picture.clone().into(),
                content_type: Some("image/jpeg".into()),
            }),
        ),
    );
    let url = media.url("/5/media/photo.jpg");
    stack
        .post_signed(picture_message(6031875017251897349, &url).as_bytes())
        .await;
    let (comments, _) = comments_when(&stack, Duration::from_secs(5), |v| {
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    let pending = first_attachment(&comments);
    assert_eq!(pending["available"], false, "{pending}");
    assert_eq!(pending["unavailable_reason"], processor::COPY_PENDING);
    assert_eq!(pending["file_name"], "box.jpg");

    let (comments, _) = comments_when(&stack, Duration::from_secs(5), |v| {
        v["items"][0]["attachments"][0]["available"] == true
    })
    .await;
    let comment = &comments["items"][0];
    assert_eq!(comment["text"], "Коробка");
    let attachment = &comment["attachments"][0];
    assert_eq!(attachment["available"], true);
    assert_eq!(attachment["unavailable_reason"], Value::Null);
    assert_eq!(attachment["file_name"], "box.jpg");
    assert_eq!(attachment["content_type"], "image/jpeg");
    assert_eq!(attachment["size"], 50_000);

    let detail = stack
        .get_ok(&format!("/api/attachments/{}", attachment["id"].as_str().unwrap()))
        .await;
    let download_url = detail["download_url"].as_str().unwrap();
    assert!(download_url.starts_with(&stack.base_url), "{download_url}");
    let downloaded = http_client().get(download_url).send().await.unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), picture.as_slice());
    let tampered = download_url.replace("box", "bax");
    assert_eq!(http_client().get(&tampered).send().await.unwrap().status(), 403);
}

/// A download that hangs (or fails) holds back neither the picture's message nor the client's
/// next one: both are in the task within a second, the picture still pending.
async fn a_slow_download_holds_back_no_message(stack: &LocalStack) {
    let media = MediaServer::start().await;
    media.route(
        "/slow.jpg",
        MediaReply::Delayed(Duration::from_secs(30), Box::new(MediaReply::Status(200))),
    );
    stack
        .post_signed(picture_message(6031875017251897350, &media.url("/slow.jpg")).as_bytes())
        .await;
    stack
        .post_signed(text_message(6031875017251897351, "Ви отримали фото?").as_bytes())
        .await;
    let (comments, took) = comments_when(stack, Duration::from_secs(10), |v| {
        v["items"].as_array().is_some_and(|i| i.len() == 2)
    })
    .await;
    assert!(
        took < Duration::from_secs(3),
        "the text waited for the download: {took:?}"
    );
    assert_eq!(comments["items"][1]["text"], "Ви отримали фото?");
    assert_eq!(first_attachment(&comments)["available"], false);
    assert_eq!(media.hits("/slow.jpg"), 1, "the copy is under way");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_download_holds_back_no_message_in_memory() {
    let (_viber, stack) = LOCAL.connected().await;
    a_slow_download_holds_back_no_message(&stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_download_holds_back_no_message_on_moto() {
    let (_viber, stack) = LOCAL.connected_on_moto().await;
    a_slow_download_holds_back_no_message(&stack).await;
}

/// A file Viber's media server keeps refusing is retried by the media worker until its last
/// receive, then shown unavailable with the reason; the text of its message is there all along.
async fn a_failing_download_ends_unavailable_with_its_reason(stack: &LocalStack, media: &MediaServer) {
    let url = media.fail("/gone.jpg", 503);
    stack
        .post_signed(picture_message(6031875017251897352, &url).as_bytes())
        .await;
    let (comments, _) = comments_when(stack, Duration::from_secs(40), |v| {
        v["items"][0]["attachments"][0]["unavailable_reason"]
            .as_str()
            .is_some_and(|reason| reason != processor::COPY_PENDING)
    })
    .await;
    assert_eq!(comments["items"][0]["text"], "Коробка");
    let attachment = first_attachment(&comments);
    assert_eq!(attachment["available"], false);
    let reason = attachment["unavailable_reason"].as_str().unwrap();
    assert!(reason.contains("503") && reason.contains("5 attempts"), "{reason}");
    assert_eq!(media.hits("/gone.jpg"), 5, "one download per receive");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_download_ends_unavailable_with_its_reason_in_memory() {
    let media = MediaServer::start().await;
    let (_viber, stack) = LOCAL.connected_with(&SHORT_RETRIES).await;
    a_failing_download_ends_unavailable_with_its_reason(&stack, &media).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_download_ends_unavailable_with_its_reason_on_moto() {
    let media = MediaServer::start().await;
    let (_viber, stack) = LOCAL.connected_on_moto_with(&SHORT_RETRIES).await;
    a_failing_download_ends_unavailable_with_its_reason(&stack, &media).await;
}
