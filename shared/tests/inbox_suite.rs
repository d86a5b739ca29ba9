//! What the staff web inbox reads from the store, on both adapters (in memory and DynamoDB on
//! moto): the Unassigned tab, search by title or client name, a client's tasks, the change feed
//! and read markers. Each test gets a fresh store.

use shared::ids::{CommentId, ContactId, IntegrationId, StaffId, TaskId};
use shared::model::{
    Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, LastMessage, Task, TaskState, TaskStatus,
};
use shared::ports::{
    MessageStore, MessageWrite, PageRequest, ReadMarkerStore, TaskChange, TaskFilter, TaskStore, TaskWorkflow,
    TaskWrite, WriteOutcome, recency_key, search_text,
};
use shared::time::Timestamp;

testkit::store_suites!(
    unassigned_tasks_have_their_own_list,
    a_search_finds_title_or_client_name_in_any_case,
    a_clients_tasks_list_newest_created_first,
    the_change_feed_lists_tasks_with_activity_after_a_point,
    an_append_keeps_the_last_message_and_the_clients_current_name,
    read_markers_only_move_forward,
);

const T0: i64 = 1_732_528_955_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn acme() -> IntegrationId {
    IntegrationId::parse("acme").unwrap()
}

fn staff(id: &str) -> StaffId {
    StaffId::parse(id).unwrap()
}

struct NewTask<'a> {
    id: &'a str,
    requester: &'a str,
    name: &'a str,
    assignee: Option<&'a str>,
    status: TaskStatus,
    created_ms: i64,
}

impl NewTask<'_> {
    fn task(&self) -> Task {
        Task {
            id: TaskId::parse(self.id).unwrap(),
            integration_id: acme(),
            title: format!("Viber: {}", self.name),
            description: String::new(),
            status: self.status,
            requester_id: ContactId::parse(self.requester).unwrap(),
            assignee_id: self.assignee.map(staff),
            participant_ids: vec![],
            previous_task_id: None,
            created_at: at(self.created_ms),
            updated_at: at(self.created_ms),
            last_message_at: at(self.created_ms),
            deleted: false,
            requester_name: Some(self.name.to_owned()),
            last_message: Some(LastMessage {
                kind: "text".into(),
                preview: Some(format!("hello from {}", self.name)),
            }),
            requester_avatar: None,
        }
    }
}

fn contact(id: &str, name: &str, task: &Task, version: u64) -> Contact {
    Contact {
        id: ContactId::parse(id).unwrap(),
        integration_id: acme(),
        viber_user_id: format!("viber-{id}=="),
        name: Some(name.to_owned()),
        avatar_url: None,
        language: None,
        country: None,
        api_version: None,
        phone: None,
        subscribed: true,
        subscription_changed_at: None,
        created_at: task.created_at,
        updated_at: task.last_message_at,
        current_task: Some(CurrentTask {
            id: task.id.clone(),
            state: TaskState::of(task.status, false),
            since: None,
            previous: None,
        }),
        version,
        avatar: None,
        group: None,
        labels: Vec::new(),
        fields: Default::default(),
    }
}

fn comment(task: &TaskId, id: &str, ms: i64) -> Comment {
    Comment {
        id: CommentId::parse(id).unwrap(),
        task_id: task.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: "client".into(),
        },
        text: Some(format!("message {id}")),
        attachment_ids: vec![],
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: at(ms),
        viber_message_type: Some("text".into()),
        viber_message_token: Some(7_000 + ms as u64),
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

/// Stores the task as its client's first message would (a contact per task unless `version`
/// says the contact exists already).
async fn open<S: MessageStore>(store: &S, new: NewTask<'_>, contact_version: Option<u64>) -> Task {
    let task = new.task();
    let version = contact_version.map_or(1, |v| v + 1);
    let write = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(contact(new.requester, new.name, &task, version)),
        expected_contact_version: contact_version,
        task: TaskWrite::Create(task.clone()),
        comment: comment(&task.id, &format!("m-{}", task.id), new.created_ms),
        attachments: vec![],
    };
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    task
}

async fn ids<S: TaskStore>(store: &S, filter: &TaskFilter) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let listed = store.list_tasks(filter, &page).await.unwrap();
        ids.extend(listed.items.iter().map(|t| t.id.to_string()));
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return ids,
        }
    }
}

fn new<'a>(id: &'a str, name: &'a str, assignee: Option<&'a str>, status: TaskStatus, ms: i64) -> NewTask<'a> {
    NewTask {
        id,
        requester: id,
        name,
        assignee,
        status,
        created_ms: ms,
    }
}

async fn unassigned_tasks_have_their_own_list<S: MessageStore + TaskStore + TaskWorkflow>(store: &S) {
    open(store, new("t1", "Olena", None, TaskStatus::New, 1_000), None).await;
    open(store, new("t2", "Ivan", Some("anna"), TaskStatus::New, 2_000), None).await;
    open(store, new("t3", "Petro", None, TaskStatus::Waiting, 3_000), None).await;
    let unassigned = TaskFilter {
        unassigned: true,
        ..TaskFilter::default()
    };
    assert_eq!(ids(store, &unassigned).await, ["t3", "t1"]);
    let new_unassigned = TaskFilter {
        status: Some(TaskStatus::New),
        ..unassigned.clone()
    };
    assert_eq!(ids(store, &new_unassigned).await, ["t1"]);

    // Assigning takes a task out of the list; unassigning puts it back.
    let assign = TaskChange {
        assignee_id: Some(Some(staff("anna"))),
        ..TaskChange::default()
    };
    store
        .update_task(&TaskId::parse("t1").unwrap(), &assign, at(4_000))
        .await
        .unwrap();
    assert_eq!(ids(store, &unassigned).await, ["t3"]);
    let unassign = TaskChange {
        assignee_id: Some(None),
        ..TaskChange::default()
    };
    store
        .update_task(&TaskId::parse("t2").unwrap(), &unassign, at(5_000))
        .await
        .unwrap();
    assert_eq!(ids(store, &unassigned).await, ["t3", "t2"]);
    // A deleted task is in no list.
    store
        .delete_task(&TaskId::parse("t3").unwrap(), at(6_000))
        .await
        .unwrap();
    assert_eq!(ids(store, &unassigned).await, ["t2"]);
}

async fn a_search_finds_title_or_client_name_in_any_case<S: MessageStore + TaskStore>(store: &S) {
    open(store, new("t1", "Олена Коваленко", None, TaskStatus::New, 1_000), None).await;
    open(
        store,
        new("t2", "Ivan Petrenko", Some("anna"), TaskStatus::New, 2_000),
        None,
    )
    .await;
    open(
        store,
        new("t3", "Olena Smith", None, TaskStatus::Completed, 3_000),
        None,
    )
    .await;
    let search = |text: &str| TaskFilter {
        search: Some(search_text(text)),
        ..TaskFilter::default()
    };
    assert_eq!(ids(store, &search("коваленко")).await, ["t1"]);
    assert_eq!(ids(store, &search("ОЛЕНА")).await, ["t1"]);
    assert_eq!(ids(store, &search("olena")).await, ["t3"]);
    assert_eq!(ids(store, &search("viber:")).await, ["t3", "t2", "t1"]);
    assert!(ids(store, &search("nobody")).await.is_empty());
    let mine = TaskFilter {
        assignee_id: Some(staff("anna")),
        ..search("petrenko")
    };
    assert_eq!(ids(store, &mine).await, ["t2"]);
}

async fn a_clients_tasks_list_newest_created_first<S: MessageStore + TaskStore + TaskWorkflow>(store: &S) {
    let first = open(
        store,
        NewTask {
            requester: "c1",
            ..new("t1", "Olena", None, TaskStatus::Completed, 1_000)
        },
        None,
    )
    .await;
    open(store, new("t2", "Ivan", None, TaskStatus::New, 2_000), None).await;
    open(
        store,
        NewTask {
            requester: "c1",
            ..new("t3", "Olena", None, TaskStatus::New, 3_000)
        },
        Some(1),
    )
    .await;
    open(
        store,
        NewTask {
            requester: "c1",
            ..new("t4", "Olena", None, TaskStatus::InProgress, 4_000)
        },
        Some(2),
    )
    .await;
    let of_c1 = TaskFilter {
        requester_id: Some(ContactId::parse("c1").unwrap()),
        ..TaskFilter::default()
    };
    assert_eq!(ids(store, &of_c1).await, ["t4", "t3", "t1"]);
    // Ordered by creation, not by activity: a new message in the first task does not move it.
    let append = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(contact("c1", "Olena", &first, 4)),
        expected_contact_version: Some(3),
        task: TaskWrite::Append {
            task_id: first.id.clone(),
            last_message_at: at(9_000),
            require_active: false,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        },
        comment: comment(&first.id, "m-late", 9_000),
        attachments: vec![],
    };
    assert_eq!(store.apply_message(&append).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(ids(store, &of_c1).await, ["t4", "t3", "t1"]);
    let active_of_c1 = TaskFilter {
        status: Some(TaskStatus::New),
        ..of_c1.clone()
    };
    assert_eq!(ids(store, &active_of_c1).await, ["t3"]);
    assert!(
        ids(
            store,
            &TaskFilter {
                requester_id: Some(ContactId::parse("c9").unwrap()),
                ..TaskFilter::default()
            }
        )
        .await
        .is_empty()
    );
}

async fn the_change_feed_lists_tasks_with_activity_after_a_point<S: MessageStore + TaskStore>(store: &S) {
    let first = open(store, new("t1", "Olena", None, TaskStatus::New, 1_000), None).await;
    let point = recency_key(first.last_message_at, first.id.as_str());
    assert!(store.list_changed_tasks(&point, 10).await.unwrap().tasks.is_empty());
    open(store, new("t2", "Ivan", None, TaskStatus::New, 2_000), None).await;
    open(store, new("t3", "Petro", None, TaskStatus::New, 3_000), None).await;
    let changed = store.list_changed_tasks(&point, 10).await.unwrap();
    let ids: Vec<&str> = changed.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!((ids, changed.truncated), (vec!["t3", "t2"], false));
    let limited = store.list_changed_tasks(&point, 1).await.unwrap();
    assert_eq!((limited.tasks.len(), limited.truncated), (1, true));
    assert_eq!(limited.tasks[0].id.as_str(), "t3");
    // From the beginning of time: every live task.
    let all = store.list_changed_tasks(&recency_key(at(-T0), ""), 10).await.unwrap();
    assert_eq!(all.tasks.len(), 3);
}

async fn an_append_keeps_the_last_message_and_the_clients_current_name<S: MessageStore + TaskStore>(store: &S) {
    let task = open(store, new("t1", "Olena", None, TaskStatus::New, 1_000), None).await;
    let picture = LastMessage {
        kind: "picture".into(),
        preview: None,
    };
    let append = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(contact("t1", "Olena K.", &task, 2)),
        expected_contact_version: Some(1),
        task: TaskWrite::Append {
            task_id: task.id.clone(),
            last_message_at: at(2_000),
            require_active: true,
            last_message: Some(picture.clone()),
            requester_name: Some("Olena K.".into()),
            requester_avatar: None,
        },
        comment: comment(&task.id, "m-second", 2_000),
        attachments: vec![],
    };
    assert_eq!(store.apply_message(&append).await.unwrap(), WriteOutcome::Applied);
    let stored = store.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(stored.last_message, Some(picture));
    assert_eq!(stored.requester_name.as_deref(), Some("Olena K."));
    assert_eq!(stored.last_message_at, at(2_000));
    let by_new_name = TaskFilter {
        search: Some(search_text("olena k.")),
        ..TaskFilter::default()
    };
    assert_eq!(ids(store, &by_new_name).await, ["t1"]);
}

async fn read_markers_only_move_forward<S: ReadMarkerStore>(store: &S) {
    let (anna, ivan) = (staff("anna"), staff("ivan"));
    let (t1, t2, t3) = (
        TaskId::parse("t1").unwrap(),
        TaskId::parse("t2").unwrap(),
        TaskId::parse("t3").unwrap(),
    );
    let tasks = [t1.clone(), t2.clone(), t3.clone()];
    assert!(store.read_markers(&anna, &tasks).await.unwrap().is_empty());
    store.mark_read(&anna, &t1, at(5_000)).await.unwrap();
    store.mark_read(&anna, &t2, at(1_000)).await.unwrap();
    store.mark_read(&ivan, &t3, at(7_000)).await.unwrap();
    // An older marker (a slow tab) does not move it back; a newer one does.
    store.mark_read(&anna, &t1, at(4_000)).await.unwrap();
    store.mark_read(&anna, &t2, at(2_000)).await.unwrap();
    let markers = store.read_markers(&anna, &tasks).await.unwrap();
    assert_eq!(markers.len(), 2);
    assert_eq!(markers[&t1], at(5_000));
    assert_eq!(markers[&t2], at(2_000));
    assert_eq!(store.read_markers(&ivan, &tasks).await.unwrap()[&t3], at(7_000));
    // A whole page of tasks at once.
    let page: Vec<TaskId> = (0..100).map(|n| TaskId::parse(&format!("p{n}")).unwrap()).collect();
    for task in page.iter().step_by(7) {
        store.mark_read(&anna, task, at(3_000)).await.unwrap();
    }
    assert_eq!(store.read_markers(&anna, &page).await.unwrap().len(), 15);
}
