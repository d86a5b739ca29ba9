//! Issue 16 through the `viberdesk-local` process: an owner connects two bots with different
//! contact templates; a client of each lands in their bot's group with its labels and fields;
//! staff re-sort one, the lists by group and label follow, and a template change leaves the
//! existing contact as it was. Run on the in-memory adapters and on DynamoDB (moto).

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::LOCAL;
use testkit::FakeViber;
use testkit::fixtures::DOC_TOKEN;
use testkit::local::LocalStack;

const SALES_TOKEN: &str = "4a2b6c8d0e1f3a5b-7c9d1e3f5a7b9c1d-2e4f6a8b0c2d4e6f";

async fn client_writes(stack: &LocalStack, id: &str, token: &str, user: &str, message_token: u64) {
    let body = json!({
        "event": "message", "timestamp": 1_732_528_955_210u64 + message_token % 1000,
        "message_token": message_token, "sender": {"id": user, "name": format!("Client {user}")},
        "message": {"type": "text", "text": "Добрий день"}
    })
    .to_string();
    assert_eq!(stack.post_signed_to(id, token, body.as_bytes()).await, StatusCode::OK);
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// The contacts at `query` once there are `count` of them (the processor runs behind the queue;
/// the index lists are eventually consistent).
async fn contacts_when(stack: &LocalStack, query: &str, count: usize) -> Vec<Value> {
    let path = format!("/api/contacts{query}");
    let (page, _) = stack
        .eventually_within(Duration::from_secs(15), Duration::from_millis(100), &path, |page| {
            items(page).len() == count
        })
        .await;
    items(&page)
}

async fn connect(stack: &LocalStack, name: &str, token: &str, contact_template: Value) -> String {
    let (status, bot) = stack
        .post_json(
            "/api/integrations",
            json!({"name": name, "auth_token": token, "contact_template": contact_template}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    assert_eq!(bot["contact_template"], contact_template);
    bot["id"].as_str().unwrap().to_owned()
}

async fn two_bots_sort_their_clients(stack: LocalStack) {
    let retail =
        json!({"group": "Retail clients", "labels": ["viber", "retail"], "fields": {"source": "Viber bot Acme"}});
    let wholesale = json!({"group": "Wholesale", "labels": ["viber", "b2b"], "fields": {"source": "Acme Sales", "manager": "Ivan"}});
    let support = connect(&stack, "Support", DOC_TOKEN, retail.clone()).await;
    let sales = connect(&stack, "Sales", SALES_TOKEN, wholesale.clone()).await;

    client_writes(&stack, &support, DOC_TOKEN, "olena==", 5_000_000_000_000_000_001).await;
    client_writes(&stack, &sales, SALES_TOKEN, "taras==", 5_000_000_000_000_000_002).await;

    let in_retail = contacts_when(&stack, "?group=Retail%20clients", 1).await;
    assert_eq!(in_retail[0]["integration_id"], support.as_str());
    assert_eq!(in_retail[0]["viber_user_id"], "olena==");
    assert_eq!(in_retail[0]["labels"], retail["labels"]);
    assert_eq!(in_retail[0]["fields"], retail["fields"]);
    let in_wholesale = contacts_when(&stack, "?group=Wholesale", 1).await;
    assert_eq!(in_wholesale[0]["integration_id"], sales.as_str());
    assert_eq!(in_wholesale[0]["labels"], wholesale["labels"]);
    assert_eq!(in_wholesale[0]["fields"], wholesale["fields"]);
    assert_eq!(contacts_when(&stack, "?label=viber", 2).await.len(), 2);
    let b2b = contacts_when(&stack, "?label=b2b", 1).await;
    assert_eq!(b2b[0]["id"], in_wholesale[0]["id"]);

    // Staff move the retail client to wholesale; the lists follow.
    let olena = in_retail[0]["id"].as_str().unwrap().to_owned();
    let (status, changed) = stack
        .patch_json(
            &format!("/api/contacts/{olena}"),
            json!({"group": "Wholesale", "labels": ["viber", "b2b", "vip"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["fields"], retail["fields"], "fields untouched");
    contacts_when(&stack, "?group=Retail%20clients", 0).await;
    assert_eq!(contacts_when(&stack, "?group=Wholesale", 2).await.len(), 2);
    let vip = contacts_when(&stack, "?label=vip&group=Wholesale", 1).await;
    assert_eq!(vip[0]["id"], olena.as_str());

    // A template change applies to new clients only.
    let (status, _) = stack
        .patch_json(
            &format!("/api/integrations/{sales}"),
            json!({"contact_template": {"group": "Partners", "labels": [], "fields": {}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    client_writes(&stack, &sales, SALES_TOKEN, "taras==", 5_000_000_000_000_000_003).await;
    client_writes(&stack, &sales, SALES_TOKEN, "mykola==", 5_000_000_000_000_000_004).await;
    let partners = contacts_when(&stack, "?group=Partners", 1).await;
    assert_eq!(partners[0]["viber_user_id"], "mykola==");
    assert_eq!(partners[0]["labels"], json!([]));
    let taras = stack
        .get_ok(&format!("/api/contacts/{}", in_wholesale[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(taras["group"], "Wholesale");
    assert_eq!(taras["fields"], wholesale["fields"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bots_with_different_contact_templates_each_sort_their_client() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    viber.add_bot(SALES_TOKEN, "Acme Sales", "acmesales");
    let stack = LOCAL.start(&["--viber-api-url", &viber.api_url()]).await;
    two_bots_sort_their_clients(stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bots_with_different_contact_templates_each_sort_their_client_on_dynamodb() {
    let viber = FakeViber::start(DOC_TOKEN).await;
    viber.add_bot(SALES_TOKEN, "Acme Sales", "acmesales");
    let stack = LOCAL.start_on_moto(&["--viber-api-url", &viber.api_url()]).await;
    two_bots_sort_their_clients(stack).await;
}
