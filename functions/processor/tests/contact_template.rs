//! Issue 16: a new client of a bot gets the bot's contact template (group, labels, fields), once:
//! a later template change never rewrites an existing contact.

use std::sync::Arc;

use processor::{Outcome, Processor};
use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Contact, ContactTemplate, Integration};
use shared::ports::{ContactAdmin, ContactFilter, ContactStore, IntegrationStore, PageRequest};
use shared::rules::contact_id;
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;
use testkit::fixtures;

/// The Viber user of the fixtures.
const USER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

fn retail() -> ContactTemplate {
    ContactTemplate {
        group: Some("Retail clients".into()),
        labels: vec!["viber".into(), "new".into()],
        fields: [("source".to_owned(), "Viber bot Acme".to_owned())].into(),
    }
}

fn acme(template: ContactTemplate) -> Integration {
    build::integration("acme").contact_template(template).build()
}

/// A processor on `store`, with a fresh integration cache (as after the cache's TTL).
fn processor_on(store: &Arc<MemoryStore>) -> Processor {
    Processor::new(
        store.clone(),
        Arc::new(MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    .without_avatar_copies()
}

async fn setup(template: ContactTemplate) -> (Arc<MemoryStore>, Processor) {
    let store = Arc::new(MemoryStore::new());
    store.put_integration(&acme(template)).await.unwrap();
    let processor = processor_on(&store);
    (store, processor)
}

fn queued(body: &[u8]) -> String {
    let callback = Callback::from_slice(body).unwrap();
    queue_message(
        &IntegrationId::parse("acme").unwrap(),
        body,
        &callback,
        Timestamp::now(),
    )
    .unwrap()
    .body
}

fn text_message(token: u64, user: &str) -> String {
    let body = format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Client"}},"message":{{"type":"text","text":"hi"}}}}"#,
        1_732_528_955_210 + token as i64
    );
    queued(body.as_bytes())
}

async fn contact_of(store: &MemoryStore, user: &str) -> Contact {
    let id = contact_id(&IntegrationId::parse("acme").unwrap(), user);
    store.get_contact(&id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_new_client_gets_the_template_and_a_template_change_never_rewrites_them() {
    let (store, processor) = setup(retail()).await;
    assert_eq!(
        processor.process(&text_message(1, "u1")).await.unwrap(),
        Outcome::Applied
    );
    let first = contact_of(&store, "u1").await;
    assert_eq!(first.group.as_deref(), Some("Retail clients"));
    assert_eq!(first.labels, ["viber", "new"]);
    assert_eq!(first.fields["source"], "Viber bot Acme");

    store
        .put_integration(&acme(ContactTemplate {
            group: Some("Wholesale".into()),
            labels: vec!["b2b".into()],
            fields: Default::default(),
        }))
        .await
        .unwrap();
    let processor = processor_on(&store);
    processor.process(&text_message(2, "u1")).await.unwrap();
    let again = contact_of(&store, "u1").await;
    assert_eq!(
        (again.group, again.labels, again.fields),
        (first.group, first.labels, first.fields),
        "an existing contact keeps what it had"
    );
    processor.process(&text_message(3, "u2")).await.unwrap();
    let second = contact_of(&store, "u2").await;
    assert_eq!(second.group.as_deref(), Some("Wholesale"));
    assert_eq!(second.labels, ["b2b"]);
    assert!(second.fields.is_empty());

    let in_wholesale = store
        .list_contacts_by(
            &ContactFilter {
                group: Some("Wholesale".into()),
                label: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(in_wholesale.items, [second]);
}

#[tokio::test]
async fn a_contact_created_by_a_conversation_start_gets_the_template_too() {
    let (store, processor) = setup(retail()).await;
    processor
        .process(&queued(&fixtures::bytes("conversation_started")))
        .await
        .unwrap();
    let contact = contact_of(&store, USER).await;
    assert_eq!(contact.group.as_deref(), Some("Retail clients"));
    assert_eq!(contact.labels, ["viber", "new"]);
}

#[tokio::test]
async fn a_bot_without_a_template_creates_bare_contacts() {
    let (store, processor) = setup(ContactTemplate::default()).await;
    processor.process(&text_message(1, "u1")).await.unwrap();
    let contact = contact_of(&store, "u1").await;
    assert!(contact.group.is_none() && contact.labels.is_empty() && contact.fields.is_empty());
}
