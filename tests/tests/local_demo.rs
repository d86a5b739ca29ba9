//! `viberdesk-local --demo`, through the process and the simulator's HTTP endpoints: bot `demo`
//! is connected through the real webhook, a simulated client's actions become signed callbacks
//! that make tasks, staff replies reach the simulated phone and its receipts move the ticks,
//! forced failures are retried and delivered once, a duplicate callback changes nothing, client
//! files are copied before their links expire, and `--demo-seed` fills the inbox.

mod support;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::LOCAL;
use testkit::local::{LocalStack, SHORT_RETRIES};

async fn demo() -> LocalStack {
    // Its forced failures are retried after SHORT_RETRIES, not the sender's 5 s, 10 s, 20 s.
    let stack = LOCAL.start(&[&["--demo"], SHORT_RETRIES.as_slice()].concat()).await;
    demo_bot_connected(&stack).await;
    stack
}

/// The stack answers before bot `demo` is connected (its `set_webhook` check needs the server):
/// waits until the simulator calls its webhook, as the start banner says.
async fn demo_bot_connected(stack: &LocalStack) {
    let started = Instant::now();
    loop {
        let state = state(stack, "").await;
        if state["bots"][0]["webhook"] == true {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "bot demo never connected: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn simulator(stack: &LocalStack, path: &str, body: Value) -> Value {
    let response = stack
        .request(Method::POST, &format!("/simulator/api{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn state(stack: &LocalStack, client: &str) -> Value {
    stack
        .request(Method::GET, &format!("/simulator/api/state?client={client}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the simulator's state until `ready` holds, for at most 10 s.
async fn phone_until(stack: &LocalStack, client: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let state = state(stack, client).await;
        if ready(&state) {
            return state;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{what}: {state:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn new_client(stack: &LocalStack, name: &str) -> String {
    let client = simulator(
        stack,
        "/clients",
        json!({"name": name, "language": "uk-UA", "country": "UA"}),
    )
    .await;
    client["key"].as_str().unwrap().to_owned()
}

async fn write(stack: &LocalStack, client: &str, text: &str) -> Value {
    simulator(
        stack,
        &format!("/clients/{client}/messages"),
        json!({"type": "text", "text": text}),
    )
    .await
}

/// The only task, once the processor made it.
async fn the_task(stack: &LocalStack) -> Value {
    let (tasks, _) = stack
        .eventually("/api/tasks", |v| v["items"].as_array().is_some_and(|i| !i.is_empty()))
        .await;
    tasks["items"][0].clone()
}

async fn reply(stack: &LocalStack, task_id: &str, text: &str) -> String {
    let (status, queued) = stack
        .post_json(
            &format!("/api/tasks/{task_id}/comments"),
            json!({"text": text, "notify_client": true}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    queued["id"].as_str().unwrap().to_owned()
}

fn comment<'a>(comments: &'a Value, id: &str) -> &'a Value {
    comments["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or(&Value::Null)
}

fn bot_messages(state: &Value) -> Vec<Value> {
    state["chat"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["sender"].is_null())
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_bot_is_connected_through_the_webhook_and_the_simulator_is_served_only_in_demo_mode() {
    let stack = demo().await;
    let integrations = stack.get_ok("/api/integrations").await;
    let bot = &integrations["items"][0];
    assert_eq!(bot["id"], "demo");
    assert_eq!(bot["webhook_url"], format!("{}/viber/demo", stack.base_url));
    assert_eq!(bot["bot"]["uri"], "viberdeskdemo");
    assert!(
        bot["bot"]["icon"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/simulator/avatars/", stack.base_url))
    );
    assert!(bot["options"]["welcome_message"].is_string());
    let state = state(&stack, "").await;
    assert_eq!(state["bots"][0]["webhook"], true, "set_webhook's check went through");
    assert!(
        state["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().starts_with("webhook callback")),
        "{state}"
    );

    let page = stack.request(Method::GET, "/simulator").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        "default-src 'self'; frame-ancestors 'none'"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    for path in html
        .split('"')
        .filter(|s| s.starts_with("/simulator/assets/") || s.starts_with("/app/"))
    {
        let asset = stack.request(Method::GET, path).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{path}");
    }

    let plain = LOCAL.start(&[]).await;
    for path in ["/simulator", "/simulator/pa/get_account_info", "/simulator/api/state"] {
        let status = plain.request(Method::GET, path).send().await.unwrap().status();
        assert_eq!(status, 404, "{path} without --demo");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_s_message_becomes_a_task_and_the_reply_reaches_the_phone_whose_receipts_move_the_ticks() {
    let stack = demo().await;
    let client = new_client(&stack, "Олена Коваленко").await;
    let started = simulator(&stack, &format!("/clients/{client}/conversation"), json!({})).await;
    assert_eq!(started["event"], "conversation_started");
    assert_eq!(started["accepted"], true);
    let welcome = state(&stack, &client).await;
    let messages = bot_messages(&welcome);
    assert_eq!(messages.len(), 1, "the welcome message answered conversation_started");
    assert_eq!(messages[0]["state"], "welcome");
    assert_eq!(messages[0]["sender"]["name"], "viberdesk demo");

    let sent = write(&stack, &client, "Добрий день! <img src=x onerror=alert(1)>").await;
    assert_eq!(sent["accepted"], true);
    let task = the_task(&stack).await;
    assert_eq!(task["title"], "Viber: Олена Коваленко");
    assert_eq!(task["integration_id"], "demo");
    let contact = stack
        .get_ok(&format!("/api/contacts/{}", task["requester_id"].as_str().unwrap()))
        .await;
    assert_eq!(contact["subscribed"], true);
    assert_eq!(contact["language"], "uk-UA");
    let task_id = task["id"].as_str().unwrap();
    let path = format!("/api/tasks/{task_id}/comments");
    let comments = stack.get_ok(&path).await;
    assert_eq!(
        comments["items"][0]["text"],
        "Добрий день! <img src=x onerror=alert(1)>"
    );

    let reply_id = reply(&stack, task_id, "Вітаю! Перевіряю ваше замовлення.").await;
    let phone = phone_until(&stack, &client, "the reply on the phone", |s| {
        bot_messages(s)
            .iter()
            .any(|m| m["content"]["text"] == "Вітаю! Перевіряю ваше замовлення." && m["state"] == "delivered")
    })
    .await;
    let shown = bot_messages(&phone).pop().unwrap();
    assert_eq!(
        shown["sender"]["name"], "Owner",
        "the demo bot sends as the staff member"
    );
    let (comments, _) = stack
        .eventually(&path, |v| comment(v, &reply_id)["status"] == "delivered")
        .await;
    assert_eq!(comment(&comments, &reply_id)["status"], "delivered");

    // The chat is open on the phone: `seen`.
    let seen = simulator(&stack, &format!("/clients/{client}/seen"), json!({})).await;
    assert_eq!(seen["seen"], 1);
    stack
        .eventually(&path, |v| comment(v, &reply_id)["status"] == "seen")
        .await;

    // The client unsubscribes: the stack knows, and refuses to send.
    simulator(
        &stack,
        &format!("/clients/{client}/subscription"),
        json!({"subscribed": false}),
    )
    .await;
    let contact_path = format!("/api/contacts/{}", task["requester_id"].as_str().unwrap());
    stack.eventually(&contact_path, |v| v["subscribed"] == false).await;
    simulator(
        &stack,
        &format!("/clients/{client}/subscription"),
        json!({"subscribed": true}),
    )
    .await;
    stack.eventually(&contact_path, |v| v["subscribed"] == true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forced_failures_are_retried_and_the_reply_is_delivered_once() {
    let stack = demo().await;
    let client = new_client(&stack, "Andrii Tkachenko").await;
    write(&stack, &client, "Where is my parcel?").await;
    let task = the_task(&stack).await;
    for (fault, count) in [("http500", 1), ("rate_limit", 1), ("drop_connection", 1)] {
        let added = simulator(&stack, "/faults", json!({"send": fault, "count": count})).await;
        assert_eq!(added["added"], count);
    }
    let reply_id = reply(&stack, task["id"].as_str().unwrap(), "It leaves the warehouse today.").await;
    let path = format!("/api/tasks/{}/comments", task["id"].as_str().unwrap());
    let started = Instant::now();
    loop {
        let comments = stack.get_ok(&path).await;
        if comment(&comments, &reply_id)["status"] == "delivered" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not delivered: {comments}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let phone = state(&stack, &client).await;
    let copies = bot_messages(&phone)
        .iter()
        .filter(|m| m["content"]["text"] == "It leaves the warehouse today.")
        .count();
    assert_eq!(copies, 1, "delivered exactly once: {phone:#}");
    let log: Vec<String> = phone["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect();
    for forced in ["HTTP 500", "status 12", "connection dropped"] {
        assert!(
            log.iter().any(|l| l.starts_with("send_message") && l.contains(forced)),
            "{forced}: {log:#?}"
        );
    }
    assert_eq!(phone["faults"]["send"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_sent_callback_changes_nothing_and_a_forged_one_is_refused() {
    let stack = demo().await;
    let client = new_client(&stack, "Марія Бондаренко").await;
    write(&stack, &client, "Перше повідомлення").await;
    let task = the_task(&stack).await;
    let path = format!("/api/tasks/{}/comments", task["id"].as_str().unwrap());
    stack
        .eventually(&path, |v| v["items"].as_array().is_some_and(|i| i.len() == 1))
        .await;
    let again = simulator(&stack, "/duplicate", json!({})).await;
    assert_eq!(again["event"], "message");
    assert_eq!(again["accepted"], true, "the webhook answers 200 to a copy");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.get_ok(&path).await["items"].as_array().unwrap().len(), 1);
    assert_eq!(stack.get_ok("/api/tasks").await["items"].as_array().unwrap().len(), 1);

    // The simulator signs; it does not get around the webhook's check.
    let forged = r#"{"event":"message","timestamp":1,"message_token":5000000000000000001,"sender":{"id":"x=="},"message":{"type":"text","text":"forged"}}"#;
    let refused = stack
        .request(Method::POST, "/viber/demo")
        .header("X-Viber-Content-Signature", "0".repeat(64))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_s_picture_is_copied_and_its_link_refuses_tampering() {
    let stack = demo().await;
    let client = new_client(&stack, "Emma Smith").await;
    let picture: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let response = stack
        .request(Method::POST, &format!("/simulator/api/clients/{client}/files"))
        .header("Content-Type", "image/jpeg")
        .header("X-File-Name", "%D1%84%D0%BE%D1%82%D0%BE.jpg")
        .header("X-Caption", "Box")
        .body(picture.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let task = the_task(&stack).await;
    let path = format!("/api/tasks/{}/comments", task["id"].as_str().unwrap());
    let (comments, _) = stack
        .eventually(&path, |v| v["items"][0]["attachments"][0]["available"] == true)
        .await;
    let attachment = &comments["items"][0]["attachments"][0];
    assert_eq!(attachment["file_name"], "фото.jpg");
    assert_eq!(attachment["size"], 20_000);
    assert_eq!(comments["items"][0]["text"], "Box");

    let phone = state(&stack, &client).await;
    let link = phone["chat"]["entries"][0]["content"]["file"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.contains("Expires=") && link.contains("Signature="), "{link}");
    let fetched = stack.request(Method::GET, &link).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), picture.as_slice());
    for tampered in [
        link.replace("Expires=", "Expires=1"),
        link.replace("Signature=", "Signature=0"),
        link.replace("/media/1/", "/media/2/"),
    ] {
        let status = stack.request(Method::GET, &tampered).send().await.unwrap().status();
        assert!(status == 403 || status == 404, "{tampered}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulated_viber_api_checks_requests_like_viber() {
    let stack = demo().await;
    let call = |token: Option<&str>, body: String| {
        let mut request = stack.request(Method::POST, "/simulator/pa/send_message").body(body);
        if let Some(token) = token {
            request = request.header("X-Viber-Auth-Token", token);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(call(None, "{}".into()).await["status"], 2);
    assert_eq!(call(Some("not-a-bot-token"), "{}".into()).await["status"], 2);
    assert_eq!(
        call(Some("x"), format!(r#"{{"text":"{}"}}"#, "a".repeat(31_000))).await["status"],
        3
    );
    // Page requests need JSON, so that no form on another site can send them.
    let form = stack
        .request(Method::POST, "/simulator/api/clients")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_fills_the_inbox_through_the_pipeline() {
    let stack = LOCAL.start(&["--demo", "--demo-seed", "30"]).await;
    // The stack answers while it seeds: wait for every task and the replies' receipts.
    let started = Instant::now();
    let tasks = loop {
        let tasks = stack.get_ok("/api/tasks?limit=100").await;
        let items = tasks["items"].as_array().unwrap().clone();
        if items.len() >= 30 {
            break items;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{tasks}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let integrations = stack.get_ok("/api/integrations").await;
    assert_eq!(integrations["items"].as_array().unwrap().len(), 2, "two bots");
    assert!(stack.get_ok("/api/staff").await["items"].as_array().unwrap().len() >= 4);
    assert_eq!(
        stack.get_ok("/api/quick-replies").await["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Every status shows up once staff have worked (the seeder patches after it replies).
    let started = Instant::now();
    loop {
        let tasks = stack.get_ok("/api/tasks?limit=100").await;
        let statuses: std::collections::BTreeSet<String> = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap().to_owned())
            .collect();
        if statuses.len() == 5 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut kinds = std::collections::BTreeSet::new();
    for task in &tasks {
        let comments = stack
            .get_ok(&format!("/api/tasks/{}/comments", task["id"].as_str().unwrap()))
            .await;
        for comment in comments["items"].as_array().unwrap() {
            if let Some(text) = comment["text"].as_str() {
                if text.starts_with("[sticker") {
                    kinds.insert("sticker");
                } else if text.starts_with("Shared contact") {
                    kinds.insert("contact");
                } else if text.starts_with("Location") {
                    kinds.insert("location");
                } else if text.starts_with("https://") {
                    kinds.insert("url");
                }
            }
            for attachment in comment["attachments"].as_array().unwrap() {
                kinds.insert(match attachment["content_type"].as_str().unwrap() {
                    "image/png" => "picture",
                    "video/mp4" => "video",
                    _ => "file",
                });
            }
        }
    }
    for kind in ["picture", "video", "file", "sticker", "contact", "location", "url"] {
        assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_runs_on_the_aws_adapters() {
    let stack = LOCAL.start_on_moto(&["--demo"]).await;
    demo_bot_connected(&stack).await;
    let client = new_client(&stack, "Oksana Rudenko").await;
    let picture: Vec<u8> = (0..5_000u32).map(|i| (i % 13) as u8).collect();
    let response = stack
        .request(Method::POST, &format!("/simulator/api/clients/{client}/files"))
        .header("Content-Type", "image/png")
        .header("X-File-Name", "scan.png")
        .body(picture)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let task = the_task(&stack).await;
    let path = format!("/api/tasks/{}/comments", task["id"].as_str().unwrap());
    stack
        .eventually(&path, |v| v["items"][0]["attachments"][0]["available"] == true)
        .await;
    let reply_id = reply(&stack, task["id"].as_str().unwrap(), "Thanks, got it").await;
    stack
        .eventually(&path, |v| comment(v, &reply_id)["status"] == "delivered")
        .await;
}
