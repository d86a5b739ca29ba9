//! Through the `viberdesk-local` process: an owner connects bots and runs the team through the
//! staff API alone. The fake Viber checks each webhook with a signed callback to the local stack,
//! clients write, tasks follow the template, and staff move them through their statuses; the
//! next message follows the integration's "new task if no active task" option.

mod support;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::LOCAL;
use testkit::FakeViber;
use testkit::fixtures::DOC_TOKEN;
use testkit::local::LocalStack;

const SALES_TOKEN: &str = "4a2b6c8d0e1f3a5b-7c9d1e3f5a7b9c1d-2e4f6a8b0c2d4e6f";

/// A client's text message, signed with the bot's token, to integration `id`'s webhook.
async fn client_writes(stack: &LocalStack, id: &str, token: &str, user: &str, message_token: u64, text: &str) -> u16 {
    let body = json!({
        "event": "message", "timestamp": 1_732_528_955_210u64 + message_token % 1000,
        "message_token": message_token, "chat_hostname": "SN-CALLBACK-04_",
        "sender": {"id": user, "name": "Олена Коваленко", "language": "uk", "country": "UA", "api_version": 10},
        "message": {"type": "text", "text": text}, "silent": false
    })
    .to_string();
    stack.post_signed_to(id, token, body.as_bytes()).await.as_u16()
}

/// The tasks of an integration once `ready` holds (the processor runs behind the queue).
async fn tasks_when(stack: &LocalStack, id: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let path = format!("/api/tasks?integration_id={id}");
    let (page, _) = stack.eventually(&path, |page| ready(items(page))).await;
    items(&page).to_vec()
}

fn items(page: &Value) -> &[Value] {
    page["items"].as_array().map_or(&[], Vec::as_slice)
}

async fn comments(stack: &LocalStack, task_id: &str) -> usize {
    let (_, page) = stack.get(&format!("/api/tasks/{task_id}/comments")).await;
    items(&page).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_connects_bots_and_completed_tasks_follow_the_option() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    viber.add_bot(SALES_TOKEN, "Acme Sales", "acmesales");
    let stack = LOCAL.start(&["--viber-api-url", &viber.api_url()]).await;
    let (_, me) = stack.get("/api/me").await;
    let owner_id = me["id"].as_str().unwrap().to_owned();

    // The team: a staff member with their own token.
    let (status, ivan) = stack
        .post_json("/api/staff", json!({"name": "Ivan", "role": "staff"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ivan_id = ivan["id"].as_str().unwrap().to_owned();
    let ivan_token = ivan["token"].as_str().unwrap().to_owned();

    // The support bot: Ivan is the template's assignee, the owner a participant.
    let (status, support) = stack
        .post_json(
            "/api/integrations",
            json!({
                "name": "Support", "auth_token": DOC_TOKEN,
                "template": {"task_title": "{bot}: {name}", "assignee_id": ivan_id, "participant_ids": [owner_id]},
                "options": {"new_task_if_no_active": true}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{support}");
    let support_id = support["id"].as_str().unwrap().to_owned();
    assert_eq!(support["webhook_url"], format!("{}/viber/{support_id}", stack.base_url));
    assert_eq!(support["deep_link"], "viber://pa?chatURI=acmesupport");
    assert_eq!(viber.webhook(), Some(format!("{}/viber/{support_id}", stack.base_url)));

    // A client writes: a task per the template.
    assert_eq!(
        client_writes(
            &stack,
            &support_id,
            DOC_TOKEN,
            "u1==",
            7_000_000_000_000_000_001,
            "Добрий день"
        )
        .await,
        200
    );
    let tasks = tasks_when(&stack, &support_id, |t| t.len() == 1).await;
    let first = tasks[0].clone();
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["title"], "Acme Support: Олена Коваленко");
    assert_eq!(first["assignee_id"], ivan_id.as_str());
    assert_eq!(first["participant_ids"], json!([owner_id]));
    assert_eq!(first["status"], "new");

    // Ivan completes it; the client writes again: a new task linked to the first.
    let (status, done) = stack
        .call(
            Method::PATCH,
            &format!("/api/tasks/{first_id}"),
            &ivan_token,
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("completed")));
    assert_eq!(
        client_writes(
            &stack,
            &support_id,
            DOC_TOKEN,
            "u1==",
            7_000_000_000_000_000_002,
            "Ще питання"
        )
        .await,
        200
    );
    let tasks = tasks_when(&stack, &support_id, |t| t.len() == 2).await;
    let second = tasks.iter().find(|t| t["id"] != first["id"]).unwrap();
    assert_eq!(second["previous_task_id"], first_id.as_str());
    assert_eq!(second["status"], "new");
    assert_eq!(second["assignee_id"], ivan_id.as_str());
    assert!(second["description"].as_str().unwrap().contains(&first_id));
    assert_eq!(comments(&stack, &first_id).await, 1);

    // The sales bot, side by side, with the option off: the completed task takes the message.
    let (status, sales) = stack
        .post_json(
            "/api/integrations",
            json!({"name": "Sales", "auth_token": SALES_TOKEN, "options": {"new_task_if_no_active": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sales}");
    let sales_id = sales["id"].as_str().unwrap().to_owned();
    assert_eq!(
        client_writes(
            &stack,
            &sales_id,
            SALES_TOKEN,
            "u2==",
            7_000_000_000_000_000_003,
            "Ціна?"
        )
        .await,
        200
    );
    let tasks = tasks_when(&stack, &sales_id, |t| t.len() == 1).await;
    let sales_task = tasks[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(tasks[0]["title"], "Viber: Олена Коваленко");
    assert_eq!(
        tasks[0]["assignee_id"],
        owner_id.as_str(),
        "no template assignee: the owner"
    );
    let (status, _) = stack
        .patch_json(&format!("/api/tasks/{sales_task}"), json!({"status": "completed"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        client_writes(
            &stack,
            &sales_id,
            SALES_TOKEN,
            "u2==",
            7_000_000_000_000_000_004,
            "Дякую"
        )
        .await,
        200
    );
    let started = Instant::now();
    while comments(&stack, &sales_task).await < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the message never joined the task"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tasks = tasks_when(&stack, &sales_id, |t| t.len() == 1).await;
    assert_eq!(tasks[0]["status"], "completed");

    // Deleted: a new task even with the option off.
    let (status, _) = stack.delete(&format!("/api/tasks/{sales_task}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        client_writes(
            &stack,
            &sales_id,
            SALES_TOKEN,
            "u2==",
            7_000_000_000_000_000_005,
            "Алло"
        )
        .await,
        200
    );
    let tasks = tasks_when(&stack, &sales_id, |t| t.len() == 1 && t[0]["id"] != sales_task.as_str()).await;
    assert_eq!(tasks[0]["previous_task_id"], sales_task.as_str());

    // Disconnected: Viber's webhook is unset and the stack refuses the bot's callbacks at once.
    let (status, _) = stack.delete(&format!("/api/integrations/{sales_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(viber.webhook_of(SALES_TOKEN), None);
    assert_eq!(
        client_writes(&stack, &sales_id, SALES_TOKEN, "u2==", 7_000_000_000_000_000_006, "?").await,
        404
    );
    let (_, list) = stack.call(Method::GET, "/api/integrations", &ivan_token, None).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [support_id.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_viber_token_shortcut_is_an_integration_like_the_others() {
    let (_viber, stack) = LOCAL.connected().await;
    let (status, default) = stack.get("/api/integrations/default").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(default["bot"]["uri"], "acmesupport");
    assert_eq!(default["webhook_url"], format!("{}/viber/default", stack.base_url));
    assert!(default.get("auth_token").is_none());
    // The same bot cannot be connected twice.
    let (status, refused) = stack
        .post_json("/api/integrations", json!({"name": "Again", "auth_token": DOC_TOKEN}))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_connected"))
    );
    // Its template can be changed through the API and applies at once.
    let (status, changed) = stack
        .patch_json(
            "/api/integrations/default",
            json!({"template": {"task_title": "Default: {name}"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        client_writes(&stack, "default", DOC_TOKEN, "u3==", 7_000_000_000_000_000_010, "Hi").await,
        200
    );
    let tasks = tasks_when(&stack, "default", |t| t.len() == 1).await;
    assert_eq!(tasks[0]["title"], "Default: Олена Коваленко");
}
