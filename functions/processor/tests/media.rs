//! Client media (picture, video, file): the processor stores the message at once with its file
//! pending and queues a copy; the media worker copies the file from a stand-in for Viber's media
//! server into the blob store: bytes, names and types kept, failures retried until the last
//! receive (then recorded unavailable with the reason), oversized files refused, repeated jobs
//! changing nothing, and the client's later messages never waiting for a download.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use bytes::Bytes;
use processor::media::{CopyError, CopyOutcome, MediaWorker};
use processor::{COPY_PENDING, Outcome, Processor};
use serde_json::json;
use shared::blobs::MemoryBlobStore;
use shared::ids::IntegrationId;
use shared::inbound::queue_message;
use shared::media::{MediaError, MediaFetcher, inbound_attachment_id};
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Attachment, Comment};
use shared::ports::{BlobStore, IntegrationStore, PageRequest, TaskFilter, TaskStore};
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::MediaServer;
use testkit::build;
use testkit::faulty::Faulty;
use testkit::fixtures::{self};
use testkit::media_server::MediaReply;

const USER: &str = "9Kf2mQ1xT7bVnC3pLs8aZw==";

struct Setup {
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    server: MediaServer,
    /// The media queue the processor sends its copies to.
    jobs: Arc<MemoryQueue>,
    processor: Processor,
    worker: MediaWorker,
}

async fn setup() -> Setup {
    setup_with(|store| store).await
}

/// `faults` may make the store fail (writes, say), for the processor and the worker.
async fn setup_with(faults: impl FnOnce(Faulty<MemoryStore>) -> Faulty<MemoryStore>) -> Setup {
    let store = Arc::new(MemoryStore::new());
    store
        .put_integration(&build::integration("acme").build())
        .await
        .unwrap();
    let blobs = Arc::new(MemoryBlobStore::new("http://blobs.test"));
    let faulty = Arc::new(faults(Faulty::new(store.clone())));
    let jobs = Arc::new(MemoryQueue::new());
    let processor = Processor::new(faulty.clone(), jobs.clone(), 5).without_avatar_copies();
    let worker = MediaWorker::new(faulty, blobs.clone(), 5);
    Setup {
        store,
        blobs,
        server: MediaServer::start().await,
        jobs,
        processor,
        worker,
    }
}

impl Setup {
    /// The copies queued so far (taken off the queue).
    fn queued_jobs(&self) -> Vec<String> {
        self.jobs.drain().into_iter().map(|message| message.body).collect()
    }

    /// The one copy queued so far.
    fn only_job(&self) -> String {
        let mut jobs = self.queued_jobs();
        assert_eq!(jobs.len(), 1, "one copy queued: {jobs:?}");
        jobs.remove(0)
    }

    /// Runs every queued copy once, as its first receive: their outcomes.
    async fn run_jobs(&self) -> Vec<CopyOutcome> {
        let mut outcomes = Vec::new();
        for job in self.queued_jobs() {
            outcomes.push(self.worker.copy(&job, 1).await.unwrap());
        }
        outcomes
    }
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

struct Sent<'a> {
    token: u64,
    kind: &'a str,
    url: &'a str,
    file_name: Option<&'a str>,
    size: Option<u64>,
    caption: Option<&'a str>,
}

impl<'a> Sent<'a> {
    fn new(token: u64, kind: &'a str, url: &'a str) -> Self {
        Sent {
            token,
            kind,
            url,
            file_name: None,
            size: None,
            caption: None,
        }
    }

    fn body(&self) -> String {
        let mut message = json!({"type": self.kind, "media": self.url});
        if let Some(name) = self.file_name {
            message["file_name"] = json!(name);
        }
        if let Some(size) = self.size {
            message["size"] = json!(size);
        }
        if let Some(caption) = self.caption {
            message["text"] = json!(caption);
        }
        let callback = json!({
            "event": "message",
            "timestamp": 1_732_529_012_480_i64 + self.token as i64,
            "message_token": self.token,
            "sender": {"id": USER, "name": "Олена"},
            "message": message,
            "silent": false,
        });
        queued(&serde_json::to_vec(&callback).unwrap())
    }
}

fn text(token: u64, text: &str) -> String {
    queued(
        format!(
            r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{USER}"}},"message":{{"type":"text","text":"{text}"}}}}"#,
            1_732_529_012_480_i64 + token as i64
        )
        .as_bytes(),
    )
}

fn attachment_id(token: u64) -> shared::ids::AttachmentId {
    inbound_attachment_id(&IntegrationId::parse("acme").unwrap(), token)
}

/// Every stored comment with its attachments, oldest first.
async fn comments(store: &MemoryStore) -> Vec<(Comment, Vec<Attachment>)> {
    let mut all = Vec::new();
    let tasks = store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(100))
        .await
        .unwrap()
        .items;
    for task in tasks {
        for comment in store
            .list_comments(&task.id, &PageRequest::first(100))
            .await
            .unwrap()
            .items
        {
            let mut attachments = Vec::new();
            for id in &comment.attachment_ids {
                attachments.push(store.get_attachment(id).await.unwrap().expect("attachment stored"));
            }
            all.push((comment, attachments));
        }
    }
    all
}

async fn only_attachment(store: &MemoryStore) -> (Comment, Attachment) {
    let mut all = comments(store).await;
    assert_eq!(all.len(), 1, "one comment");
    let (comment, mut attachments) = all.remove(0);
    assert_eq!(attachments.len(), 1, "one attachment");
    (comment, attachments.remove(0))
}

fn picture_bytes() -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0JFIF".to_vec();
    bytes.extend((0..40_000u32).map(|i| (i * 7 % 251) as u8));
    bytes
}

fn record(id: &str, body: String, receive_count: u32) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.receipt_handle = Some(format!("receipt-{id}"));
    message.body = Some(body);
    message.attributes = HashMap::from([
        ("MessageGroupId".to_owned(), format!("acme:{USER}")),
        ("ApproximateReceiveCount".to_owned(), receive_count.to_string()),
    ]);
    message
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

#[tokio::test]
async fn a_picture_is_stored_at_once_pending_then_copied_with_its_bytes_type_and_name() {
    let setup = setup().await;
    let bytes = picture_bytes();
    let url = setup
        .server
        .serve("/media/image/7c1e/3f9a.jpg", bytes.clone(), "image/jpeg");
    let url = format!("{url}?Expires=9999999999&Signature=abc&Key-Pair-Id=K");
    let mut sent = Sent::new(101, "picture", &url);
    sent.file_name = Some("1732529009871234.jpg");
    sent.size = Some(bytes.len() as u64);
    sent.caption = Some("Ось фото пошкодженої коробки");
    assert_eq!(setup.processor.process(&sent.body()).await.unwrap(), Outcome::Applied);

    // Stored at once, before any download: the file is pending.
    let (comment, pending) = only_attachment(&setup.store).await;
    assert_eq!(comment.text.as_deref(), Some("Ось фото пошкодженої коробки"));
    assert_eq!(comment.attachment_ids, std::slice::from_ref(&pending.id));
    assert_eq!(pending.id, attachment_id(101));
    assert!(!pending.available);
    assert_eq!(pending.unavailable_reason.as_deref(), Some(COPY_PENDING));
    assert_eq!(pending.file_name, "1732529009871234.jpg");
    assert_eq!(
        setup.server.hits("/media/image/7c1e/3f9a.jpg"),
        0,
        "nothing fetched yet"
    );

    // The media worker copies it.
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    let (_, attachment) = only_attachment(&setup.store).await;
    assert_eq!(attachment.id, attachment_id(101));
    assert!(attachment.available);
    assert_eq!(attachment.unavailable_reason, None);
    assert_eq!(attachment.file_name, "1732529009871234.jpg");
    assert_eq!(attachment.content_type, "image/jpeg");
    assert_eq!(attachment.size, bytes.len() as u64);
    assert_eq!(attachment.created_at, pending.created_at);
    assert_eq!(
        attachment.blob_key,
        format!("attachments/{}/1732529009871234.jpg", attachment.id)
    );
    let object = setup
        .blobs
        .object(&attachment.blob_key)
        .expect("copied into the blob store");
    assert_eq!(object.bytes, Bytes::from(bytes));
    assert_eq!(object.content_type, "image/jpeg");
    assert_eq!(setup.server.hits("/media/image/7c1e/3f9a.jpg"), 1);
}

#[tokio::test]
async fn a_file_keeps_its_cyrillic_name_and_downloads_under_it() {
    let setup = setup().await;
    let pdf = b"%PDF-1.7 invoice".repeat(100);
    // CDNs often say nothing useful about the type: the extension decides then.
    let url = setup
        .server
        .serve("/media/file/5b2e/0f1e.pdf", pdf.clone(), "application/octet-stream");
    let mut sent = Sent::new(102, "file", &url);
    sent.file_name = Some("Рахунок_48213.pdf");
    sent.size = Some(pdf.len() as u64);
    setup.processor.process(&sent.body()).await.unwrap();
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);

    let (comment, attachment) = only_attachment(&setup.store).await;
    assert_eq!(comment.text, None, "a file without a caption has no text");
    assert_eq!(attachment.file_name, "Рахунок_48213.pdf");
    assert_eq!(attachment.content_type, "application/pdf");
    assert_eq!(attachment.size, pdf.len() as u64);
    assert_eq!(
        attachment.blob_key,
        format!("attachments/{}/Рахунок_48213.pdf", attachment.id)
    );

    // Staff download it under the same name.
    let url = setup
        .blobs
        .presign_get(
            &attachment.blob_key,
            &attachment.file_name,
            Timestamp::now().plus_seconds(60),
        )
        .await
        .unwrap();
    let (path, query) = url
        .strip_prefix("http://blobs.test/blobs/")
        .unwrap()
        .split_once('?')
        .unwrap();
    let served = setup
        .blobs
        .serve_get(&urlencoded_path(path), query)
        .expect("a signed URL is served");
    assert_eq!(served.bytes, Bytes::from(pdf));
    assert_eq!(served.content_type, "application/pdf");
    assert!(
        served
            .content_disposition()
            .ends_with("filename*=UTF-8''%D0%A0%D0%B0%D1%85%D1%83%D0%BD%D0%BE%D0%BA_48213.pdf"),
        "{}",
        served.content_disposition()
    );
}

/// Decodes a percent-encoded path the way the router does.
fn urlencoded_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decoded.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).unwrap()
}

#[tokio::test]
async fn media_without_a_name_or_type_is_named_after_its_link() {
    let setup = setup().await;
    setup.server.route(
        "/media/video/a41d/9e8d.mp4",
        MediaReply::Bytes {
            body: Bytes::from_static(b"\0\0\0\x18ftypmp42"),
            content_type: None,
        },
    );
    let url = setup.server.url("/media/video/a41d/9e8d.mp4");
    let mut sent = Sent::new(103, "video", &url);
    sent.file_name = Some("null"); // Viber once sent this string
    setup.processor.process(&sent.body()).await.unwrap();
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    let (_, attachment) = only_attachment(&setup.store).await;
    assert!(attachment.available);
    assert_eq!(attachment.file_name, "9e8d.mp4");
    assert_eq!(attachment.content_type, "video/mp4");
    assert_eq!(attachment.size, 12);
    assert!(setup.blobs.object(&attachment.blob_key).is_some());
}

#[tokio::test]
async fn a_failing_download_holds_nothing_back_and_is_given_up_on_at_its_last_receive() {
    let setup = setup().await;
    let url = setup.server.fail("/media/image/gone.jpg", 503);
    let mut sent = Sent::new(104, "picture", &url);
    sent.caption = Some("the box");
    sent.size = Some(2048);

    // The message and the client's next one are stored on their first receive.
    let response = setup
        .processor
        .handle_batch(batch(vec![
            record("m1", sent.body(), 1),
            record("m2", text(105, "and?"), 1),
        ]))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let all = comments(&setup.store).await;
    assert_eq!(all.len(), 2, "the message and the one after it");
    assert_eq!(all[0].0.text.as_deref(), Some("the box"));
    assert_eq!(all[1].0.text.as_deref(), Some("and?"));
    assert_eq!(setup.server.hits("/media/image/gone.jpg"), 0);

    // The copy fails and is retried (the job fails) until its last receive.
    let job = setup.only_job();
    for receive in 1..5 {
        let error = setup.worker.copy(&job, receive).await.unwrap_err();
        assert!(matches!(error, CopyError::Media(MediaError::Status(503))), "{error}");
        let (_, attachment) = &comments(&setup.store).await[0];
        assert_eq!(
            attachment[0].unavailable_reason.as_deref(),
            Some(COPY_PENDING),
            "receive {receive}"
        );
    }
    let last = setup
        .worker
        .handle_batch(batch(vec![record("j1", job.clone(), 5)]))
        .await;
    let failed: Vec<&str> = last
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["j1"], "the job fails on its last receive: it goes to the DLQ");
    assert_eq!(setup.server.hits("/media/image/gone.jpg"), 5);

    let (comment, attachments) = &comments(&setup.store).await[0];
    assert_eq!(comment.text.as_deref(), Some("the box"), "no text is lost");
    let attachment = &attachments[0];
    assert_eq!(attachment.id, attachment_id(104));
    assert!(!attachment.available);
    let reason = attachment.unavailable_reason.as_deref().unwrap();
    assert!(reason.contains("503") && reason.contains("5 attempts"), "{reason}");
    assert_eq!(attachment.file_name, "gone.jpg");
    assert_eq!(attachment.content_type, "image/jpeg");
    assert_eq!(attachment.size, 2048, "the size Viber announced");
    assert!(setup.blobs.keys().is_empty());
}

#[tokio::test]
async fn a_slow_download_does_not_hold_back_the_clients_next_message() {
    let setup = setup().await;
    setup.server.route(
        "/slow.jpg",
        MediaReply::Delayed(
            Duration::from_secs(3),
            Box::new(MediaReply::Bytes {
                body: Bytes::from(picture_bytes()),
                content_type: Some("image/jpeg".into()),
            }),
        ),
    );
    let picture = Sent::new(108, "picture", &setup.server.url("/slow.jpg")).body();
    let started = Instant::now();
    let response = setup
        .processor
        .handle_batch(batch(vec![
            record("m1", picture, 1),
            record("m2", text(109, "hello?"), 1),
        ]))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "no download on the way: {took:?}");
    assert_eq!(comments(&setup.store).await.len(), 2);

    // The copy takes its time, behind nothing.
    let copied = setup.run_jobs().await;
    assert_eq!(copied, [CopyOutcome::Copied]);
    assert!(comments(&setup.store).await[0].1[0].available, "the picture is copied");
}

#[tokio::test]
async fn timeouts_and_broken_downloads_are_retried() {
    let mut setup = setup().await;
    setup.worker.fetcher = MediaFetcher::with_timeouts(
        Duration::from_secs(1),
        Duration::from_millis(300),
        Duration::from_secs(2),
    );
    setup.server.route(
        "/slow.jpg",
        MediaReply::Delayed(
            Duration::from_secs(3),
            Box::new(MediaReply::Bytes {
                body: Bytes::from_static(b"late"),
                content_type: Some("image/jpeg".into()),
            }),
        ),
    );
    setup
        .processor
        .process(&Sent::new(106, "picture", &setup.server.url("/slow.jpg")).body())
        .await
        .unwrap();
    let error = setup.worker.copy(&setup.only_job(), 1).await.unwrap_err();
    assert!(matches!(error, CopyError::Media(MediaError::Timeout)), "{error}");

    setup.server.route(
        "/cut.jpg",
        MediaReply::Truncated {
            body: Bytes::from(picture_bytes()),
            sent: 1000,
        },
    );
    setup
        .processor
        .process(&Sent::new(107, "picture", &setup.server.url("/cut.jpg")).body())
        .await
        .unwrap();
    let error = setup.worker.copy(&setup.only_job(), 1).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(comments(&setup.store).await.iter().all(|(_, a)| !a[0].available));
}

#[tokio::test]
async fn files_over_the_limit_are_refused_at_once_without_retrying() {
    let mut setup = setup().await;
    setup.worker.max_media_bytes = 16 * 1024;
    let big = Bytes::from(vec![7u8; 100 * 1024]);

    // The server announces the size.
    let announced = setup.server.serve("/announced.pdf", big.clone(), "application/pdf");
    // The server streams without announcing it.
    setup.server.route(
        "/streamed.pdf",
        MediaReply::Chunked {
            body: big.clone(),
            content_type: Some("application/pdf".into()),
            chunk: 4096,
        },
    );
    let streamed = setup.server.url("/streamed.pdf");
    // Viber announces it: not even requested.
    let declared = setup.server.serve("/declared.pdf", big.clone(), "application/pdf");

    let mut sends = vec![
        Sent::new(201, "file", &announced),
        Sent::new(202, "file", &streamed),
        Sent::new(203, "file", &declared),
    ];
    sends[2].size = Some(100 * 1024);
    for sent in &sends {
        assert_eq!(setup.processor.process(&sent.body()).await.unwrap(), Outcome::Applied);
    }
    assert_eq!(
        setup.run_jobs().await,
        [CopyOutcome::GivenUp, CopyOutcome::GivenUp, CopyOutcome::GivenUp],
        "given up on the first receive: retrying cannot help"
    );
    let all = comments(&setup.store).await;
    assert_eq!(all.len(), 3);
    for (_, attachments) in &all {
        let attachment = &attachments[0];
        assert!(!attachment.available, "{attachment:?}");
        let reason = attachment.unavailable_reason.as_deref().unwrap();
        assert!(reason.contains("larger than the 16384 bytes limit"), "{reason}");
    }
    assert!(setup.blobs.keys().is_empty());
    assert_eq!(setup.server.hits("/declared.pdf"), 0);
    assert_eq!(setup.server.hits("/announced.pdf"), 1);
    assert_eq!(setup.server.hits("/streamed.pdf"), 1);
}

#[tokio::test]
async fn a_redelivered_message_queues_its_copy_again_which_changes_nothing() {
    let setup = setup().await;
    let url = setup.server.serve("/media/image/a.jpg", picture_bytes(), "image/jpeg");
    let body = Sent::new(301, "picture", &url).body();
    assert_eq!(setup.processor.process(&body).await.unwrap(), Outcome::Applied);
    assert_eq!(setup.processor.process(&body).await.unwrap(), Outcome::Duplicate);
    let jobs = setup.queued_jobs();
    assert_eq!(jobs.len(), 2, "each delivery queues the copy: {jobs:?}");
    assert_eq!(jobs[0], jobs[1]);

    assert_eq!(setup.worker.copy(&jobs[0], 1).await.unwrap(), CopyOutcome::Copied);
    let (_, copied) = only_attachment(&setup.store).await;
    // The same job again (and again, as SQS may deliver it): nothing fetched, nothing changed.
    for job in [&jobs[1], &jobs[0]] {
        assert_eq!(setup.worker.copy(job, 1).await.unwrap(), CopyOutcome::AlreadyCopied);
    }
    let (_, attachment) = only_attachment(&setup.store).await;
    assert_eq!(attachment, copied);
    assert_eq!(attachment.id, attachment_id(301));
    assert_eq!(setup.blobs.keys(), std::slice::from_ref(&attachment.blob_key));
    assert_eq!(setup.server.hits("/media/image/a.jpg"), 1);
}

#[tokio::test]
async fn a_copy_given_up_on_never_replaces_one_that_succeeded() {
    let setup = setup().await;
    let url = setup.server.serve("/media/image/b.jpg", picture_bytes(), "image/jpeg");
    setup
        .processor
        .process(&Sent::new(303, "picture", &url).body())
        .await
        .unwrap();
    let job = setup.only_job();
    assert_eq!(setup.worker.copy(&job, 1).await.unwrap(), CopyOutcome::Copied);
    // A late duplicate of the job finds the file copied before it even tries.
    setup.server.fail("/media/image/b.jpg", 503);
    assert_eq!(setup.worker.copy(&job, 5).await.unwrap(), CopyOutcome::AlreadyCopied);
    assert!(only_attachment(&setup.store).await.1.available);
}

#[tokio::test]
async fn a_failed_write_queues_no_copy_and_its_retry_does() {
    // As after a store that failed: the record is retried, and the copy follows its write.
    let setup = setup_with(|store| store.failing("apply_message", 1)).await;
    let url = setup
        .server
        .serve("/media/file/doc.pdf", b"%PDF".to_vec(), "application/pdf");
    let body = Sent::new(302, "file", &url).body();
    let response = setup
        .processor
        .handle_batch(batch(vec![record("m1", body.clone(), 1)]))
        .await;
    assert_eq!(response.batch_item_failures.len(), 1, "the write failed: retried");
    assert!(setup.queued_jobs().is_empty(), "no copy for a message not stored");
    let response = setup.processor.handle_batch(batch(vec![record("m1", body, 2)])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(setup.run_jobs().await, [CopyOutcome::Copied]);
    let (comment, attachment) = only_attachment(&setup.store).await;
    assert_eq!(comment.attachment_ids, [attachment_id(302)]);
    assert!(attachment.available);
    assert_eq!(setup.blobs.keys(), std::slice::from_ref(&attachment.blob_key));
    assert_eq!(setup.server.hits("/media/file/doc.pdf"), 1);
}

#[tokio::test]
async fn a_copy_not_recorded_is_retried_into_the_same_object() {
    let setup = setup_with(|store| store.failing("record_media_copy", 1)).await;
    let url = setup
        .server
        .serve("/media/file/doc.pdf", b"%PDF".to_vec(), "application/pdf");
    setup
        .processor
        .process(&Sent::new(304, "file", &url).body())
        .await
        .unwrap();
    let job = setup.only_job();
    let error = setup.worker.copy(&job, 1).await.unwrap_err();
    assert!(matches!(error, CopyError::Store(_)) && error.is_retryable(), "{error}");
    assert_eq!(setup.blobs.keys().len(), 1, "the copy was made before the write");
    assert_eq!(setup.worker.copy(&job, 2).await.unwrap(), CopyOutcome::Copied);
    let (_, attachment) = only_attachment(&setup.store).await;
    assert!(attachment.available);
    assert_eq!(
        setup.blobs.keys(),
        std::slice::from_ref(&attachment.blob_key),
        "no second object"
    );
    assert_eq!(setup.server.hits("/media/file/doc.pdf"), 2);
}

#[tokio::test]
async fn viber_fixtures_with_expired_links_are_stored_at_once_and_their_files_given_up_on() {
    let setup = setup().await;
    for name in ["message_picture", "message_video", "message_file"] {
        let body = queued(&fixtures::bytes(name));
        assert_eq!(
            setup.processor.process(&body).await.unwrap(),
            Outcome::Applied,
            "{name}"
        );
    }
    let all = comments(&setup.store).await;
    let names: Vec<_> = all.iter().map(|(_, a)| a[0].file_name.clone()).collect();
    assert_eq!(
        names,
        ["1732529009871234.jpg", "1732529066112907.mp4", "Рахунок_48213.pdf"]
    );
    assert_eq!(
        setup.run_jobs().await,
        [CopyOutcome::GivenUp, CopyOutcome::GivenUp, CopyOutcome::GivenUp]
    );
    let all = comments(&setup.store).await;
    for (_, attachments) in &all {
        let reason = attachments[0].unavailable_reason.as_deref().unwrap();
        assert!(reason.contains("expired"), "{reason}");
    }
    assert_eq!(all[0].0.text.as_deref(), Some("Ось фото пошкодженої коробки"));
    assert_eq!(all[2].1[0].size, 183_912);
    assert_eq!(all[2].1[0].content_type, "application/pdf");
    assert!(setup.blobs.keys().is_empty());
}

#[tokio::test]
async fn stickers_are_not_copied() {
    let setup = setup().await;
    setup
        .processor
        .process(&queued(&fixtures::bytes("message_sticker")))
        .await
        .unwrap();
    let all = comments(&setup.store).await;
    assert_eq!(all.len(), 1);
    assert!(all[0].1.is_empty());
    assert!(setup.queued_jobs().is_empty());
    assert!(setup.blobs.keys().is_empty());
}

#[tokio::test]
async fn a_job_that_is_no_job_fails_and_one_for_an_unknown_attachment_is_dropped() {
    let setup = setup().await;
    let error = setup.worker.copy("{\"kind\":\"nonsense\"}", 1).await.unwrap_err();
    assert!(matches!(error, CopyError::Job(_)) && !error.is_retryable(), "{error}");
    let orphan = shared::media::MediaJob::Attachment {
        attachment_id: attachment_id(999),
        url: setup.server.url("/never.jpg"),
        message_type: "picture".into(),
        file_name: None,
        size: None,
    };
    assert_eq!(
        setup.worker.copy(&orphan.queue_message().body, 1).await.unwrap(),
        CopyOutcome::Ignored("unknown attachment")
    );
    assert_eq!(setup.server.hits("/never.jpg"), 0);
}

// ---- The fetcher on its own ----

#[tokio::test]
async fn the_fetcher_keeps_within_the_limit_however_the_body_comes() {
    let server = MediaServer::start().await;
    let fetcher = MediaFetcher::new();
    let body = Bytes::from(vec![1u8; 10_000]);
    let sized = server.serve("/sized.bin", body.clone(), "application/zip");
    server.route(
        "/chunked.bin",
        MediaReply::Chunked {
            body: body.clone(),
            content_type: None,
            chunk: 1000,
        },
    );
    let chunked = server.url("/chunked.bin");

    let fetched = fetcher.fetch(&sized, 10_000).await.unwrap();
    assert_eq!(fetched.bytes, body);
    assert_eq!(fetched.content_type.as_deref(), Some("application/zip"));
    let fetched = fetcher.fetch(&chunked, 10_000).await.unwrap();
    assert_eq!(fetched.bytes, body, "exactly the limit is fine");
    assert_eq!(fetched.content_type, None);

    assert_eq!(
        fetcher.fetch(&sized, 9_999).await.unwrap_err(),
        MediaError::TooLarge {
            limit: 9_999,
            size: Some(10_000)
        }
    );
    assert_eq!(
        fetcher.fetch(&chunked, 9_999).await.unwrap_err(),
        MediaError::TooLarge {
            limit: 9_999,
            size: None
        }
    );

    let missing = fetcher.fetch(&server.url("/missing.jpg"), 10).await.unwrap_err();
    assert_eq!(missing, MediaError::Status(404));
    assert!(missing.is_retryable());
    assert_eq!(missing.to_string(), "Viber's media server answered HTTP 404 Not Found");
}

#[tokio::test]
async fn transport_errors_do_not_reveal_the_signed_link() {
    let fetcher = MediaFetcher::new();
    // Nothing listens on port 9 of loopback.
    let error = fetcher
        .fetch("http://127.0.0.1:9/a.jpg?Expires=9999999999&Signature=SECRET", 10)
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(!error.to_string().contains("SECRET"), "{error}");
}
