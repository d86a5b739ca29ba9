//! Through the `viberdesk-local` process: a signed Viber callback becomes a task and a comment
//! that the staff API shows, media included, within a second.

mod support;

use std::time::Duration;

use support::LOCAL;
use testkit::fixtures;
use testkit::http_client;
use testkit::media_server::MediaServer;

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

#[tokio::test(flavor = "multi_thread")]
async fn a_picture_is_copied_and_downloadable_through_the_api() {
    let (_viber, stack) = LOCAL.connected().await;
    let media = MediaServer::start().await;
    let picture: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let url = media.serve("/5/media/photo.jpg", picture.clone(), "image/jpeg");
    let body = format!(
        r#"{{"event":"message","timestamp":1732529012480,"message_token":6031875017251897349,"sender":{{"id":"u-pic","name":"Олена"}},"message":{{"type":"picture","text":"Коробка","media":"{url}","file_name":"box.jpg","size":50000}},"silent":false}}"#
    );
    stack.post_signed(body.as_bytes()).await;
    let (tasks, _) = stack
        .eventually("/api/tasks", |v| v["items"].as_array().is_some_and(|i| !i.is_empty()))
        .await;
    let task_id = tasks["items"][0]["id"].as_str().unwrap().to_owned();
    let comments = stack.get_ok(&format!("/api/tasks/{task_id}/comments")).await;
    let comment = &comments["items"][0];
    assert_eq!(comment["text"], "Коробка");
    let attachment = &comment["attachments"][0];
    assert_eq!(attachment["available"], true);
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
