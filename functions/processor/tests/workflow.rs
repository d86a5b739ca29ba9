//! The processor next to staff moving tasks (`TaskWorkflow`): a message after a completion
//! follows the "new task if no active task" option even when the completion lands between the
//! processor's read and its write, and a disconnected integration's events are dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use processor::{Outcome, Processor};
use shared::ids::{IntegrationId, TaskId};
use shared::inbound::queue_message;
use shared::memory::{MemoryQueue, MemoryStore};
use shared::model::{Integration, TaskStatus};
use shared::ports::{IntegrationAdmin, PageRequest, TaskChange, TaskFilter, TaskStore, TaskWorkflow};
use shared::time::Timestamp;
use shared::viber::Callback;
use testkit::build;
use testkit::faulty::Faulty;

/// Once armed, staff complete `task` right after the processor read the contact: the processor
/// then writes on a stale read.
#[derive(Default)]
struct CompletedMeanwhile {
    armed: AtomicBool,
    task: std::sync::Mutex<Option<TaskId>>,
}

impl CompletedMeanwhile {
    async fn complete_if_armed(&self, store: &MemoryStore) {
        if self.armed.swap(false, Ordering::SeqCst) {
            let task = self.task.lock().unwrap().clone().unwrap();
            let change = TaskChange {
                status: Some(TaskStatus::Completed),
                ..TaskChange::default()
            };
            store.update_task(&task, &change, Timestamp::now()).await.unwrap();
        }
    }
}

fn integration(new_task_if_no_active: bool) -> Integration {
    build::integration("acme")
        .new_task_if_no_active(new_task_if_no_active)
        .build()
}

async fn setup(new_task_if_no_active: bool) -> (Arc<MemoryStore>, Arc<CompletedMeanwhile>, Processor) {
    let store = Arc::new(MemoryStore::new());
    store
        .create_integration(&integration(new_task_if_no_active))
        .await
        .unwrap();
    let contacts = Arc::new(CompletedMeanwhile::default());
    let faulty = Faulty::new(store.clone()).then("get_contact", {
        let (store, contacts) = (store.clone(), contacts.clone());
        move || {
            let (store, contacts) = (store.clone(), contacts.clone());
            async move { contacts.complete_if_armed(&store).await }
        }
    });
    let processor = Processor::new(
        Arc::new(faulty),
        Arc::new(MemoryQueue::new()),
        processor::DEFAULT_MAX_RECEIVES,
    )
    .without_avatar_copies();
    (store, contacts, processor)
}

fn message(token: u64) -> String {
    let body = format!(
        r#"{{"event":"message","timestamp":{},"message_token":{token},"sender":{{"id":"u==","name":"Олена"}},"message":{{"type":"text","text":"hi {token}"}}}}"#,
        1_732_528_955_210 + token as i64
    );
    let callback = Callback::from_slice(body.as_bytes()).unwrap();
    queue_message(
        &IntegrationId::parse("acme").unwrap(),
        body.as_bytes(),
        &callback,
        Timestamp::now(),
    )
    .unwrap()
    .body
}

async fn tasks(store: &MemoryStore) -> Vec<shared::model::Task> {
    store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(100))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_completion_between_read_and_write_still_opens_a_new_task() {
    let (store, contacts, processor) = setup(true).await;
    assert_eq!(processor.process(&message(1)).await.unwrap(), Outcome::Applied);
    let first = tasks(&store).await.pop().unwrap();
    *contacts.task.lock().unwrap() = Some(first.id.clone());
    contacts.armed.store(true, Ordering::SeqCst);

    assert_eq!(processor.process(&message(2)).await.unwrap(), Outcome::Applied);
    let all = tasks(&store).await;
    assert_eq!(all.len(), 2);
    let second = all.iter().find(|t| t.id != first.id).unwrap();
    assert_eq!(second.previous_task_id.as_ref(), Some(&first.id));
    assert_eq!(second.status, TaskStatus::New);
    let first = store.get_task(&first.id).await.unwrap().unwrap();
    assert_eq!(first.status, TaskStatus::Completed, "the staff change is not lost");
    let comments = store.list_comments(&first.id, &PageRequest::first(10)).await.unwrap();
    assert_eq!(comments.items.len(), 1);
}

#[tokio::test]
async fn with_the_option_off_the_completed_task_takes_the_message() {
    let (store, contacts, processor) = setup(false).await;
    processor.process(&message(1)).await.unwrap();
    let first = tasks(&store).await.pop().unwrap();
    *contacts.task.lock().unwrap() = Some(first.id.clone());
    contacts.armed.store(true, Ordering::SeqCst);
    processor.process(&message(2)).await.unwrap();
    let all = tasks(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, TaskStatus::Completed);
    let comments = store.list_comments(&first.id, &PageRequest::first(10)).await.unwrap();
    assert_eq!(comments.items.len(), 2);

    // Deleted: a new task anyway.
    assert!(store.delete_task(&first.id, Timestamp::now()).await.unwrap());
    processor.process(&message(3)).await.unwrap();
    let all = tasks(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].previous_task_id.as_ref(), Some(&first.id));
}

#[tokio::test]
async fn a_disconnected_integrations_events_are_dropped() {
    let (store, _, processor) = setup(true).await;
    assert!(
        store
            .delete_integration(&IntegrationId::parse("acme").unwrap())
            .await
            .unwrap()
    );
    assert_eq!(
        processor.process(&message(1)).await.unwrap(),
        Outcome::Ignored("integration disconnected")
    );
    assert!(tasks(&store).await.is_empty());
}
