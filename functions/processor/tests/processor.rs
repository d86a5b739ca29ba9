//! The processor on in-memory adapters: each rule, redelivery, duplicates, FIFO batch failures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use processor::{Outcome, Processor};
use shared::ids::{CommentId, IntegrationId, StaffId, TaskId};
use shared::inbound::queue_message;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{CommentStatus, IntegrationOptions, TaskState, TaskStatus, TaskTemplate};
use shared::ports::{ContactStore, DeliveryStore, IntegrationStore, PageRequest, PartRef, TaskFilter, TaskStore};
use shared::retry::Retry;
use shared::rules::contact_id;
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;
use testkit::fixtures::{self};

const USER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

struct Setup {
    store: Arc<MemoryStore>,
    processor: Processor,
}

async fn setup(options: IntegrationOptions) -> Setup {
    let store = Arc::new(MemoryStore::new());
    store
        .put_integration(
            &build::integration("acme")
                .template(TaskTemplate {
                    task_title: "Viber: {name}".into(),
                    initial_status: TaskStatus::InProgress,
                    assignee_id: Some(StaffId::parse("ivan").unwrap()),
                    participant_ids: vec![StaffId::parse("olga").unwrap()],
                })
                .options(options)
                .connected_by("owner")
                .build(),
        )
        .await
        .unwrap();
    let processor = Processor::new(
        store.clone(),
        Arc::new(MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    .without_avatar_copies();
    Setup { store, processor }
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

fn fixture(name: &str) -> String {
    queued(&fixtures::bytes(name))
}

fn text_message(token: u64, user: &str, text: &str) -> String {
    let body = format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Олена"}},"message":{{"type":"text","text":"{text}"}}}}"#,
        1_732_528_955_210 + token as i64
    );
    queued(body.as_bytes())
}

async fn tasks(store: &MemoryStore) -> Vec<shared::model::Task> {
    store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(100))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn the_first_message_creates_a_task_from_the_template() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    assert_eq!(
        processor.process(&fixture("message_text")).await.unwrap(),
        Outcome::Applied
    );
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task.title, "Viber: Олена Коваленко");
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.assignee_id.as_ref().map(StaffId::as_str), Some("ivan"));
    assert_eq!(task.participant_ids, vec![StaffId::parse("olga").unwrap()]);
    let contact_id = contact_id(&IntegrationId::parse("acme").unwrap(), USER);
    assert_eq!(task.requester_id, contact_id);
    let contact = store.get_contact(&contact_id).await.unwrap().unwrap();
    assert!(contact.subscribed, "a client who writes is subscribed");
    assert_eq!(contact.language.as_deref(), Some("uk-UA"));
    assert_eq!(contact.phone, None);
    let comments = store
        .list_comments(&task.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].status, CommentStatus::Received);
    assert_eq!(comments[0].viber_message_token, Some(6_031_874_777_027_428_736));
}

#[tokio::test]
async fn later_messages_are_appended_oldest_first() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    for name in ["message_text", "message_location", "message_url", "message_sticker"] {
        processor.process(&fixture(name)).await.unwrap();
    }
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 1);
    let comments = store
        .list_comments(&tasks[0].id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let kinds: Vec<_> = comments.iter().map(|c| c.viber_message_type.clone().unwrap()).collect();
    assert_eq!(kinds, ["text", "location", "sticker", "url"], "ordered by Viber's time");
}

#[tokio::test]
async fn a_redelivered_callback_changes_nothing() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let body = fixture("message_text");
    assert_eq!(processor.process(&body).await.unwrap(), Outcome::Applied);
    let contact_id = contact_id(&IntegrationId::parse("acme").unwrap(), USER);
    let before = store.get_contact(&contact_id).await.unwrap();
    assert_eq!(processor.process(&body).await.unwrap(), Outcome::Duplicate);
    assert_eq!(store.get_contact(&contact_id).await.unwrap(), before);
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        store
            .list_comments(&tasks[0].id, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn a_message_re_sent_after_a_new_task_opened_is_found_in_the_earlier_task() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let first = text_message(1, "u1", "first");
    processor.process(&first).await.unwrap();
    let closed = close_current_task(&store, TaskState::Inactive).await;
    processor.process(&text_message(2, "u1", "second")).await.unwrap();
    // Viber re-sends the first message within its hour: the contact is on the new task now.
    assert_eq!(processor.process(&first).await.unwrap(), Outcome::Duplicate);
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        let comments = store
            .list_comments(&task.id, &PageRequest::first(10))
            .await
            .unwrap()
            .items;
        assert_eq!(comments.len(), 1, "task {} (closed: {})", task.id, task.id == closed);
    }
}

#[tokio::test]
async fn a_subscribed_clients_next_message_leaves_the_contact_unwritten() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    processor.process(&text_message(1, "u1", "first")).await.unwrap();
    let id = contact_id(&IntegrationId::parse("acme").unwrap(), "u1");
    let before = store.get_contact(&id).await.unwrap();
    processor.process(&text_message(2, "u1", "second")).await.unwrap();
    assert_eq!(store.get_contact(&id).await.unwrap(), before);
    let tasks = tasks(&store).await;
    let comments = store
        .list_comments(&tasks[0].id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(comments.len(), 2);
}

#[tokio::test]
async fn a_shared_contact_card_records_the_phone() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    processor.process(&fixture("message_contact")).await.unwrap();
    let contact = store
        .get_contact(&contact_id(&IntegrationId::parse("acme").unwrap(), USER))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contact.phone.as_deref(), Some("+380671234567"));
}

async fn close_current_task(store: &MemoryStore, state: TaskState) -> TaskId {
    let id = contact_id(&IntegrationId::parse("acme").unwrap(), "u1");
    let mut contact = store.get_contact(&id).await.unwrap().unwrap();
    let version = contact.version;
    let current = contact.current_task.as_mut().unwrap();
    current.state = state;
    let task_id = current.id.clone();
    contact.version += 1;
    store.put_contact(&contact, Some(version)).await.unwrap();
    task_id
}

#[tokio::test]
async fn after_a_completed_task_a_new_one_links_it_when_the_option_is_on() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    processor.process(&text_message(1, "u1", "first")).await.unwrap();
    let first = close_current_task(&store, TaskState::Inactive).await;
    processor.process(&text_message(2, "u1", "again")).await.unwrap();
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 2);
    let newest = tasks.iter().find(|t| t.id != first).unwrap();
    assert_eq!(newest.previous_task_id.as_ref(), Some(&first));
    assert!(newest.description.contains(first.as_str()));
}

#[tokio::test]
async fn after_a_completed_task_messages_go_on_into_it_when_the_option_is_off() {
    let options = IntegrationOptions {
        new_task_if_no_active: false,
        ..IntegrationOptions::default()
    };
    let Setup { store, processor } = setup(options).await;
    processor.process(&text_message(1, "u1", "first")).await.unwrap();
    let first = close_current_task(&store, TaskState::Inactive).await;
    processor.process(&text_message(2, "u1", "again")).await.unwrap();
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        store
            .list_comments(&first, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn after_a_deleted_task_a_new_one_is_created_even_with_the_option_off() {
    let options = IntegrationOptions {
        new_task_if_no_active: false,
        ..IntegrationOptions::default()
    };
    let Setup { store, processor } = setup(options).await;
    processor.process(&text_message(1, "u1", "first")).await.unwrap();
    let first = close_current_task(&store, TaskState::Deleted).await;
    processor.process(&text_message(2, "u1", "again")).await.unwrap();
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 2);
    let newest = tasks.iter().find(|t| t.id != first).unwrap();
    assert_eq!(newest.previous_task_id.as_ref(), Some(&first));
}

#[tokio::test]
async fn subscription_events_are_recorded_on_the_contact() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    processor.process(&fixture("subscribed")).await.unwrap();
    let id = contact_id(&IntegrationId::parse("acme").unwrap(), "tXn4R0pYk2cVb8mHq1LzeA==");
    let contact = store.get_contact(&id).await.unwrap().unwrap();
    assert!(contact.subscribed);
    assert_eq!(contact.name.as_deref(), Some("Subscriber"));
    processor.process(&fixture("unsubscribed")).await.unwrap();
    assert!(!store.get_contact(&id).await.unwrap().unwrap().subscribed);
    // The late redelivery of the earlier `subscribed` does not undo the unsubscription.
    processor.process(&fixture("subscribed")).await.unwrap();
    assert!(!store.get_contact(&id).await.unwrap().unwrap().subscribed);
    processor.process(&fixture("conversation_started")).await.unwrap();
    let started = store
        .get_contact(&contact_id(&IntegrationId::parse("acme").unwrap(), USER))
        .await
        .unwrap()
        .unwrap();
    assert!(!started.subscribed, "opening the chat is not a subscription");
    assert!(tasks(&store).await.is_empty(), "only messages open tasks");
}

#[tokio::test]
async fn receipts_advance_the_part_they_name_and_unknown_tokens_are_ignored() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    processor.process(&text_message(1, USER, "hello")).await.unwrap();
    let task = tasks(&store).await.remove(0);
    let comment = store
        .list_comments(&task.id, &PageRequest::first(1))
        .await
        .unwrap()
        .items
        .remove(0);
    let part = PartRef {
        task_id: task.id.clone(),
        comment_id: comment.id.clone(),
    };
    let integration = IntegrationId::parse("acme").unwrap();
    store
        .record_part(&integration, 6_031_876_937_401_069_573, &part)
        .await
        .unwrap();
    assert_eq!(
        processor.process(&fixture("failed")).await.unwrap(),
        Outcome::Ignored("receipt for an unknown message token")
    );
    assert_eq!(
        processor.process(&fixture("delivered")).await.unwrap(),
        Outcome::Applied
    );
    let parts =
        |comments: Vec<shared::model::Comment>| comments.into_iter().find(|c| c.id == comment.id).unwrap().parts;
    let after = parts(
        store
            .list_comments(&task.id, &PageRequest::first(10))
            .await
            .unwrap()
            .items,
    );
    assert_eq!(after.get("6031876937401069573"), Some(&CommentStatus::Delivered));
}

fn record(id: &str, group: &str, body: String) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body);
    message.attributes = HashMap::from([("MessageGroupId".to_owned(), group.to_owned())]);
    message
}

#[tokio::test]
async fn a_poison_record_fails_itself_and_the_rest_of_its_group_only() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let mut event = SqsEvent::default();
    event.records = vec![
        record("a1", "acme:a", text_message(1, "a", "one")),
        record("a2", "acme:a", "not an envelope".into()),
        record("b1", "acme:b", text_message(3, "b", "other user")),
        record("a3", "acme:a", text_message(4, "a", "after the poison")),
    ];
    let response = processor.handle_batch(event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["a2", "a3"]);
    assert_eq!(tasks(&store).await.len(), 2, "a and b each got their task");
}

/// A record with what SQS adds: a receipt handle and its receive count.
fn received(id: &str, group: &str, body: String, receive_count: u32) -> SqsMessage {
    let mut message = record(id, group, body);
    message.receipt_handle = Some(format!("receipt-{id}"));
    message
        .attributes
        .insert("ApproximateReceiveCount".to_owned(), receive_count.to_string());
    message
}

#[tokio::test]
async fn a_failed_record_is_retried_with_the_rest_of_its_group_held_back_behind_it() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let mut event = SqsEvent::default();
    event.records = vec![
        received("a1", "acme:a", text_message(1, "a", "one"), 1),
        received("a2", "acme:a", "not an envelope".into(), 3),
        received("b1", "acme:b", text_message(3, "b", "other user"), 1),
        received("a3", "acme:a", text_message(4, "a", "after the poison"), 1),
        received("a4", "acme:a", text_message(5, "a", "and another"), 1),
    ];
    let (response, retries) = processor.handle_batch_with_retries(event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["a2", "a3", "a4"]);
    // Only a2 failed, on its third receive: its back-off is that of a third failure. a3 and a4
    // were not tried; they are released at once (in flight, they would hold the group for the
    // queue's visibility timeout) and wait behind a2, which comes back first.
    assert_eq!(
        retries,
        [Retry {
            receipt_handle: "receipt-a2".into(),
            receive_count: 3,
            held_back: vec!["receipt-a3".into(), "receipt-a4".into()],
        }]
    );
    assert_eq!(tasks(&store).await.len(), 2, "a1 and b1 were applied");
}

#[tokio::test]
async fn a_record_failing_on_its_last_receive_goes_on_to_the_dlq_at_once() {
    let Setup { processor, .. } = setup(IntegrationOptions::default()).await;
    let mut event = SqsEvent::default();
    let last = processor::DEFAULT_MAX_RECEIVES;
    event.records = vec![received("a1", "acme:a", "not an envelope".into(), last)];
    let (response, retries) = processor.handle_batch_with_retries(event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(retries, [Retry::new("receipt-a1".into(), last)]);
    let policy = processor.retry_policy();
    assert_eq!(policy.delay_after(last, 1.0), Duration::ZERO, "no wait before the DLQ");
    assert_eq!(policy.max_receives, last);
}

/// Held back behind a record on its last receive, the rest of the group would count receives
/// untried and follow it to the DLQ: it goes on instead, in order.
#[tokio::test]
async fn the_group_goes_on_past_a_record_leaving_for_the_dlq() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let last = processor::DEFAULT_MAX_RECEIVES;
    let mut event = SqsEvent::default();
    event.records = vec![
        received("a1", "acme:a", "not an envelope".into(), last),
        received("a2", "acme:a", text_message(30, "a", "after the poison"), last),
        received("a3", "acme:a", text_message(31, "a", "and the next"), 1),
    ];
    let (response, retries) = processor.handle_batch_with_retries(event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["a1"]);
    assert_eq!(retries, [Retry::new("receipt-a1".into(), last)]);
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 1);
    let texts: Vec<_> = store
        .list_comments(&tasks[0].id, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.text.unwrap())
        .collect();
    assert_eq!(texts, ["after the poison", "and the next"]);
}

#[test]
fn the_processors_back_off_holds_a_client_back_for_seconds_not_minutes() {
    // Delays after failed receives 1 to 4, at their shortest and longest (jitter).
    let shortest: Duration = (1..5).map(|n| processor::BACKOFF.delay(n, 0.0)).sum();
    let longest: Duration = (1..5).map(|n| processor::BACKOFF.delay(n, 1.0)).sum();
    assert_eq!(processor::BACKOFF.delay(1, 1.0), Duration::from_secs(2));
    assert_eq!(
        (shortest, longest),
        (Duration::from_secs(15), Duration::from_secs(30)),
        "the fifth receive comes 15 to 30 s after the first failure"
    );
    assert_eq!(processor::BACKOFF.ceiling(30), Duration::from_secs(60));
}

#[tokio::test]
async fn unknown_events_are_acknowledged() {
    let Setup { processor, .. } = setup(IntegrationOptions::default()).await;
    assert_eq!(
        processor.process(&fixture("client_status")).await.unwrap(),
        Outcome::Ignored("unknown event")
    );
    let _ = CommentId::generate();
}

#[tokio::test]
async fn interleaved_users_each_keep_their_own_task_and_order() {
    let Setup { store, processor } = setup(IntegrationOptions::default()).await;
    let mut event = SqsEvent::default();
    event.records = vec![
        record("a1", "acme:a", text_message(10, "a", "a-first")),
        record("b1", "acme:b", text_message(11, "b", "b-first")),
        record("a2", "acme:a", text_message(12, "a", "a-second")),
        record("b2", "acme:b", text_message(13, "b", "b-second")),
    ];
    assert!(processor.handle_batch(event).await.batch_item_failures.is_empty());
    let tasks = tasks(&store).await;
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        let comments = store
            .list_comments(&task.id, &PageRequest::first(10))
            .await
            .unwrap()
            .items;
        let texts: Vec<_> = comments.iter().map(|c| c.text.clone().unwrap()).collect();
        let user = if texts[0].starts_with('a') { "a" } else { "b" };
        assert_eq!(texts, [format!("{user}-first"), format!("{user}-second")]);
    }
}

/// Two clients' messages in one batch are applied side by side: each client's write waits (up to
/// 5 s) until the other's has answered too, which only happens when they run concurrently. A
/// client's own messages still go one after another (the test above).
#[tokio::test]
async fn the_clients_of_a_batch_are_applied_side_by_side() {
    let Setup { store, .. } = setup(IntegrationOptions::default()).await;
    let both_written = Arc::new(tokio::sync::Barrier::new(2));
    let met = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let faulty = testkit::faulty::Faulty::new(store.clone()).then("apply_message", {
        let (both_written, met) = (both_written.clone(), met.clone());
        move || {
            let (both_written, met) = (both_written.clone(), met.clone());
            async move {
                if tokio::time::timeout(std::time::Duration::from_secs(5), both_written.wait())
                    .await
                    .is_ok()
                {
                    met.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    });
    let processor = Processor::new(
        Arc::new(faulty),
        Arc::new(MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    .without_avatar_copies();
    let mut event = SqsEvent::default();
    event.records = vec![
        record("a1", "acme:a", text_message(20, "a", "from a")),
        record("b1", "acme:b", text_message(21, "b", "from b")),
    ];
    assert!(processor.handle_batch(event).await.batch_item_failures.is_empty());
    assert_eq!(
        met.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the two clients' writes overlapped"
    );
    assert_eq!(tasks(&store).await.len(), 2);
}
