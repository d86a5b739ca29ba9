//! One behaviour suite for the store ports, run on both adapters: the in-memory store and the
//! DynamoDB store (against moto, `VIBERDESK_MOTO_ENDPOINT`). Each test gets a fresh store, so
//! lists see only that test's records.

use shared::ids::{AttachmentId, CommentId, ContactId, IdempotencyKey, IntegrationId, QuickReplyId, StaffId, TaskId};
use shared::model::{
    Attachment, Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, OutboundPlan, QuickReply,
    StoredAvatar, Task, TaskState, TaskStatus,
};
use shared::ports::{
    AttachmentStore, CommentStore, Conflict, ContactStore, DeliveryStore, KeyedReply, MediaStore, MessageStore,
    MessageWrite, Page, PageRequest, PartRef, QuickReplyStore, Record, ReplyStore, SentPart, StoreError, TaskFilter,
    TaskStore, TaskWrite, WriteOutcome,
};
use shared::rules::effective_status;
use shared::time::Timestamp;
use std::collections::BTreeMap;
use testkit::build;

testkit::store_suites!(
    contact_put_is_conditional_on_version,
    contacts_list_newest_created_first,
    first_message_creates_the_task_and_the_next_appends,
    a_repeated_message_changes_nothing,
    a_message_found_in_an_earlier_task_is_a_duplicate,
    an_unchanged_contact_is_left_unwritten,
    an_older_message_joins_without_undoing_a_newer_one,
    concurrent_duplicates_apply_once,
    a_stale_contact_version_conflicts_and_writes_nothing,
    append_requires_the_task_state_read,
    tasks_list_newest_activity_first_without_deleted,
    tasks_filter_by_status_assignee_and_integration,
    task_pages_follow_cursors_to_the_end,
    filtered_pages_read_on_past_sparse_matches,
    comments_list_oldest_first_in_pages,
    attachments_are_stored_with_their_message,
    a_media_copy_is_recorded_and_never_undone_by_a_give_up,
    an_avatar_copy_is_recorded_on_the_contact_and_its_task,
    parts_are_found_by_integration_and_token,
    part_statuses_never_move_backwards_and_failed_is_final,
    advancing_a_part_of_an_unknown_comment_conflicts,
    sent_parts_keep_their_first_token,
    a_sent_reply_clears_its_waiting_reason,
    a_failed_reply_stays_failed,
    replies_of_an_unknown_comment_conflict,
    the_last_part_completes_a_queued_reply,
    a_reply_is_queued_until_every_part_is_accepted,
    a_reply_waiting_for_a_retry_stays_queued_with_its_reason,
    one_failed_part_fails_the_whole_reply,
    staff_comments_need_a_live_task_and_mark_uploads_available,
    a_reply_key_makes_one_comment_until_it_expires,
    quick_replies_are_kept_listed_and_deleted,
);

// ---- Records ----

/// A fixed base time (ms), so orders in the tests are decided by the offsets only.
const T0: i64 = 1_732_528_955_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn integration(id: &str) -> IntegrationId {
    IntegrationId::parse(id).unwrap()
}

fn staff(id: &str) -> StaffId {
    StaffId::parse(id).unwrap()
}

fn task_id(id: &str) -> TaskId {
    TaskId::parse(id).unwrap()
}

fn contact(id: &str, integration_id: &IntegrationId, updated_ms: i64, version: u64) -> Contact {
    build::contact(id)
        .integration(integration_id)
        .user(&format!("viber-{id}=="))
        .name(&format!("Client {id}"))
        .from_ukraine()
        .version(version)
        .created_at(at(0))
        .updated_at(at(updated_ms))
        .build()
}

/// The contact that opened task `id` is `c-{id}`.
fn requester_of(task_id: &str) -> String {
    format!("c-{task_id}")
}

fn task(id: &str, integration_id: &IntegrationId, status: TaskStatus, assignee: Option<&str>, last_ms: i64) -> Task {
    build::task(id)
        .integration(integration_id)
        .requester(&ContactId::parse(&requester_of(id)).unwrap())
        .title(&format!("Viber: Client {id}"))
        .status(status)
        .assignee(assignee)
        .participants(&["helper"])
        .at(at(last_ms))
        .build()
}

/// Comments are ordered by id (generated ids sort by time), so tests pick ids in time order.
fn client_comment(task_id: &TaskId, id: &str, created_ms: i64) -> Comment {
    Comment {
        id: CommentId::parse(id).unwrap(),
        task_id: task_id.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: "someone".into(),
        },
        text: Some(format!("message {id}")),
        attachment_ids: Vec::new(),
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: at(created_ms),
        viber_message_type: Some("text".into()),
        viber_message_token: Some(5_000_000_000_000_000_000 + created_ms as u64),
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

fn attachment(id: &str) -> Attachment {
    Attachment {
        id: AttachmentId::parse(id).unwrap(),
        file_name: format!("{id}.jpg"),
        content_type: "image/jpeg".into(),
        size: 12_345,
        available: true,
        unavailable_reason: None,
        awaiting_upload: false,
        blob_key: format!("attachments/{id}"),
        created_at: at(0),
    }
}

/// A client's first message: creates their contact (`c-{task}`) and the task, with comment `m-{task}`.
fn opening(task: &Task) -> MessageWrite {
    let mut new_contact = contact(&requester_of(task.id.as_str()), &task.integration_id, 0, 1);
    new_contact.updated_at = task.last_message_at;
    new_contact.current_task = Some(CurrentTask {
        id: task.id.clone(),
        state: TaskState::of(task.status, task.deleted),
        since: None,
        previous: None,
    });
    let first_comment = client_comment(&task.id, &format!("m-{}", task.id), task.last_message_at.millis() - T0);
    MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(new_contact),
        expected_contact_version: None,
        task: TaskWrite::Create(task.clone()),
        comment: first_comment,
        attachments: Vec::new(),
    }
}

/// The next message of `read` (the contact as read) into `task_id`, at `ms`.
fn follow_up(read: &Contact, task_id: &TaskId, comment_id: &str, ms: i64, require_active: bool) -> MessageWrite {
    let mut next = read.clone();
    next.version += 1;
    next.updated_at = at(ms);
    MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(next),
        expected_contact_version: Some(read.version),
        task: TaskWrite::Append {
            task_id: task_id.clone(),
            last_message_at: at(ms),
            require_active,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        },
        comment: client_comment(task_id, comment_id, ms),
        attachments: Vec::new(),
    }
}

/// The contact a write writes (every write of these tests writes one unless it says otherwise).
fn written(write: &MessageWrite) -> &Contact {
    write.contact.as_ref().expect("the write writes its contact")
}

async fn open<S: MessageStore>(store: &S, task: &Task) -> MessageWrite {
    let write = opening(task);
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    write
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict(_))),
        "expected a conflict, got {result:?}"
    );
}

fn ids(page: &Page<Task>) -> Vec<&str> {
    page.items.iter().map(|t| t.id.as_str()).collect()
}

async fn all_comments<S: TaskStore>(store: &S, task_id: &TaskId) -> Vec<Comment> {
    let page = store.list_comments(task_id, &PageRequest::first(100)).await.unwrap();
    assert_eq!(page.next_cursor, None);
    page.items
}

async fn list<S: TaskStore>(store: &S, filter: TaskFilter) -> Vec<String> {
    let page = store.list_tasks(&filter, &PageRequest::first(100)).await.unwrap();
    assert_eq!(page.next_cursor, None);
    ids(&page).into_iter().map(str::to_owned).collect()
}

// ---- Contacts ----

async fn contact_put_is_conditional_on_version<S: ContactStore>(store: &S) {
    let acme = integration("acme");
    let first = contact("alice", &acme, 0, 1);
    assert_eq!(store.get_contact(&first.id).await.unwrap(), None);
    assert_conflict(store.put_contact(&first, Some(1)).await);

    store.put_contact(&first, None).await.unwrap();
    assert_conflict(store.put_contact(&first, None).await);
    assert_eq!(store.get_contact(&first.id).await.unwrap(), Some(first.clone()));

    let second = Contact {
        phone: Some("+380501234567".into()),
        version: 2,
        ..first.clone()
    };
    store.put_contact(&second, Some(1)).await.unwrap();
    let stale = Contact {
        subscribed: false,
        version: 2,
        ..first.clone()
    };
    assert_conflict(store.put_contact(&stale, Some(1)).await);
    assert_eq!(store.get_contact(&first.id).await.unwrap(), Some(second));
}

async fn contacts_list_newest_created_first<S: ContactStore>(store: &S) {
    let acme = integration("acme");
    for (id, created) in [("a", 1_000), ("b", 3_000), ("c", 2_000), ("d", 500)] {
        let mut client = contact(id, &acme, 4_000 - created, 1);
        client.created_at = at(created);
        store.put_contact(&client, None).await.unwrap();
    }
    // A later write of a contact (a message, a subscription) does not move it in the list.
    let mut d = store
        .get_contact(&ContactId::parse("d").unwrap())
        .await
        .unwrap()
        .unwrap();
    d.updated_at = at(9_000);
    d.version = 2;
    store.put_contact(&d, Some(1)).await.unwrap();
    let first = store.list_contacts(&PageRequest::first(3)).await.unwrap();
    let names: Vec<_> = first.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(names, ["b", "c", "a"]);
    let cursor = first.next_cursor.expect("a fourth contact follows");
    let second = store
        .list_contacts(&PageRequest {
            cursor: Some(cursor),
            limit: 3,
        })
        .await
        .unwrap();
    assert_eq!(second.items, [d]);
    assert_eq!(second.next_cursor, None);
    let everyone = store.list_contacts(&PageRequest::first(4)).await.unwrap();
    assert_eq!(everyone.items.len(), 4);
    assert_eq!(everyone.next_cursor, None);
}

// ---- Client messages ----

async fn first_message_creates_the_task_and_the_next_appends<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, Some("anna"), 1_000);
    let first = open(store, &created).await;
    assert_eq!(store.get_task(&created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(
        store.get_contact(&written(&first).id).await.unwrap(),
        first.contact.clone()
    );

    let second = follow_up(written(&first), &created.id, "m-t1-2", 5_000, true);
    assert_eq!(store.apply_message(&second).await.unwrap(), WriteOutcome::Applied);
    let expected = Task {
        last_message_at: at(5_000),
        updated_at: at(5_000),
        ..created
    };
    assert_eq!(store.get_task(&expected.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.get_contact(&written(&first).id).await.unwrap(),
        second.contact.clone()
    );
    assert_eq!(all_comments(store, &expected.id).await, [first.comment, second.comment]);
    // The task's place in the lists follows its activity.
    let listed = store
        .list_tasks(&TaskFilter::default(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items, [expected]);
}

async fn a_repeated_message_changes_nothing<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, None, 1_000);
    let first = open(store, &created).await;
    // Viber re-sends the same callback: the exact same write again.
    assert_eq!(store.apply_message(&first).await.unwrap(), WriteOutcome::Duplicate);
    // A re-send processed after the contact moved on: different content, the same message (its
    // comment id is derived from it).
    let late = follow_up(written(&first), &created.id, first.comment.id.as_str(), 9_000, true);
    assert_eq!(store.apply_message(&late).await.unwrap(), WriteOutcome::Duplicate);
    // Again with the contact left as stored (the write without a transaction on DynamoDB).
    let unwritten = MessageWrite { contact: None, ..late };
    assert_eq!(store.apply_message(&unwritten).await.unwrap(), WriteOutcome::Duplicate);
    let second = MessageWrite {
        contact: None,
        ..follow_up(written(&first), &created.id, "m-t1-2", 5_000, true)
    };
    assert_eq!(store.apply_message(&second).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(store.apply_message(&second).await.unwrap(), WriteOutcome::Duplicate);

    let expected = Task {
        last_message_at: at(5_000),
        updated_at: at(5_000),
        ..created.clone()
    };
    assert_eq!(store.get_task(&created.id).await.unwrap(), Some(expected));
    assert_eq!(store.get_contact(&written(&first).id).await.unwrap(), first.contact);
    assert_eq!(all_comments(store, &created.id).await, [first.comment, second.comment]);
}

async fn a_message_found_in_an_earlier_task_is_a_duplicate<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::Completed, None, 1_000);
    let first = open(store, &created).await;
    // Re-sent after its task was closed: it would open a new task, but the task it left (named
    // as an earlier task) holds its comment.
    let next = task("t2", &acme, TaskStatus::New, None, 9_000);
    let mut contact = written(&first).clone();
    contact.version += 1;
    contact.current_task = Some(CurrentTask {
        id: next.id.clone(),
        state: TaskState::Active,
        since: Some(next.created_at),
        previous: None,
    });
    let mut comment = first.comment.clone();
    comment.task_id = next.id.clone();
    let again = MessageWrite {
        contact: Some(contact),
        expected_contact_version: Some(written(&first).version),
        task: TaskWrite::Create(next.clone()),
        comment,
        attachments: Vec::new(),
        earlier_tasks: vec![created.id.clone()],
    };
    assert_eq!(store.apply_message(&again).await.unwrap(), WriteOutcome::Duplicate);
    assert_eq!(store.get_task(&next.id).await.unwrap(), None);
    assert_eq!(store.get_contact(&written(&first).id).await.unwrap(), first.contact);
    // Another message checked against the same earlier task opens the new task.
    let fresh = MessageWrite {
        comment: client_comment(&next.id, "m-t2", 9_000),
        ..again
    };
    assert_eq!(store.apply_message(&fresh).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(store.get_task(&next.id).await.unwrap(), Some(next));
}

async fn an_unchanged_contact_is_left_unwritten<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, None, 1_000);
    let first = open(store, &created).await;
    // Written by someone else since: a message that leaves the contact as is does not check it.
    let moved_on = Contact {
        version: 2,
        subscribed: false,
        ..written(&first).clone()
    };
    store.put_contact(&moved_on, Some(1)).await.unwrap();
    let second = MessageWrite {
        contact: None,
        ..follow_up(written(&first), &created.id, "m-t1-2", 5_000, true)
    };
    assert_eq!(store.apply_message(&second).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(store.get_contact(&moved_on.id).await.unwrap(), Some(moved_on));
    assert_eq!(
        store.get_task(&created.id).await.unwrap().unwrap().last_message_at,
        at(5_000)
    );
    // The task's own condition still guards where the message goes.
    let completed = task("t9", &acme, TaskStatus::Completed, None, 1_500);
    open(store, &completed).await;
    let into_completed = MessageWrite {
        contact: None,
        ..follow_up(written(&first), &completed.id, "m-t9-2", 6_000, true)
    };
    assert_conflict(store.apply_message(&into_completed).await);
    assert_eq!(all_comments(store, &completed.id).await.len(), 1);
}

async fn an_older_message_joins_without_undoing_a_newer_one<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, None, 1_000);
    let first = open(store, &created).await;
    let newer = MessageWrite {
        contact: None,
        ..follow_up(written(&first), &created.id, "m-t1-3", 5_000, true)
    };
    assert_eq!(store.apply_message(&newer).await.unwrap(), WriteOutcome::Applied);
    // Viber delivers an earlier message late: it joins (and moves the task, as any message
    // does), and a re-delivery of either is still a duplicate.
    let older = MessageWrite {
        contact: None,
        ..follow_up(written(&first), &created.id, "m-t1-2", 6_000, true)
    };
    assert_eq!(store.apply_message(&older).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(store.apply_message(&older).await.unwrap(), WriteOutcome::Duplicate);
    assert_eq!(store.apply_message(&newer).await.unwrap(), WriteOutcome::Duplicate);
    assert_eq!(
        store.get_task(&created.id).await.unwrap().unwrap().last_message_at,
        at(6_000)
    );
    let ids: Vec<String> = all_comments(store, &created.id)
        .await
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(ids, ["m-t1", "m-t1-2", "m-t1-3"]);
}

async fn concurrent_duplicates_apply_once<S: MessageStore + TaskStore>(store: &S) {
    let write = opening(&task("t1", &integration("acme"), TaskStatus::New, None, 1_000));
    let (one, two) = tokio::join!(store.apply_message(&write), store.apply_message(&write));
    let applied = [&one, &two]
        .iter()
        .filter(|r| matches!(r, Ok(WriteOutcome::Applied)))
        .count();
    // The loser sees the marker (Duplicate) or, on DynamoDB, may be refused while the winner's
    // transaction is in flight (Unavailable/Conflict, then retried into Duplicate). Never twice.
    assert_eq!(applied, 1, "{one:?} {two:?}");
    assert_eq!(all_comments(store, &write.comment.task_id).await.len(), 1);
}

async fn a_stale_contact_version_conflicts_and_writes_nothing<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, None, 1_000);
    let first = open(store, &created).await;
    // Someone else (a `subscribed` callback) wrote the contact after this message read it.
    let moved_on = Contact {
        version: 2,
        subscribed: false,
        ..written(&first).clone()
    };
    store.put_contact(&moved_on, Some(1)).await.unwrap();

    let stale = follow_up(written(&first), &created.id, "m-2", 5_000, true);
    assert_conflict(store.apply_message(&stale).await);
    assert_eq!(store.get_task(&created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.get_contact(&moved_on.id).await.unwrap(), Some(moved_on.clone()));
    assert_eq!(
        all_comments(store, &created.id).await,
        std::slice::from_ref(&first.comment)
    );

    // The conflict did not write the message: re-read and retry applies it.
    let retried = follow_up(&moved_on, &created.id, "m-2", 5_000, true);
    assert_eq!(retried.comment.id, stale.comment.id);
    assert_eq!(store.apply_message(&retried).await.unwrap(), WriteOutcome::Applied);

    // A first message for a contact that meanwhile exists conflicts too.
    let mut racing = opening(&task("t2", &acme, TaskStatus::New, None, 2_000));
    racing.contact.as_mut().unwrap().id = written(&first).id.clone();
    assert_conflict(store.apply_message(&racing).await);
    assert_eq!(store.get_task(&task_id("t2")).await.unwrap(), None);
}

async fn append_requires_the_task_state_read<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let completed = task("done", &acme, TaskStatus::Completed, None, 1_000);
    let opened = open(store, &completed).await;
    let contact = written(&opened).clone();

    // Read as active, but it was completed meanwhile.
    assert_conflict(
        store
            .apply_message(&follow_up(&contact, &completed.id, "m-1", 2_000, true))
            .await,
    );
    assert_eq!(store.get_task(&completed.id).await.unwrap(), Some(completed.clone()));
    // With "new task if no active" off the message goes on into a completed task.
    let into_completed = follow_up(&contact, &completed.id, "m-1", 2_000, false);
    assert_eq!(
        store.apply_message(&into_completed).await.unwrap(),
        WriteOutcome::Applied
    );
    assert_eq!(
        store.get_task(&completed.id).await.unwrap().unwrap().last_message_at,
        at(2_000)
    );
    let contact = written(&into_completed).clone();

    // A deleted task never takes a message, and neither does one that does not exist.
    let deleted = Task {
        deleted: true,
        ..task("gone", &acme, TaskStatus::New, None, 1_500)
    };
    open(store, &deleted).await;
    for target in [&deleted.id, &task_id("missing")] {
        for require_active in [true, false] {
            let write = follow_up(&contact, target, "m-2", 3_000, require_active);
            assert_conflict(store.apply_message(&write).await);
        }
    }
    assert_eq!(store.get_task(&deleted.id).await.unwrap(), Some(deleted.clone()));
    assert_eq!(all_comments(store, &deleted.id).await.len(), 1);
    assert_eq!(store.get_contact(&contact.id).await.unwrap(), Some(contact));
}

// ---- Task lists ----

/// Five live tasks and a deleted one, newest activity first: t5, t4, t3, t2, t1.
async fn seed_tasks<S: MessageStore>(store: &S) {
    let (acme, beta) = (integration("acme"), integration("beta"));
    let tasks = [
        task("t1", &acme, TaskStatus::New, Some("anna"), 1_000),
        task("t2", &beta, TaskStatus::Completed, Some("anna"), 2_000),
        task("t3", &acme, TaskStatus::New, None, 3_000),
        task("t4", &acme, TaskStatus::Waiting, Some("bob"), 4_000),
        task("t5", &beta, TaskStatus::New, Some("anna"), 5_000),
        Task {
            deleted: true,
            ..task("tx", &acme, TaskStatus::New, Some("anna"), 9_000)
        },
    ];
    for task in &tasks {
        open(store, task).await;
    }
}

async fn tasks_list_newest_activity_first_without_deleted<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    seed_tasks(store).await;
    assert_eq!(list(store, TaskFilter::default()).await, ["t5", "t4", "t3", "t2", "t1"]);

    // New activity moves a task to the top.
    let contact = store
        .get_contact(&ContactId::parse(&requester_of("t1")).unwrap())
        .await
        .unwrap()
        .unwrap();
    let write = follow_up(&contact, &task_id("t1"), "m-late", 6_000, true);
    store.apply_message(&write).await.unwrap();
    assert_eq!(list(store, TaskFilter::default()).await, ["t1", "t5", "t4", "t3", "t2"]);
}

async fn tasks_filter_by_status_assignee_and_integration<S: MessageStore + TaskStore>(store: &S) {
    seed_tasks(store).await;
    let filter = |status: Option<TaskStatus>, assignee: Option<&str>, integration_id: Option<&str>| TaskFilter {
        status,
        assignee_id: assignee.map(staff),
        integration_id: integration_id.map(integration),
        requester_id: None,
        search: None,
        unassigned: false,
    };
    let new = Some(TaskStatus::New);
    assert_eq!(list(store, filter(new, None, None)).await, ["t5", "t3", "t1"]);
    assert_eq!(
        list(store, filter(Some(TaskStatus::Completed), None, None)).await,
        ["t2"]
    );
    assert_eq!(
        list(store, filter(Some(TaskStatus::Cancelled), None, None)).await,
        Vec::<String>::new()
    );
    assert_eq!(list(store, filter(None, Some("anna"), None)).await, ["t5", "t2", "t1"]);
    assert_eq!(list(store, filter(None, None, Some("acme"))).await, ["t4", "t3", "t1"]);
    assert_eq!(list(store, filter(new, Some("anna"), None)).await, ["t5", "t1"]);
    assert_eq!(list(store, filter(new, None, Some("acme"))).await, ["t3", "t1"]);
    assert_eq!(
        list(store, filter(None, Some("anna"), Some("beta"))).await,
        ["t5", "t2"]
    );
    let completed = Some(TaskStatus::Completed);
    assert_eq!(list(store, filter(completed, None, Some("beta"))).await, ["t2"]);
    assert_eq!(list(store, filter(new, Some("anna"), Some("acme"))).await, ["t1"]);
    assert_eq!(
        list(store, filter(new, Some("bob"), Some("acme"))).await,
        Vec::<String>::new()
    );
}

/// Follows cursors from the first page to the end; returns the pages' ids.
async fn pages<S: TaskStore>(store: &S, filter: &TaskFilter, limit: usize) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut request = PageRequest::first(limit);
    loop {
        let page = store.list_tasks(filter, &request).await.unwrap();
        assert!(page.items.len() <= limit);
        pages.push(ids(&page).into_iter().map(str::to_owned).collect());
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return pages,
        }
    }
}

async fn task_pages_follow_cursors_to_the_end<S: MessageStore + TaskStore>(store: &S) {
    seed_tasks(store).await;
    let all = TaskFilter::default();
    assert_eq!(
        pages(store, &all, 2).await,
        [vec!["t5", "t4"], vec!["t3", "t2"], vec!["t1"]]
    );
    // A last page that is exactly full has no cursor: no empty page follows.
    assert_eq!(pages(store, &all, 5).await, [vec!["t5", "t4", "t3", "t2", "t1"]]);
    let new = TaskFilter {
        status: Some(TaskStatus::New),
        ..TaskFilter::default()
    };
    assert_eq!(pages(store, &new, 1).await, [vec!["t5"], vec!["t3"], vec!["t1"]]);
    let anna_at_beta = TaskFilter {
        assignee_id: Some(staff("anna")),
        integration_id: Some(integration("beta")),
        ..TaskFilter::default()
    };
    assert_eq!(pages(store, &anna_at_beta, 1).await, [vec!["t5"], vec!["t2"]]);
}

/// Three completed tasks among 104 of one integration: a filtered page must keep reading the
/// index (DynamoDB stops each request after a batch of items, matching or not).
async fn filtered_pages_read_on_past_sparse_matches<S: MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    for n in 0..104 {
        let status = if [2, 50, 101].contains(&n) {
            TaskStatus::Completed
        } else {
            TaskStatus::New
        };
        open(store, &task(&format!("t{n:03}"), &acme, status, None, n * 1_000)).await;
    }
    let completed_at_acme = TaskFilter {
        status: Some(TaskStatus::Completed),
        integration_id: Some(acme),
        ..TaskFilter::default()
    };
    assert_eq!(
        pages(store, &completed_at_acme, 2).await,
        [vec!["t101", "t050"], vec!["t002"]]
    );
    assert_eq!(
        pages(store, &completed_at_acme, 3).await,
        [vec!["t101", "t050", "t002"]]
    );
}

// ---- Comments and attachments ----

async fn comments_list_oldest_first_in_pages<S: ContactStore + MessageStore + TaskStore>(store: &S) {
    let acme = integration("acme");
    let created = task("t1", &acme, TaskStatus::New, None, 1_000);
    let mut contact = written(&open(store, &created).await).clone();
    // A neighbouring task's comments must not leak into this one's list.
    open(store, &task("t2", &acme, TaskStatus::New, None, 1_500)).await;
    for n in 2..=5 {
        let write = follow_up(&contact, &created.id, &format!("m-t1-{n}"), n * 1_000, true);
        store.apply_message(&write).await.unwrap();
        contact = written(&write).clone();
    }
    let expected = ["m-t1", "m-t1-2", "m-t1-3", "m-t1-4", "m-t1-5"];
    let all: Vec<_> = all_comments(store, &created.id)
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(all.iter().map(|id| id.as_str()).collect::<Vec<_>>(), expected);

    let mut seen = Vec::new();
    let mut request = PageRequest::first(2);
    loop {
        let page = store.list_comments(&created.id, &request).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|c| c.id.as_str().to_owned()));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let unknown = store
        .list_comments(&task_id("nope"), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        unknown,
        Page {
            items: vec![],
            next_cursor: None
        }
    );
}

async fn attachments_are_stored_with_their_message<S: MessageStore + TaskStore>(store: &S) {
    let mut write = opening(&task("t1", &integration("acme"), TaskStatus::New, None, 1_000));
    let files = [attachment("a1"), attachment("a2")];
    write.comment.attachment_ids = files.iter().map(|a| a.id.clone()).collect();
    write.attachments = files.to_vec();
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    for file in &files {
        assert_eq!(store.get_attachment(&file.id).await.unwrap(), Some(file.clone()));
    }
    let unknown = AttachmentId::parse("a3").unwrap();
    assert_eq!(store.get_attachment(&unknown).await.unwrap(), None);
    assert_eq!(all_comments(store, &write.comment.task_id).await, [write.comment]);
}

async fn a_media_copy_is_recorded_and_never_undone_by_a_give_up<S: MessageStore + TaskStore + MediaStore>(store: &S) {
    let mut write = opening(&task("t1", &integration("acme"), TaskStatus::New, None, 1_000));
    let pending = Attachment {
        available: false,
        unavailable_reason: Some("The file is being copied from Viber.".into()),
        size: 0,
        ..attachment("a1")
    };
    write.comment.attachment_ids = vec![pending.id.clone()];
    write.attachments = vec![pending.clone()];
    store.apply_message(&write).await.unwrap();
    assert_eq!(store.get_attachment(&pending.id).await.unwrap(), Some(pending.clone()));

    // A failed attempt's reason, then the copy.
    let given_up = Attachment {
        unavailable_reason: Some("gave up".into()),
        ..pending.clone()
    };
    assert!(store.record_media_copy(&given_up).await.unwrap());
    assert_eq!(store.get_attachment(&pending.id).await.unwrap(), Some(given_up.clone()));
    let copied = Attachment {
        file_name: "box.jpg".into(),
        blob_key: "attachments/a1/box.jpg".into(),
        ..attachment("a1")
    };
    assert!(store.record_media_copy(&copied).await.unwrap());
    assert_eq!(store.get_attachment(&pending.id).await.unwrap(), Some(copied.clone()));
    // A late give-up (a duplicate job) never replaces the copy; the copy again changes nothing.
    assert!(!store.record_media_copy(&given_up).await.unwrap());
    assert!(store.record_media_copy(&copied).await.unwrap());
    assert_eq!(store.get_attachment(&pending.id).await.unwrap(), Some(copied));

    let unknown = Attachment {
        available: false,
        ..attachment("a9")
    };
    for record in [unknown.clone(), attachment("a9")] {
        let refused = store.record_media_copy(&record).await;
        assert!(
            matches!(&refused, Err(StoreError::Conflict(Conflict::UnknownAttachment(id))) if id == &unknown.id),
            "{refused:?}"
        );
    }
    assert_eq!(
        store.get_attachment(&unknown.id).await.unwrap(),
        None,
        "nothing created"
    );
}

async fn an_avatar_copy_is_recorded_on_the_contact_and_its_task<
    S: ContactStore + MessageStore + TaskStore + MediaStore,
>(
    store: &S,
) {
    let url = "https://media.example/olena.jpg";
    let mut write = opening(&task("t1", &integration("acme"), TaskStatus::New, None, 1_000));
    write.contact.as_mut().unwrap().avatar_url = Some(url.into());
    store.apply_message(&write).await.unwrap();
    let contact_id = written(&write).id.clone();
    let read = store.get_contact(&contact_id).await.unwrap().unwrap();

    // A copy of another picture (the contact changed it since) records nothing.
    let outdated = StoredAvatar {
        source_url: "https://media.example/old.jpg".into(),
        blob_key: Some("avatars/c-t1/old".into()),
    };
    assert!(!store.record_avatar_copy(&contact_id, &outdated).await.unwrap());
    assert_eq!(store.get_contact(&contact_id).await.unwrap(), Some(read.clone()));

    let copied = StoredAvatar {
        source_url: url.into(),
        blob_key: Some("avatars/c-t1/0123".into()),
    };
    assert!(store.record_avatar_copy(&contact_id, &copied).await.unwrap());
    let recorded = store.get_contact(&contact_id).await.unwrap().unwrap();
    assert_eq!(recorded.avatar, Some(copied.clone()));
    assert_eq!(
        recorded.version,
        read.version + 1,
        "a processor write racing it decides again"
    );
    let listed = store.get_task(&task_id("t1")).await.unwrap().unwrap();
    assert_eq!(listed.requester_avatar.as_deref(), Some("avatars/c-t1/0123"));
    // The processor's lock sees the change.
    assert_conflict(store.put_contact(&read, Some(read.version)).await);

    // Unknown contact: nothing.
    let nobody = ContactId::parse("c-nobody").unwrap();
    assert!(!store.record_avatar_copy(&nobody, &copied).await.unwrap());
    assert_eq!(store.get_contact(&nobody).await.unwrap(), None);

    // A contact whose current task was never written (its opening was given up on): the
    // contact alone; and a copy that failed for good records no key and leaves the task as is.
    let mut stranded = contact("c-stranded", &integration("acme"), 0, 1);
    stranded.avatar_url = Some(url.into());
    stranded.current_task = Some(CurrentTask {
        id: task_id("t-never"),
        state: TaskState::Active,
        since: None,
        previous: None,
    });
    store.put_contact(&stranded, None).await.unwrap();
    assert!(store.record_avatar_copy(&stranded.id, &copied).await.unwrap());
    let read = store.get_contact(&stranded.id).await.unwrap().unwrap();
    assert_eq!(read.avatar, Some(copied));
    assert_eq!(
        store.get_task(&task_id("t-never")).await.unwrap(),
        None,
        "no task made up"
    );
    let failed = StoredAvatar {
        source_url: url.into(),
        blob_key: None,
    };
    assert!(store.record_avatar_copy(&contact_id, &failed).await.unwrap());
    assert_eq!(
        store.get_contact(&contact_id).await.unwrap().unwrap().avatar,
        Some(failed)
    );
    let listed = store.get_task(&task_id("t1")).await.unwrap().unwrap();
    assert_eq!(listed.requester_avatar.as_deref(), Some("avatars/c-t1/0123"));
}

// ---- Delivery of staff replies ----

/// A task with a staff reply `r1` queued for sending; returns where the reply is.
async fn seed_reply<S: MessageStore>(store: &S) -> PartRef {
    seed_reply_with_id(store, "r1").await
}

/// A task of its own (named after the reply) with a staff reply `id` queued for sending.
async fn seed_reply_with_id<S: MessageStore>(store: &S, id: &str) -> PartRef {
    seed_counted_reply(store, id, None).await
}

/// As [`seed_reply_with_id`]; with `part_count`, the reply carries the outbound plan the staff
/// API stores, counted as that many Viber messages (text, picture, file…).
async fn seed_counted_reply<S: MessageStore>(store: &S, id: &str, part_count: Option<usize>) -> PartRef {
    let acme = integration("acme");
    let task_name = if id == "r1" { "t1".to_owned() } else { format!("t-{id}") };
    let created = task(&task_name, &acme, TaskStatus::InProgress, Some("anna"), 1_000);
    let mut write = opening(&created);
    write.comment = Comment {
        author: Author {
            kind: AuthorKind::Staff,
            id: "anna".into(),
        },
        notify_client: true,
        status: CommentStatus::Queued,
        viber_message_type: None,
        viber_message_token: None,
        outbound: part_count.map(|part_count| OutboundPlan {
            integration_id: acme,
            contact_id: created.requester_id.clone(),
            viber_user_id: "viber-user".into(),
            as_staff: None,
            attachments: vec![],
            part_count,
        }),
        ..client_comment(&created.id, id, 1_000)
    };
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    PartRef {
        task_id: created.id,
        comment_id: write.comment.id,
    }
}

async fn reply<S: TaskStore>(store: &S, part: &PartRef) -> Comment {
    let comments = all_comments(store, &part.task_id).await;
    comments
        .into_iter()
        .find(|c| c.id == part.comment_id)
        .expect("the reply is stored")
}

async fn parts_are_found_by_integration_and_token<S: MessageStore + DeliveryStore>(store: &S) {
    let part = seed_reply(store).await;
    let (acme, beta) = (integration("acme"), integration("beta"));
    let token = 5_491_627_287_338_720_123;
    assert_eq!(store.find_part(&acme, token).await.unwrap(), None);
    store.record_part(&acme, token, &part).await.unwrap();
    // Recording again (a retried send) is harmless.
    store.record_part(&acme, token, &part).await.unwrap();
    assert_eq!(store.find_part(&acme, token).await.unwrap(), Some(part.clone()));
    // Tokens are per bot: the same number from another integration is a different message.
    assert_eq!(store.find_part(&beta, token).await.unwrap(), None);
    assert_eq!(store.find_part(&acme, token + 1).await.unwrap(), None);
}

async fn part_statuses_never_move_backwards_and_failed_is_final<S: MessageStore + TaskStore + DeliveryStore>(
    store: &S,
) {
    use CommentStatus::{Delivered, Failed, Seen, Sent};
    let part = seed_reply(store).await;
    let (text, picture) = (1_001_u64, 1_002_u64);
    let parts = |pairs: &[(u64, CommentStatus)]| {
        pairs
            .iter()
            .map(|(token, status)| (token.to_string(), *status))
            .collect::<std::collections::BTreeMap<_, _>>()
    };

    store.advance_part(&part, text, Sent, None).await.unwrap();
    store.advance_part(&part, picture, Sent, None).await.unwrap();
    // `seen` may arrive before a late `delivered`; a device's second `delivered` repeats.
    store.advance_part(&part, text, Seen, None).await.unwrap();
    store.advance_part(&part, text, Delivered, None).await.unwrap();
    store.advance_part(&part, picture, Delivered, None).await.unwrap();
    store.advance_part(&part, picture, Delivered, None).await.unwrap();
    store.advance_part(&part, picture, Sent, None).await.unwrap();
    let comment = reply(store, &part).await;
    assert_eq!(comment.parts, parts(&[(text, Seen), (picture, Delivered)]));
    assert_eq!(comment.status_reason, None);

    store
        .advance_part(&part, picture, Failed, Some("receiver is not subscribed"))
        .await
        .unwrap();
    for later in [Seen, Delivered, Sent] {
        store.advance_part(&part, picture, later, None).await.unwrap();
    }
    store
        .advance_part(&part, picture, Failed, Some("another reason"))
        .await
        .unwrap();
    let comment = reply(store, &part).await;
    assert_eq!(comment.parts, parts(&[(text, Seen), (picture, Failed)]));
    assert_eq!(comment.status_reason.as_deref(), Some("receiver is not subscribed"));
    // The rest of the comment is untouched.
    assert_eq!(comment.status, CommentStatus::Queued);
    assert_eq!(comment.text.as_deref(), Some("message r1"));
}

async fn advancing_a_part_of_an_unknown_comment_conflicts<S: MessageStore + TaskStore + DeliveryStore>(store: &S) {
    let part = seed_reply(store).await;
    let unknown = PartRef {
        comment_id: CommentId::parse("r-unknown").unwrap(),
        ..part.clone()
    };
    assert_conflict(store.advance_part(&unknown, 7, CommentStatus::Sent, None).await);
    assert!(reply(store, &part).await.parts.is_empty());
    // … and it did not create a comment.
    assert_eq!(all_comments(store, &part.task_id).await.len(), 1);
}

// ---- Sending staff replies (ReplyStore) ----

async fn the_last_part_completes_a_queued_reply<S: MessageStore + TaskStore + DeliveryStore + ReplyStore>(store: &S) {
    let part = seed_reply(store).await;
    let acme = integration("acme");
    store
        .note_waiting(&part, "Viber rate limit: waiting to retry")
        .await
        .unwrap();
    let last = SentPart {
        comment: &part,
        integration_id: &acme,
        part_index: 1,
        message_token: 22,
        completes: true,
    };
    store.record_sent_part(&last).await.unwrap();
    let sent = reply(store, &part).await;
    assert_eq!(
        (sent.status, sent.status_reason.as_deref()),
        (CommentStatus::Sent, None)
    );
    assert_eq!(store.find_part(&acme, 22).await.unwrap(), Some(part.clone()));
    // Recorded again (a retry), or after the reply was failed by a concurrent attempt: the
    // token is kept and the status left alone.
    store.record_sent_part(&last).await.unwrap();
    let failed = seed_reply_with_id(store, "r2").await;
    store
        .finish_comment(&failed, CommentStatus::Failed, Some("receiver not subscribed"))
        .await
        .unwrap();
    let late = SentPart {
        comment: &failed,
        message_token: 23,
        ..last
    };
    store.record_sent_part(&late).await.unwrap();
    let stored = store.get_reply(&failed).await.unwrap().unwrap();
    assert_eq!(stored.comment.status, CommentStatus::Failed);
    assert_eq!(stored.sent_parts, BTreeMap::from([(1, 23)]));
}

fn part_of<'a>(comment: &'a PartRef, integration_id: &'a IntegrationId, index: usize, token: u64) -> SentPart<'a> {
    SentPart {
        comment,
        integration_id,
        part_index: index,
        message_token: token,
        completes: index == 2,
    }
}

async fn shown<S: TaskStore>(store: &S, part: &PartRef) -> CommentStatus {
    effective_status(&reply(store, part).await)
}

async fn a_reply_is_queued_until_every_part_is_accepted<S: MessageStore + TaskStore + DeliveryStore + ReplyStore>(
    store: &S,
) {
    use CommentStatus::{Delivered, Queued, Seen, Sent};
    let part = seed_counted_reply(store, "r1", Some(3)).await;
    let acme = integration("acme");
    assert_eq!(shown(store, &part).await, Queued);
    store.record_sent_part(&part_of(&part, &acme, 0, 31)).await.unwrap();
    store.record_sent_part(&part_of(&part, &acme, 1, 32)).await.unwrap();
    assert_eq!(shown(store, &part).await, Queued);
    // Receipts for parts 1 and 2 are processed before part 3 is recorded: still queued.
    store.advance_part(&part, 31, Delivered, None).await.unwrap();
    store.advance_part(&part, 32, Delivered, None).await.unwrap();
    assert_eq!(shown(store, &part).await, Queued);
    store.record_sent_part(&part_of(&part, &acme, 2, 33)).await.unwrap();
    assert_eq!(shown(store, &part).await, Sent);
    // Receipts out of order: the last part seen before the first is; a late `delivered` of a part
    // already seen changes nothing.
    store.advance_part(&part, 33, Seen, None).await.unwrap();
    assert_eq!(shown(store, &part).await, Delivered);
    store.advance_part(&part, 31, Seen, None).await.unwrap();
    store.advance_part(&part, 33, Delivered, None).await.unwrap();
    assert_eq!(shown(store, &part).await, Delivered);
    store.advance_part(&part, 32, Seen, None).await.unwrap();
    assert_eq!(shown(store, &part).await, Seen);
}

async fn a_reply_waiting_for_a_retry_stays_queued_with_its_reason<
    S: MessageStore + TaskStore + DeliveryStore + ReplyStore,
>(
    store: &S,
) {
    let part = seed_counted_reply(store, "r1", Some(3)).await;
    let acme = integration("acme");
    store.record_sent_part(&part_of(&part, &acme, 0, 41)).await.unwrap();
    // Part 2 met a Viber 500: the reply waits for the retry, queued, saying why.
    store
        .note_waiting(&part, "Viber answered HTTP 500; retrying")
        .await
        .unwrap();
    let waiting = reply(store, &part).await;
    assert_eq!(effective_status(&waiting), CommentStatus::Queued);
    assert_eq!(
        waiting.status_reason.as_deref(),
        Some("Viber answered HTTP 500; retrying")
    );
    // The retry sends parts 2 and 3 (part 1 keeps its token and is not sent again).
    store.record_sent_part(&part_of(&part, &acme, 1, 42)).await.unwrap();
    assert_eq!(shown(store, &part).await, CommentStatus::Queued);
    store.record_sent_part(&part_of(&part, &acme, 2, 43)).await.unwrap();
    let sent = reply(store, &part).await;
    assert_eq!(
        (effective_status(&sent), sent.status_reason.as_deref()),
        (CommentStatus::Sent, None)
    );
    let stored = store.get_reply(&part).await.unwrap().unwrap();
    assert_eq!(stored.sent_parts, BTreeMap::from([(0, 41), (1, 42), (2, 43)]));
}

async fn one_failed_part_fails_the_whole_reply<S: MessageStore + TaskStore + DeliveryStore + ReplyStore>(store: &S) {
    let part = seed_counted_reply(store, "r1", Some(3)).await;
    let acme = integration("acme");
    store.record_sent_part(&part_of(&part, &acme, 0, 51)).await.unwrap();
    store.record_sent_part(&part_of(&part, &acme, 1, 52)).await.unwrap();
    store
        .advance_part(&part, 51, CommentStatus::Delivered, None)
        .await
        .unwrap();
    store
        .advance_part(&part, 52, CommentStatus::Failed, Some("receiver is not subscribed"))
        .await
        .unwrap();
    let failed = reply(store, &part).await;
    assert_eq!(effective_status(&failed), CommentStatus::Failed);
    assert_eq!(failed.status_reason.as_deref(), Some("receiver is not subscribed"));
    // Later receipts and the last part change nothing: failed is final.
    store.record_sent_part(&part_of(&part, &acme, 2, 53)).await.unwrap();
    store.advance_part(&part, 51, CommentStatus::Seen, None).await.unwrap();
    store.advance_part(&part, 53, CommentStatus::Seen, None).await.unwrap();
    assert_eq!(shown(store, &part).await, CommentStatus::Failed);
}

async fn staff_comments_need_a_live_task_and_mark_uploads_available<
    S: MessageStore + TaskStore + CommentStore + AttachmentStore,
>(
    store: &S,
) {
    let acme = integration("acme");
    let live = task("t1", &acme, TaskStatus::InProgress, None, 1_000);
    open(store, &live).await;
    let mut upload = attachment("up1");
    upload.available = false;
    upload.unavailable_reason = Some("the file has not been uploaded yet".into());
    store.put_attachment(&upload).await.unwrap();
    assert_eq!(store.get_attachment(&upload.id).await.unwrap(), Some(upload.clone()));

    let internal = Comment {
        author: Author {
            kind: AuthorKind::Staff,
            id: "anna".into(),
        },
        status: CommentStatus::Internal,
        attachment_ids: vec![upload.id.clone()],
        viber_message_type: None,
        viber_message_token: None,
        ..client_comment(&live.id, "s1", 2_000)
    };
    store
        .add_staff_comment(&internal, std::slice::from_ref(&upload.id), None)
        .await
        .unwrap();
    let comments = all_comments(store, &live.id).await;
    assert_eq!(comments.last(), Some(&internal));
    let available = store.get_attachment(&upload.id).await.unwrap().unwrap();
    assert!(
        available.available && available.unavailable_reason.is_none(),
        "{available:?}"
    );
    // The same comment id again, an unknown task, an unknown attachment: nothing written.
    assert_conflict(store.add_staff_comment(&internal, &[], None).await);
    let orphan = Comment {
        task_id: task_id("t-unknown"),
        ..internal.clone()
    };
    assert_conflict(store.add_staff_comment(&orphan, &[], None).await);
    let unknown_file = Comment {
        id: CommentId::parse("s2").unwrap(),
        ..internal.clone()
    };
    assert_conflict(
        store
            .add_staff_comment(&unknown_file, &[AttachmentId::parse("nope").unwrap()], None)
            .await,
    );
    assert_eq!(all_comments(store, &live.id).await.len(), comments.len());
    assert!(all_comments(store, &task_id("t-unknown")).await.is_empty());
}

async fn a_reply_key_makes_one_comment_until_it_expires<S: MessageStore + TaskStore + CommentStore>(store: &S) {
    let acme = integration("acme");
    let live = task("t1", &acme, TaskStatus::InProgress, None, 1_000);
    open(store, &live).await;
    let staff = |id: &str, ms: i64| Comment {
        author: Author {
            kind: AuthorKind::Staff,
            id: "anna".into(),
        },
        status: CommentStatus::Internal,
        viber_message_type: None,
        viber_message_token: None,
        ..client_comment(&live.id, id, ms)
    };
    let anna = StaffId::parse("anna").unwrap();
    let key = IdempotencyKey::parse("4f9c2b1e-0d7a-4c3e-9b8f-1a2b3c4d5e6f").unwrap();
    let keyed = |staff_id: &StaffId, comment: &Comment, expires_at: Timestamp| KeyedReply {
        staff_id: staff_id.clone(),
        key: key.clone(),
        task_id: comment.task_id.clone(),
        comment_id: comment.id.clone(),
        request_hash: "digest".into(),
        expires_at,
    };
    let later = Timestamp::now().plus_seconds(3_600);
    assert_eq!(store.keyed_reply(&anna, &key).await.unwrap(), None);
    let before = all_comments(store, &live.id).await.len();

    let first = staff("s1", 2_000);
    store
        .add_staff_comment(&first, &[], Some(&keyed(&anna, &first, later)))
        .await
        .unwrap();
    let remembered = store.keyed_reply(&anna, &key).await.unwrap().unwrap();
    assert_eq!(remembered.comment_id, first.id);
    assert_eq!(remembered.task_id, live.id);
    assert_eq!(remembered.request_hash, "digest");
    // Stored to the second (DynamoDB's TTL attribute is in epoch seconds).
    assert_eq!(remembered.expires_at.millis() / 1000, later.millis() / 1000);
    assert_eq!(
        store.get_comment(&live.id, &first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .get_comment(&live.id, &CommentId::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );

    // The same key for another comment (a retry that did not see the first answer): refused, and
    // nothing written.
    let retry = staff("s2", 3_000);
    match store
        .add_staff_comment(&retry, &[], Some(&keyed(&anna, &retry, later)))
        .await
    {
        Err(StoreError::Conflict(Conflict::AlreadyExists(Record::ReplyKey(taken)))) => assert_eq!(taken, key),
        other => panic!("expected the key to be taken, got {other:?}"),
    }
    assert_eq!(store.get_comment(&live.id, &retry.id).await.unwrap(), None);
    // Keys are each member's own.
    let bob = StaffId::parse("bob").unwrap();
    store
        .add_staff_comment(&retry, &[], Some(&keyed(&bob, &retry, later)))
        .await
        .unwrap();
    assert_eq!(
        store.keyed_reply(&bob, &key).await.unwrap().unwrap().comment_id,
        retry.id
    );

    // An expired key is forgotten, and free again.
    let carl = StaffId::parse("carl").unwrap();
    let old = staff("s3", 4_000);
    let expired = Timestamp::now().plus_seconds(-5);
    store
        .add_staff_comment(&old, &[], Some(&keyed(&carl, &old, expired)))
        .await
        .unwrap();
    assert_eq!(store.keyed_reply(&carl, &key).await.unwrap(), None);
    let fresh = staff("s4", 5_000);
    store
        .add_staff_comment(&fresh, &[], Some(&keyed(&carl, &fresh, later)))
        .await
        .unwrap();
    assert_eq!(
        store.keyed_reply(&carl, &key).await.unwrap().unwrap().comment_id,
        fresh.id
    );
    assert_eq!(all_comments(store, &live.id).await.len(), before + 4);
}

async fn quick_replies_are_kept_listed_and_deleted<S: QuickReplyStore>(store: &S) {
    let quick = |id: &str, ms: i64| QuickReply {
        id: QuickReplyId::parse(id).unwrap(),
        title: format!("title {id}"),
        text: format!("Hello {{client_name}}, {id}"),
        created_at: at(ms),
        updated_at: at(ms),
    };
    let first = store.list_quick_replies(&PageRequest::first(10)).await.unwrap();
    assert!(first.items.is_empty() && first.next_cursor.is_none());
    for (id, ms) in [("q1", 1), ("q2", 2), ("q3", 3)] {
        store.put_quick_reply(&quick(id, ms)).await.unwrap();
    }
    let mut changed = quick("q2", 2);
    changed.text = "changed".into();
    changed.updated_at = at(10);
    store.put_quick_reply(&changed).await.unwrap();
    assert_eq!(store.get_quick_reply(&changed.id).await.unwrap(), Some(changed.clone()));
    let page = store.list_quick_replies(&PageRequest::first(2)).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["q3", "q2"]);
    let rest = store
        .list_quick_replies(&PageRequest {
            cursor: page.next_cursor.clone(),
            limit: 2,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = rest.items.iter().map(|q| q.id.as_str()).collect();
    assert_eq!((ids, rest.next_cursor), (vec!["q1"], None));
    assert!(store.delete_quick_reply(&changed.id).await.unwrap());
    assert!(!store.delete_quick_reply(&changed.id).await.unwrap());
    assert_eq!(store.get_quick_reply(&changed.id).await.unwrap(), None);
    assert_eq!(
        store
            .list_quick_replies(&PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

async fn sent_parts_keep_their_first_token<S: MessageStore + TaskStore + DeliveryStore + ReplyStore>(store: &S) {
    use CommentStatus::{Delivered, Sent};
    let part = seed_reply(store).await;
    let fresh = store.get_reply(&part).await.unwrap().expect("the reply exists");
    assert!(fresh.sent_parts.is_empty());
    assert_eq!(fresh.comment, reply(store, &part).await);

    let acme = integration("acme");
    let sent = |part_index, message_token| SentPart {
        comment: &part,
        integration_id: &acme,
        part_index,
        message_token,
        completes: false,
    };
    store.record_sent_part(&sent(0, 11)).await.unwrap();
    // A retry that learns the same token again changes nothing.
    store.record_sent_part(&sent(0, 11)).await.unwrap();
    assert_conflict(store.record_sent_part(&sent(0, 12)).await);
    store.record_sent_part(&sent(1, 12)).await.unwrap();
    // A receipt that came first is not moved back to `sent`.
    store.advance_part(&part, 13, Delivered, None).await.unwrap();
    store.record_sent_part(&sent(2, 13)).await.unwrap();
    // Each token leads a later receipt to the reply.
    for token in [11, 12, 13] {
        assert_eq!(store.find_part(&acme, token).await.unwrap(), Some(part.clone()));
    }

    let stored = store.get_reply(&part).await.unwrap().unwrap();
    assert_eq!(stored.sent_parts, BTreeMap::from([(0, 11), (1, 12), (2, 13)]));
    let expected_parts = BTreeMap::from([
        ("11".to_owned(), Sent),
        ("12".to_owned(), Sent),
        ("13".to_owned(), Delivered),
    ]);
    assert_eq!(stored.comment.parts, expected_parts);
    assert_eq!(stored.comment.status, CommentStatus::Queued);
    // The comment still reads and lists as before.
    assert_eq!(reply(store, &part).await, stored.comment);
}

async fn a_sent_reply_clears_its_waiting_reason<S: MessageStore + TaskStore + ReplyStore>(store: &S) {
    let part = seed_reply(store).await;
    store
        .note_waiting(&part, "Viber rate limit: waiting to retry")
        .await
        .unwrap();
    let waiting = reply(store, &part).await;
    assert_eq!(waiting.status, CommentStatus::Queued);
    assert_eq!(
        waiting.status_reason.as_deref(),
        Some("Viber rate limit: waiting to retry")
    );

    store.finish_comment(&part, CommentStatus::Sent, None).await.unwrap();
    let sent = reply(store, &part).await;
    assert_eq!((sent.status, sent.status_reason), (CommentStatus::Sent, None));
    // Once sent, nothing moves it back or notes a wait.
    store.note_waiting(&part, "late note").await.unwrap();
    store.finish_comment(&part, CommentStatus::Queued, None).await.unwrap();
    store.finish_comment(&part, CommentStatus::Sent, None).await.unwrap();
    let still = reply(store, &part).await;
    assert_eq!((still.status, still.status_reason), (CommentStatus::Sent, None));
}

async fn a_failed_reply_stays_failed<S: MessageStore + TaskStore + ReplyStore>(store: &S) {
    let part = seed_reply(store).await;
    store
        .finish_comment(&part, CommentStatus::Failed, Some("the client is not subscribed"))
        .await
        .unwrap();
    store.finish_comment(&part, CommentStatus::Sent, None).await.unwrap();
    store
        .finish_comment(&part, CommentStatus::Failed, Some("another reason"))
        .await
        .unwrap();
    store.note_waiting(&part, "late note").await.unwrap();
    let failed = reply(store, &part).await;
    assert_eq!(failed.status, CommentStatus::Failed);
    assert_eq!(failed.status_reason.as_deref(), Some("the client is not subscribed"));
    assert_eq!(failed.text.as_deref(), Some("message r1"));
}

async fn replies_of_an_unknown_comment_conflict<S: MessageStore + TaskStore + ReplyStore>(store: &S) {
    let part = seed_reply(store).await;
    let unknown = PartRef {
        comment_id: CommentId::parse("r-unknown").unwrap(),
        ..part.clone()
    };
    assert_eq!(store.get_reply(&unknown).await.unwrap(), None);
    let acme = integration("acme");
    for completes in [false, true] {
        let sent = SentPart {
            comment: &unknown,
            integration_id: &acme,
            part_index: 0,
            message_token: 7,
            completes,
        };
        assert_conflict(store.record_sent_part(&sent).await);
    }
    assert_conflict(store.note_waiting(&unknown, "waiting").await);
    assert_conflict(store.finish_comment(&unknown, CommentStatus::Sent, None).await);
    // … and none of it created a comment.
    assert_eq!(all_comments(store, &part.task_id).await.len(), 1);
}
