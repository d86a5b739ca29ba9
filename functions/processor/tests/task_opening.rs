//! Issue 14: a message opening a task writes the contact (the commit point), then the task and
//! its comment, each on its own, the task's id derived from the message; a delivery cut short
//! anywhere between them is finished by the next one, never opened twice (docs/data-model.md, "A
//! client message"). Every scenario runs on the in-memory store and on DynamoDB against moto. A
//! crash right after the contact write is made by writing the contact as that attempt would have;
//! the states only the DynamoDB adapter can be left in (the task without its comment) are made
//! on moto by deleting what the crashed attempt had not written yet.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use processor::{Outcome, Processor};
use shared::ids::{ContactId, IntegrationId, TaskId};
use shared::inbound::queue_message;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Comment, Contact, ContactTemplate, CurrentTask, Task, TaskState};
use shared::ports::{ContactAdmin, ContactFilter, PageRequest, ProcessorStore, TaskFilter};
use shared::rules::{contact_id, inbound_task_id};
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;

#[derive(Clone, Copy)]
enum Backend {
    Memory,
    Dynamo,
}

/// Runs each listed `async fn name(backend)` once per adapter.
macro_rules! on_both_adapters {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Backend::Memory).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Backend::Dynamo).await;
                }
            )*
        }
    };
}

on_both_adapters!(
    a_new_clients_first_message_opens_one_task,
    a_known_clients_message_after_a_closed_task_opens_a_linked_one,
    a_delivery_cut_short_after_the_contact_is_finished,
    a_new_clients_delivery_cut_short_after_the_contact_is_finished,
    a_re_send_after_the_task_closed_is_a_duplicate,
    a_current_task_whose_opening_never_completed_counts_as_deleted,
    a_new_client_with_template_labels_opens_a_task_once,
);

struct Harness {
    store: Arc<dyn ProcessorStore>,
    /// The same store, for the lists by label.
    admin: Arc<dyn ContactAdmin>,
    processor: Processor,
    /// On moto: the raw client and the table, to make the states a crash leaves.
    table: Option<(aws_sdk_dynamodb::Client, String)>,
}

fn acme() -> IntegrationId {
    IntegrationId::parse("acme").unwrap()
}

async fn harness(backend: Backend, template: ContactTemplate) -> Harness {
    let (store, admin, table): (Arc<dyn ProcessorStore>, Arc<dyn ContactAdmin>, _) = match backend {
        Backend::Memory => {
            let store = Arc::new(MemoryStore::new());
            (store.clone(), store, None)
        }
        Backend::Dynamo => {
            let config = testkit::moto::sdk_config().await;
            let table = testkit::moto::table(&config).await;
            let store = Arc::new(shared::aws::DynamoStore::from_config(&config, table.clone()));
            (
                store.clone(),
                store,
                Some((aws_sdk_dynamodb::Client::new(&config), table)),
            )
        }
    };
    store
        .put_integration(&build::integration("acme").contact_template(template).build())
        .await
        .unwrap();
    let processor = Processor::new(
        store.clone(),
        Arc::new(MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    .without_avatar_copies();
    Harness {
        store,
        admin,
        processor,
        table,
    }
}

/// Viber's time of message `token` (the tests' messages are a millisecond apart).
fn sent_at(token: u64) -> Timestamp {
    Timestamp::from_millis(1_732_528_955_210 + token as i64)
}

fn text(token: u64, user: &str) -> String {
    let body = format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"{user}","name":"Client"}},"message":{{"type":"text","text":"message {token}"}}}}"#,
        sent_at(token).millis()
    );
    let callback = Callback::from_slice(body.as_bytes()).unwrap();
    queue_message(&acme(), body.as_bytes(), &callback, Timestamp::now())
        .unwrap()
        .body
}

/// The task message `token` opens, if it opens one.
fn own_task(token: u64) -> TaskId {
    inbound_task_id(&acme(), token, sent_at(token))
}

fn client(user: &str) -> ContactId {
    contact_id(&acme(), user)
}

impl Harness {
    async fn process(&self, token: u64, user: &str) -> Outcome {
        self.processor.process(&text(token, user)).await.unwrap()
    }

    async fn contact(&self, user: &str) -> Option<Contact> {
        self.store.get_contact(&client(user)).await.unwrap()
    }

    /// The client's tasks, newest first by creation.
    async fn tasks(&self, user: &str) -> Vec<Task> {
        let filter = TaskFilter {
            requester_id: Some(client(user)),
            ..TaskFilter::default()
        };
        let page = self.store.list_tasks(&filter, &PageRequest::first(100)).await.unwrap();
        page.items
    }

    async fn comments(&self, task: &TaskId) -> Vec<Comment> {
        self.store
            .list_comments(task, &PageRequest::first(100))
            .await
            .unwrap()
            .items
    }

    /// Staff closed the client's current task (the contact follows, as the API's change does).
    async fn close(&self, user: &str) -> TaskId {
        let mut contact = self.contact(user).await.unwrap();
        let read = contact.version;
        let current = contact.current_task.as_mut().unwrap();
        current.state = TaskState::Inactive;
        let id = current.id.clone();
        contact.version += 1;
        self.store.put_contact(&contact, Some(read)).await.unwrap();
        id
    }

    /// What a delivery of message `token` that crashed right after its commit point leaves: the
    /// contact (a new one for a new client) pointing at the task derived from the message, opened
    /// `since`, following the contact's current task.
    async fn crash_after_the_contact(&self, token: u64, user: &str, since: Timestamp) -> Contact {
        let stored = self.contact(user).await;
        let mut contact = stored.clone().unwrap_or_else(|| {
            build::contact(client(user).as_str())
                .integration(&acme())
                .user(user)
                .build()
        });
        contact.version = stored.as_ref().map_or(1, |c| c.version + 1);
        contact.current_task = Some(CurrentTask {
            id: own_task(token),
            state: TaskState::Active,
            since: Some(since),
            previous: stored.and_then(|c| c.current_task).map(|c| c.id),
        });
        let read = contact.version.checked_sub(1).filter(|v| *v > 0);
        self.store.put_contact(&contact, read).await.unwrap();
        contact
    }

    /// On moto, deletes an item the crashed delivery had not written yet.
    async fn forget(&self, pk: String, sk: String) {
        let (client, table) = self.table.as_ref().expect("only on DynamoDB");
        client
            .delete_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .send()
            .await
            .unwrap();
    }
}

/// The comment id of message `token` (Viber's time, then the token).
fn comment_sort_key(token: u64) -> String {
    format!("COMMENT#{:012x}-{token}", sent_at(token).millis())
}

/// One task with one comment per message, each of `tokens`.
async fn assert_once(h: &Harness, task: &TaskId, tokens: &[u64]) {
    let comments = h.comments(task).await;
    let found: Vec<Option<u64>> = comments.iter().map(|c| c.viber_message_token).collect();
    let expected: Vec<Option<u64>> = tokens.iter().map(|t| Some(*t)).collect();
    assert_eq!(found, expected, "comments of task {task}");
}

async fn a_new_clients_first_message_opens_one_task(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    assert_eq!(h.process(1, "u1").await, Outcome::Applied);
    let tasks = h.tasks("u1").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].id, own_task(1));
    assert_eq!(tasks[0].previous_task_id, None);
    let current = h.contact("u1").await.unwrap().current_task.unwrap();
    assert_eq!(current.id, own_task(1));
    assert_eq!(current.since, Some(tasks[0].created_at));
    assert_eq!(current.previous, None);
    // Redelivered after everything was written: a duplicate, nothing written.
    let before = h.contact("u1").await;
    assert_eq!(h.process(1, "u1").await, Outcome::Duplicate);
    assert_eq!(h.contact("u1").await, before);
    assert_eq!(h.tasks("u1").await, tasks);
    assert_once(&h, &own_task(1), &[1]).await;

    if h.table.is_some() {
        // A crash after the task, before the comment: the next delivery writes the comment.
        h.forget(format!("TASK#{}", own_task(1)), comment_sort_key(1)).await;
        assert_eq!(h.process(1, "u1").await, Outcome::Applied);
        assert_eq!(h.tasks("u1").await, tasks);
        assert_once(&h, &own_task(1), &[1]).await;
        // A crash after the contact, before the task: both are written, the task as opened.
        h.forget(format!("TASK#{}", own_task(1)), comment_sort_key(1)).await;
        h.forget(format!("TASK#{}", own_task(1)), "TASK".into()).await;
        assert_eq!(h.process(1, "u1").await, Outcome::Applied);
        let again = h.tasks("u1").await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, own_task(1));
        assert_eq!(again[0].created_at, tasks[0].created_at);
        assert_once(&h, &own_task(1), &[1]).await;
        assert_eq!(h.process(1, "u1").await, Outcome::Duplicate);
    }
}

async fn a_known_clients_message_after_a_closed_task_opens_a_linked_one(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    h.process(1, "u1").await;
    let first = h.close("u1").await;
    assert_eq!(h.process(2, "u1").await, Outcome::Applied);
    let tasks = h.tasks("u1").await;
    assert_eq!(tasks.iter().map(|t| &t.id).collect::<Vec<_>>(), [&own_task(2), &first]);
    assert_eq!(tasks[0].previous_task_id.as_ref(), Some(&first));
    let current = h.contact("u1").await.unwrap().current_task.unwrap();
    assert_eq!((current.id, current.previous), (own_task(2), Some(first.clone())));
    assert_eq!(h.process(2, "u1").await, Outcome::Duplicate);
    assert_eq!(h.tasks("u1").await.len(), 2);
    assert_once(&h, &first, &[1]).await;
    assert_once(&h, &own_task(2), &[2]).await;

    if h.table.is_some() {
        h.forget(format!("TASK#{}", own_task(2)), comment_sort_key(2)).await;
        h.forget(format!("TASK#{}", own_task(2)), "TASK".into()).await;
        assert_eq!(h.process(2, "u1").await, Outcome::Applied);
        let again = h.tasks("u1").await;
        assert_eq!(again, tasks, "the task is written again as it was opened");
        assert_once(&h, &own_task(2), &[2]).await;
    }
}

async fn a_delivery_cut_short_after_the_contact_is_finished(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    h.process(1, "u1").await;
    let first = h.close("u1").await;
    let since = Timestamp::now();
    h.crash_after_the_contact(2, "u1", since).await;
    assert_eq!(h.process(2, "u1").await, Outcome::Applied);
    let tasks = h.tasks("u1").await;
    assert_eq!(tasks.len(), 2);
    let opened = &tasks[0];
    assert_eq!(opened.id, own_task(2));
    assert_eq!(opened.previous_task_id.as_ref(), Some(&first));
    assert_eq!(opened.created_at, since, "opened when the contact says");
    assert_once(&h, &first, &[1]).await;
    assert_once(&h, &own_task(2), &[2]).await;
    assert_eq!(h.process(2, "u1").await, Outcome::Duplicate);
    assert_eq!(h.tasks("u1").await.len(), 2);
    // The client's next message joins it.
    assert_eq!(h.process(3, "u1").await, Outcome::Applied);
    assert_once(&h, &own_task(2), &[2, 3]).await;
}

async fn a_new_clients_delivery_cut_short_after_the_contact_is_finished(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    h.crash_after_the_contact(1, "u1", Timestamp::now()).await;
    assert_eq!(h.process(1, "u1").await, Outcome::Applied);
    let tasks = h.tasks("u1").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].id, own_task(1));
    assert_eq!(tasks[0].previous_task_id, None);
    assert_once(&h, &own_task(1), &[1]).await;
    assert_eq!(h.process(1, "u1").await, Outcome::Duplicate);
}

async fn a_re_send_after_the_task_closed_is_a_duplicate(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    h.process(1, "u1").await;
    h.process(2, "u1").await;
    let first = h.close("u1").await;
    let before = h.contact("u1").await;
    // Message 2 joined the closed task: found there (an earlier task), no new task.
    assert_eq!(h.process(2, "u1").await, Outcome::Duplicate);
    // Message 1 opened it: still its own task, a duplicate too.
    assert_eq!(h.process(1, "u1").await, Outcome::Duplicate);
    assert_eq!(h.contact("u1").await, before);
    assert_eq!(h.tasks("u1").await.len(), 1);
    assert_once(&h, &first, &[1, 2]).await;
}

async fn a_current_task_whose_opening_never_completed_counts_as_deleted(backend: Backend) {
    let h = harness(backend, ContactTemplate::default()).await;
    h.process(1, "u1").await;
    let first = h.close("u1").await;
    // Message 2 opened a task and was given up on (the queue's last receive) before writing it.
    h.crash_after_the_contact(2, "u1", Timestamp::now()).await;
    assert_eq!(h.process(3, "u1").await, Outcome::Applied);
    let tasks = h.tasks("u1").await;
    assert_eq!(tasks.iter().map(|t| &t.id).collect::<Vec<_>>(), [&own_task(3), &first]);
    assert_eq!(
        tasks[0].previous_task_id.as_ref(),
        Some(&first),
        "linked past the missing one"
    );
    assert_once(&h, &own_task(3), &[3]).await;
    // Message 2, redriven later, joins the client's task of the day; its own is never opened.
    assert_eq!(h.process(2, "u1").await, Outcome::Applied);
    assert_eq!(h.store.get_task(&own_task(2)).await.unwrap(), None);
    assert_once(&h, &own_task(3), &[2, 3]).await;
    assert_eq!(h.process(2, "u1").await, Outcome::Duplicate);
}

async fn a_new_client_with_template_labels_opens_a_task_once(backend: Backend) {
    let template = ContactTemplate {
        group: Some("Retail clients".into()),
        labels: vec!["viber".into(), "new".into()],
        fields: Default::default(),
    };
    let h = harness(backend, template).await;
    assert_eq!(h.process(1, "u1").await, Outcome::Applied);
    assert_eq!(h.process(1, "u1").await, Outcome::Duplicate);
    let contact = h.contact("u1").await.unwrap();
    assert_eq!(contact.labels, ["viber", "new"]);
    let by_label = ContactFilter {
        label: Some("new".into()),
        group: None,
    };
    let listed = h
        .admin
        .list_contacts_by(&by_label, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items, [contact]);
    assert_eq!(h.tasks("u1").await.len(), 1);
    assert_once(&h, &own_task(1), &[1]).await;
}
