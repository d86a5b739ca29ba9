//! The sender against the in-memory store and the fake Viber on loopback.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use sender::{Outcome, SendError, Sender};
use serde_json::Value;
use shared::blobs::MemoryBlobStore;
use shared::ids::{AttachmentId, CommentId, ContactId, IntegrationId, TaskId};
use shared::memory::MemoryStore;
use shared::model::{Attachment, Author, AuthorKind, Comment, CommentStatus, OutboundPlan, StaffMember, TaskStatus};
use shared::outbound::OutboundJob;
use shared::ports::{
    DeliveryStore, IntegrationStore, MessageStore, MessageWrite, PartRef, ReplyStore, SenderStore, StaffStore,
    TaskWrite,
};
use shared::retry::Retry;
use shared::time::Timestamp;
use shared::viber::client::ViberClient;
use shared::viber::reply;
use testkit::FakeViber;
use testkit::build;
use testkit::fake_viber::Answer;

const TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
const RECEIVER: &str = "01234567890A=";
const BOT_ICON: &str = "https://cdn.example.com/bot-avatar-720.jpg";
const STAFF_NAME: &str = "Anna Kovalenko-Shevchenko of Customer Care";
const STAFF_AVATAR: &str = "https://cdn.example.com/anna.jpg";
const MAX_RECEIVES: u32 = 5;

struct Setup {
    store: Arc<MemoryStore>,
    viber: FakeViber,
    sender: Sender,
    integration_id: IntegrationId,
    send_as_staff: bool,
}

fn at() -> Timestamp {
    Timestamp::from_millis(1_732_528_955_000)
}

async fn setup(send_as_staff: bool) -> Setup {
    setup_with(send_as_staff, None).await
}

/// A store with integration `acme` (bot token [`TOKEN`]), staff member `anna` and a client, and a
/// sender talking to a fake Viber (or to `viber_url` when given).
async fn setup_with(send_as_staff: bool, viber_url: Option<&str>) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let viber = FakeViber::start(TOKEN).await;
    let integration_id = IntegrationId::parse("acme").unwrap();
    store
        .put_integration(
            &build::integration("acme")
                .token(TOKEN)
                .icon(BOT_ICON)
                .send_as_staff(send_as_staff)
                .build(),
        )
        .await
        .unwrap();
    store.put_staff(&anna(), "hash-anna").await.unwrap();
    let sender = sender_over(store.clone(), viber_url.unwrap_or(&viber.api_url()));
    Setup {
        store,
        viber,
        sender,
        integration_id,
        send_as_staff,
    }
}

/// A sender on `store`, talking to the Viber API at `viber_url`.
fn sender_over(store: Arc<dyn SenderStore>, viber_url: &str) -> Sender {
    Sender::new(
        store,
        Arc::new(MemoryBlobStore::new("http://blobs.test")),
        ViberClient::with_timeout(viber_url, sender::VIBER_TIMEOUT),
        MAX_RECEIVES,
    )
}

/// A picture and a file: a reply of them goes as three Viber messages with its text.
fn photo_and_invoice() -> Vec<Attachment> {
    vec![
        attachment("a1", "photo.jpg", "image/jpeg", 120_000),
        attachment("a2", "invoice.pdf", "application/pdf", 300_000),
    ]
}

fn anna() -> StaffMember {
    build::staff("anna")
        .name(STAFF_NAME)
        .avatar(STAFF_AVATAR)
        .created_at(at())
        .build()
}

fn attachment(id: &str, file_name: &str, content_type: &str, size: u64) -> Attachment {
    Attachment {
        id: AttachmentId::parse(id).unwrap(),
        file_name: file_name.into(),
        content_type: content_type.into(),
        size,
        available: true,
        unavailable_reason: None,
        awaiting_upload: false,
        blob_key: format!("attachments/{id}/{file_name}"),
        created_at: at(),
    }
}

/// Stores task `t1` of the client with a queued reply `r1` by `anna` (as the staff API would:
/// with its outbound plan); returns its job.
async fn queue_reply(setup: &Setup, text: Option<&str>, attachments: Vec<Attachment>) -> OutboundJob {
    let (job, write) = reply_write(setup, text, attachments);
    setup.store.apply_message(&write).await.unwrap();
    job
}

/// The job, the comment and the write that stores them (with the client and task `t1`).
fn reply_write(setup: &Setup, text: Option<&str>, attachments: Vec<Attachment>) -> (OutboundJob, MessageWrite) {
    let integration_id = setup.integration_id.clone();
    let contact = build::contact("c1")
        .integration(&integration_id)
        .user(RECEIVER)
        .name("Olena")
        .from_ukraine()
        .at(at())
        .build();
    let task = build::task("t1")
        .integration(&integration_id)
        .requester(&contact.id)
        .title("Viber: Olena")
        .status(TaskStatus::InProgress)
        .at(at())
        .build();
    let comment = Comment {
        id: CommentId::parse("r1").unwrap(),
        task_id: task.id.clone(),
        author: Author {
            kind: AuthorKind::Staff,
            id: "anna".into(),
        },
        text: text.map(str::to_owned),
        attachment_ids: attachments.iter().map(|a| a.id.clone()).collect(),
        notify_client: true,
        status: CommentStatus::Queued,
        status_reason: None,
        created_at: at(),
        viber_message_type: None,
        viber_message_token: None,
        parts: Default::default(),
        outbound: Some(OutboundPlan {
            integration_id: setup.integration_id.clone(),
            contact_id: contact.id.clone(),
            viber_user_id: RECEIVER.into(),
            as_staff: setup.send_as_staff.then(anna),
            attachments: attachments.clone(),
            // As the staff API counts it: the text's parts, then one message per attachment.
            part_count: text.map_or(0, |text| reply::split_text(text, reply::TEXT_MAX_CHARS).len()) + attachments.len(),
        }),
        details: None,
    };
    let job = OutboundJob {
        task_id: task.id.clone(),
        comment_id: comment.id.clone(),
        contact_id: contact.id.clone(),
        queued_at: Timestamp::now(),
    };
    let write = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(contact),
        expected_contact_version: None,
        task: TaskWrite::Create(task),
        comment,
        attachments,
    };
    (job, write)
}

fn target(job: &OutboundJob) -> PartRef {
    PartRef {
        task_id: job.task_id.clone(),
        comment_id: job.comment_id.clone(),
    }
}

async fn comment(setup: &Setup, job: &OutboundJob) -> Comment {
    setup.store.get_reply(&target(job)).await.unwrap().unwrap().comment
}

async fn sent_parts(setup: &Setup, job: &OutboundJob) -> Vec<u64> {
    let reply = setup.store.get_reply(&target(job)).await.unwrap().unwrap();
    reply.sent_parts.values().copied().collect()
}

fn record(id: &str, job: &OutboundJob, receive_count: u32) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(job.to_json());
    message.attributes = HashMap::from([("ApproximateReceiveCount".to_owned(), receive_count.to_string())]);
    message
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn sends(setup: &Setup) -> Vec<Value> {
    setup.viber.bodies("send_message")
}

/// The Viber message types sent so far, in order.
fn sent_types(setup: &Setup) -> Vec<String> {
    sends(setup)
        .iter()
        .map(|b| b["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_text_reply_is_sent_once_and_its_token_recorded() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Добрий день! Ваше замовлення вже в дорозі."), vec![]).await;

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 1)])).await;
    assert!(failed_ids(&response).is_empty());

    let requests = setup.viber.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].endpoint, "send_message");
    assert_eq!(requests[0].auth_token.as_deref(), Some(TOKEN));
    let body = &requests[0].body;
    assert_eq!(body["receiver"], RECEIVER);
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"], "Добрий день! Ваше замовлення вже в дорозі.");
    assert_eq!(body["sender"]["name"], "Acme Support");
    assert_eq!(body["sender"]["avatar"], BOT_ICON);

    let stored = comment(&setup, &job).await;
    assert_eq!(
        (stored.status, stored.status_reason.as_deref()),
        (CommentStatus::Sent, None)
    );
    let tokens = sent_parts(&setup, &job).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(stored.parts.get(&tokens[0].to_string()), Some(&CommentStatus::Sent));
    assert_eq!(
        setup.store.find_part(&setup.integration_id, tokens[0]).await.unwrap(),
        Some(target(&job))
    );

    // A repeated delivery of the job sends nothing again.
    assert_eq!(
        setup.sender.send(&job, 2).await.unwrap(),
        Outcome::Ignored("not queued")
    );
    assert_eq!(sends(&setup).len(), 1);
}

#[tokio::test]
async fn a_long_text_is_split_into_two_messages() {
    let setup = setup(false).await;
    let text = "Дякуємо за звернення. ".repeat(400);
    let job = queue_reply(&setup, Some(&text), vec![]).await;

    let outcome = setup.sender.send(&job, 1).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Sent {
            parts: 2,
            newly_sent: 2
        }
    );
    let bodies = sends(&setup);
    assert_eq!(bodies.len(), 2);
    let joined: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
    assert!(joined.iter().all(|t| t.chars().count() <= 7000));
    assert_eq!(joined.join(" "), text.trim_end());
    assert_eq!(sent_parts(&setup, &job).await.len(), 2);
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Sent);
}

#[tokio::test]
async fn send_as_staff_shows_the_staff_members_name_and_avatar() {
    let setup = setup(true).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    setup.sender.send(&job, 1).await.unwrap();
    let body = &sends(&setup)[0];
    let name = body["sender"]["name"].as_str().unwrap();
    assert!(name.chars().count() <= 28, "{name}");
    assert!(STAFF_NAME.starts_with(name), "{name}");
    assert_eq!(body["sender"]["avatar"], STAFF_AVATAR);
}

#[tokio::test]
async fn text_picture_and_file_go_as_three_messages_with_media_links() {
    let setup = setup(false).await;
    let files = photo_and_invoice();
    let job = queue_reply(&setup, Some("Here are the documents"), files).await;

    let outcome = setup.sender.send(&job, 1).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Sent {
            parts: 3,
            newly_sent: 3
        }
    );
    let bodies = sends(&setup);
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["text", "picture", "file"]);
    let picture = bodies[1]["media"].as_str().unwrap();
    assert!(
        picture.starts_with("http://blobs.test/") && picture.contains("/attachments/a1/photo.jpg?"),
        "{picture}"
    );
    let file = bodies[2]["media"].as_str().unwrap();
    assert!(file.contains("/attachments/a2/invoice.pdf?"), "{file}");
    assert_eq!(bodies[2]["file_name"], "invoice.pdf");
    assert_eq!(bodies[2]["size"], 300_000);
    assert_eq!(sent_parts(&setup, &job).await.len(), 3);
    assert_eq!(comment(&setup, &job).await.parts.len(), 3);
}

#[tokio::test]
async fn an_unsubscribed_client_fails_the_reply_at_once_without_retry() {
    let setup = setup(false).await;
    setup.viber.unsubscribe(RECEIVER);
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 1)])).await;
    assert!(failed_ids(&response).is_empty(), "a permanent failure is not retried");
    let stored = comment(&setup, &job).await;
    assert_eq!(stored.status, CommentStatus::Failed);
    assert!(
        stored.status_reason.as_deref().unwrap().contains("not subscribed"),
        "{stored:?}"
    );
    assert!(sent_parts(&setup, &job).await.is_empty());
    // A redelivered job changes nothing.
    assert_eq!(
        setup.sender.send(&job, 2).await.unwrap(),
        Outcome::Ignored("not queued")
    );
    assert_eq!(sends(&setup).len(), 1);
}

#[tokio::test]
async fn a_rate_limit_is_retried_without_resending_accepted_parts() {
    let setup = setup(false).await;
    let job = queue_reply(
        &setup,
        Some("Your photo"),
        vec![attachment("a1", "photo.png", "image/png", 50_000)],
    )
    .await;
    // The text goes through; the picture hits the rate limit.
    setup
        .viber
        .script("send_message", Answer::Delay(std::time::Duration::ZERO));
    setup
        .viber
        .script("send_message", Answer::Status(12, "Too many requests"));

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 1)])).await;
    assert_eq!(failed_ids(&response), ["m1"]);
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    let reason = waiting.status_reason.clone().unwrap();
    assert!(
        reason.contains("rate limit") && reason.contains("; retrying"),
        "{reason}"
    );
    let first_tokens = sent_parts(&setup, &job).await;
    assert_eq!(first_tokens.len(), 1);

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 2)])).await;
    assert!(failed_ids(&response).is_empty());
    let bodies = sends(&setup);
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["text", "picture", "picture"], "the text is not sent again");
    let stored = comment(&setup, &job).await;
    assert_eq!((stored.status, stored.status_reason), (CommentStatus::Sent, None));
    let tokens = sent_parts(&setup, &job).await;
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0], first_tokens[0]);
    for token in tokens {
        assert!(
            setup
                .store
                .find_part(&setup.integration_id, token)
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// The status staff see for the reply (`rules::effective_status`).
async fn shown(setup: &Setup, job: &OutboundJob) -> CommentStatus {
    shared::rules::effective_status(&comment(setup, job).await)
}

#[tokio::test]
async fn a_500_on_the_picture_keeps_the_reply_queued_until_the_retry_sends_the_rest() {
    let setup = setup(false).await;
    let files = photo_and_invoice();
    let job = queue_reply(&setup, Some("Here are the documents"), files).await;
    // The text goes through; the picture meets an HTTP 500.
    setup
        .viber
        .script("send_message", Answer::Delay(std::time::Duration::ZERO));
    setup.viber.script("send_message", Answer::Http(500));

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 1)])).await;
    assert_eq!(failed_ids(&response), ["m1"]);
    // One part of three accepted: the reply is queued, not sent, and says why it waits.
    assert_eq!(shown(&setup, &job).await, CommentStatus::Queued);
    let reason = comment(&setup, &job).await.status_reason.unwrap();
    assert!(reason.contains("500"), "{reason}");
    let first_tokens = sent_parts(&setup, &job).await;
    assert_eq!(first_tokens.len(), 1);

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 2)])).await;
    assert!(failed_ids(&response).is_empty());
    let types = sent_types(&setup);
    assert_eq!(
        types,
        ["text", "picture", "picture", "file"],
        "the text is not sent again"
    );
    let tokens = sent_parts(&setup, &job).await;
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0], first_tokens[0]);
    assert_eq!(shown(&setup, &job).await, CommentStatus::Sent);
    assert_eq!(comment(&setup, &job).await.status_reason, None);
}

#[tokio::test]
async fn receipts_for_the_first_parts_leave_the_reply_queued_until_the_last_part_is_sent() {
    use CommentStatus::{Delivered, Queued, Seen, Sent};
    let setup = setup(false).await;
    let files = photo_and_invoice();
    let job = queue_reply(&setup, Some("Here are the documents"), files).await;
    for _ in 0..2 {
        setup
            .viber
            .script("send_message", Answer::Delay(std::time::Duration::ZERO));
    }
    setup.viber.script("send_message", Answer::Http(503));
    setup.sender.send(&job, 1).await.unwrap_err();
    let early = sent_parts(&setup, &job).await;
    assert_eq!(early.len(), 2);

    // Viber's receipts for parts 1 and 2 are processed before part 3 is recorded.
    let reply = target(&job);
    for token in &early {
        let part = setup.store.find_part(&setup.integration_id, *token).await.unwrap();
        assert_eq!(part.as_ref(), Some(&reply));
        setup.store.advance_part(&reply, *token, Delivered, None).await.unwrap();
    }
    assert_eq!(shown(&setup, &job).await, Queued, "the file was never delivered");

    setup.sender.send(&job, 2).await.unwrap();
    let tokens = sent_parts(&setup, &job).await;
    assert_eq!(shown(&setup, &job).await, Sent);
    // The last part's receipts arrive out of order: `seen` before `delivered`.
    setup.store.advance_part(&reply, tokens[2], Seen, None).await.unwrap();
    setup
        .store
        .advance_part(&reply, tokens[2], Delivered, None)
        .await
        .unwrap();
    assert_eq!(shown(&setup, &job).await, Delivered);
    for token in &tokens[..2] {
        setup.store.advance_part(&reply, *token, Seen, None).await.unwrap();
    }
    assert_eq!(shown(&setup, &job).await, Seen);
}

#[tokio::test]
async fn a_reply_counted_as_other_parts_than_it_now_builds_fails_without_sending() {
    let setup = setup(false).await;
    let (job, mut write) = reply_write(&setup, Some("Hello"), vec![]);
    write.comment.outbound.as_mut().unwrap().part_count = 2;
    setup.store.apply_message(&write).await.unwrap();
    let outcome = setup.sender.send(&job, 1).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed(reason) if reason.contains("posted as 2 Viber messages")),
        "{outcome:?}"
    );
    assert!(sends(&setup).is_empty());
    assert_eq!(shown(&setup, &job).await, CommentStatus::Failed);
}

#[tokio::test]
async fn http_5xx_is_retried() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    setup.viber.script("send_message", Answer::Http(503));

    let error = setup.sender.send(&job, 1).await.unwrap_err();
    assert!(matches!(error, SendError::Viber(_)), "{error:?}");
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert!(waiting.status_reason.unwrap().contains("503"));

    assert_eq!(
        setup.sender.send(&job, 2).await.unwrap(),
        Outcome::Sent {
            parts: 1,
            newly_sent: 1
        }
    );
}

#[tokio::test]
async fn a_reply_waiting_for_a_retry_says_why() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    setup.viber.script("send_message", Answer::Http(500));
    setup.sender.send(&job, 1).await.unwrap_err();
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert_eq!(
        waiting.status_reason.as_deref(),
        Some("Viber answered HTTP 500; retrying")
    );

    setup
        .viber
        .script("send_message", Answer::Status(12, "Too many requests"));
    setup.sender.send(&job, 2).await.unwrap_err();
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert_eq!(
        waiting.status_reason.as_deref(),
        Some("Viber rate limit (too many messages without a reply from the client); retrying")
    );
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let mut setup = setup(false).await;
    setup.sender.viber = ViberClient::with_timeout(&setup.viber.api_url(), std::time::Duration::from_millis(200));
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    setup
        .viber
        .script("send_message", Answer::Delay(std::time::Duration::from_millis(1500)));

    let error = setup.sender.send(&job, 1).await.unwrap_err();
    assert!(matches!(error, SendError::Viber(_)), "{error:?}");
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert!(waiting.status_reason.unwrap().contains("could not be reached"));
    assert!(sent_parts(&setup, &job).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_viber_is_retried_and_fails_the_reply_on_the_last_receive() {
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let setup = setup_with(false, Some("http://127.0.0.1:1/pa")).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;

    let response = setup
        .sender
        .handle_batch(batch(vec![record("m1", &job, MAX_RECEIVES - 1)]))
        .await;
    assert_eq!(failed_ids(&response), ["m1"]);
    let waiting = comment(&setup, &job).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert!(waiting.status_reason.unwrap().contains("could not be reached"));

    let mut last = record("m1", &job, MAX_RECEIVES);
    last.receipt_handle = Some("receipt-1".into());
    let (response, retries) = setup.sender.handle_batch_with_retries(batch(vec![last])).await;
    assert_eq!(failed_ids(&response), ["m1"], "the last receive goes on to the DLQ");
    assert_eq!(
        retries,
        [Retry::new("receipt-1".into(), MAX_RECEIVES)],
        "released at once (the policy has no delay for the last receive)"
    );
    assert_eq!(
        setup.sender.retry_policy().delay_after(MAX_RECEIVES, 1.0),
        std::time::Duration::ZERO
    );
    let failed = comment(&setup, &job).await;
    assert_eq!(failed.status, CommentStatus::Failed);
    let reason = failed.status_reason.unwrap();
    assert!(
        reason.contains("could not be reached") && reason.contains("gave up"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_rate_limit_on_the_last_receive_fails_the_reply() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    setup
        .viber
        .script("send_message", Answer::Status(12, "Too many requests"));
    let outcome = setup.sender.send(&job, MAX_RECEIVES).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::GaveUp(reason) if reason.contains("rate limit")),
        "{outcome:?}"
    );
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Failed);
}

#[tokio::test]
async fn an_unavailable_attachment_fails_the_reply_without_sending() {
    let setup = setup(false).await;
    let mut file = attachment("a1", "scan.pdf", "application/pdf", 10_000);
    file.available = false;
    file.unavailable_reason = Some("the upload never finished".into());
    let job = queue_reply(&setup, Some("See attached"), vec![file]).await;

    let outcome = setup.sender.send(&job, 1).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed(reason) if reason.contains("scan.pdf")),
        "{outcome:?}"
    );
    assert!(sends(&setup).is_empty());
    let stored = comment(&setup, &job).await;
    assert_eq!(stored.status, CommentStatus::Failed);
    assert!(stored.status_reason.unwrap().contains("the upload never finished"));
}

#[tokio::test]
async fn a_job_whose_comment_never_appeared_is_dropped_after_the_grace_period() {
    let setup = setup(false).await;
    let old = OutboundJob {
        task_id: TaskId::parse("t9").unwrap(),
        comment_id: CommentId::parse("r9").unwrap(),
        contact_id: ContactId::parse("c9").unwrap(),
        queued_at: Timestamp::now().plus_seconds(-shared::outbound::COMMENT_GRACE_SECONDS - 1),
    };
    assert_eq!(
        setup.sender.send(&old, 3).await.unwrap(),
        Outcome::Ignored("comment never stored")
    );
    let mut malformed = record("m2", &old, 1);
    malformed.body = Some("not json".into());
    let response = setup
        .sender
        .handle_batch(batch(vec![record("m1", &old, 1), malformed]))
        .await;
    assert!(failed_ids(&response).is_empty());
    assert!(sends(&setup).is_empty());
}

#[tokio::test]
async fn a_job_that_overtakes_its_comment_waits_for_it() {
    let setup = setup(false).await;
    let (job, write) = reply_write(&setup, Some("Hello"), vec![]);
    // Not written at all yet: retried through the queue.
    let error = setup.sender.send(&job, 1).await.unwrap_err();
    assert!(matches!(error, SendError::NotStoredYet), "{error:?}");
    // Written a moment after the job arrives (the API queues first, then writes): sent at once.
    let store = setup.store.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        store.apply_message(&write).await.unwrap();
    });
    let outcome = setup.sender.send(&job, 2).await.unwrap();
    writer.await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Sent {
            parts: 1,
            newly_sent: 1
        }
    );
}

#[tokio::test]
async fn a_failed_reply_holds_back_the_next_replies_to_the_same_client() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("First"), vec![]).await;
    setup.viber.script("send_message", Answer::Http(503));
    let mut first = record("m1", &job, 1);
    first.receipt_handle = Some("receipt-1".into());
    let mut second = record("m2", &job, 1);
    second.receipt_handle = Some("receipt-2".into());
    let mut other_client = record("m3", &job, 1);
    for (message, group) in [(&mut first, "c1"), (&mut second, "c1"), (&mut other_client, "c2")] {
        message.attributes.insert("MessageGroupId".into(), group.into());
    }
    let (response, retries) = setup
        .sender
        .handle_batch_with_retries(batch(vec![first, second, other_client]))
        .await;
    assert_eq!(failed_ids(&response), ["m1", "m2"]);
    // m2 is released behind m1: left in flight it would hold the group for the visibility timeout.
    assert_eq!(
        retries,
        [Retry {
            receipt_handle: "receipt-1".into(),
            receive_count: 1,
            held_back: vec!["receipt-2".into()],
        }]
    );
    // m3 (another client) was processed: here the same comment, now sent.
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Sent);
    assert_eq!(sends(&setup).len(), 2);
}

/// A reply leaving for the DLQ holds nothing back: the client's next record is handled in the
/// same batch (held back, it would count receives untried and follow it to the DLQ). Here the next
/// record is the same reply delivered again, which finds it failed and is done.
#[tokio::test]
async fn a_reply_failing_on_its_last_receive_does_not_hold_back_the_next() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("First"), vec![]).await;
    setup.viber.script("send_message", Answer::Http(503));
    let mut first = record("m1", &job, MAX_RECEIVES);
    first.receipt_handle = Some("receipt-1".into());
    let mut next = record("m2", &job, 1);
    next.receipt_handle = Some("receipt-2".into());
    for message in [&mut first, &mut next] {
        message.attributes.insert("MessageGroupId".into(), "c1".into());
    }
    let (response, retries) = setup.sender.handle_batch_with_retries(batch(vec![first, next])).await;
    assert_eq!(failed_ids(&response), ["m1"], "m2 was handled, not held back");
    assert_eq!(retries, [Retry::new("receipt-1".into(), MAX_RECEIVES)]);
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Failed);
    assert_eq!(sends(&setup).len(), 1, "nothing is sent for a failed reply");
}

#[tokio::test]
async fn permanent_refusals_fail_the_reply_at_once_with_a_readable_reason() {
    for (status, message, expected) in [
        (5, "receiverNotRegistered", "not a Viber user"),
        (3, "badData", "refused the message as invalid"),
        (2, "invalidAuthToken", "invalid auth token"),
        (13, "apiVersionNotSupported", "too old"),
    ] {
        let setup = setup(false).await;
        let job = queue_reply(&setup, Some("Hello"), vec![]).await;
        setup.viber.script("send_message", Answer::Status(status, message));
        let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 1)])).await;
        assert!(failed_ids(&response).is_empty(), "status {status} is not retried");
        let stored = comment(&setup, &job).await;
        assert_eq!(stored.status, CommentStatus::Failed, "status {status}");
        let reason = stored.status_reason.unwrap();
        assert!(reason.contains(expected), "status {status}: {reason}");
        assert_eq!(sends(&setup).len(), 1, "status {status}: one attempt only");
    }
}

#[tokio::test]
async fn a_reply_whose_parts_do_not_fit_its_time_is_finished_by_the_next_attempt_without_resending() {
    let mut setup = setup(false).await;
    // Parts are started only while one could still take the client's whole timeout (1 s) and
    // its record before the job's time (3 s) is up: within the first second or so.
    setup.sender.viber = ViberClient::with_timeout(&setup.viber.api_url(), std::time::Duration::from_secs(1));
    setup.sender.budget = std::time::Duration::from_secs(3);
    let files = photo_and_invoice();
    let job = queue_reply(&setup, Some("Here are the documents"), files).await;
    // A slow Viber: the text and the picture take 0.7 s each, so the file would start at 1.4 s.
    for _ in 0..2 {
        setup
            .viber
            .script("send_message", Answer::Delay(std::time::Duration::from_millis(700)));
    }
    let mut first = record("m1", &job, 1);
    first.receipt_handle = Some("receipt-1".into());

    let (response, retries) = setup.sender.handle_batch_with_retries(batch(vec![first])).await;
    assert_eq!(failed_ids(&response), ["m1"], "handed back as a retry");
    assert_eq!(retries, [Retry::new("receipt-1".into(), 1)]);
    let types = sent_types(&setup);
    assert_eq!(types, ["text", "picture"], "the file is not started");
    let first_tokens = sent_parts(&setup, &job).await;
    assert_eq!(first_tokens.len(), 2);
    assert_eq!(shown(&setup, &job).await, CommentStatus::Queued);

    let response = setup.sender.handle_batch(batch(vec![record("m1", &job, 2)])).await;
    assert!(failed_ids(&response).is_empty());
    let types = sent_types(&setup);
    assert_eq!(types, ["text", "picture", "file"], "each part sent once");
    let tokens = sent_parts(&setup, &job).await;
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[..2], first_tokens[..]);
    assert_eq!(shown(&setup, &job).await, CommentStatus::Sent);
}

#[tokio::test]
async fn a_job_out_of_time_sends_nothing_and_fails_the_reply_only_on_the_last_receive() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Hello"), vec![]).await;
    let no_time = std::time::Instant::now();

    let error = setup.sender.send_until(&job, 1, no_time).await.unwrap_err();
    assert!(matches!(error, SendError::OutOfTime { sent: 0, total: 1 }), "{error:?}");
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Queued);

    let outcome = setup.sender.send_until(&job, MAX_RECEIVES, no_time).await.unwrap();
    assert!(
        matches!(&outcome, Outcome::GaveUp(reason) if reason.contains("0 of 1 parts sent")),
        "{outcome:?}"
    );
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Failed);
    assert!(sends(&setup).is_empty());
}

#[test]
fn a_part_fits_in_the_job_budget_with_time_to_record_it() {
    assert!(sender::VIBER_TIMEOUT + std::time::Duration::from_secs(1) < sender::JOB_BUDGET);
}

/// The store is unreachable for longer than the sender's record attempts right after Viber
/// accepted a part: the retry records the token the instance kept instead of sending the part
/// again (only a part whose answer was lost with the process may be sent twice).
#[tokio::test]
async fn a_part_whose_token_could_not_be_recorded_is_recorded_on_the_retry_not_sent_again() {
    let setup = setup(false).await;
    let job = queue_reply(&setup, Some("Ваше замовлення вже в дорозі."), vec![]).await;
    let faulty = Arc::new(testkit::faulty::Faulty::new(setup.store.clone()).failing("record_sent_part", 3));
    let sender = sender_over(faulty, &setup.viber.api_url());

    let first = sender.send(&job, 1).await;
    assert!(matches!(first, Err(SendError::Store(_))), "{first:?}");
    assert_eq!(sends(&setup).len(), 1);
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Queued);

    let second = sender.send(&job, 2).await.unwrap();
    assert_eq!(
        second,
        Outcome::Sent {
            parts: 1,
            newly_sent: 0
        }
    );
    assert_eq!(sends(&setup).len(), 1, "the part is not sent again");
    let accepted = setup.viber.accepted_tokens();
    assert_eq!(sent_parts(&setup, &job).await, accepted);
    assert_eq!(comment(&setup, &job).await.status, CommentStatus::Sent);
}
