//! The issue-5 store ports (integrations, staff, task workflow), one suite run on both adapters:
//! the in-memory store and the DynamoDB store against moto (`VIBERDESK_MOTO_ENDPOINT`).

use shared::ids::{CommentId, ContactId, StaffId, TaskId};
use shared::model::{
    Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, Integration, Role, StaffMember, Task, TaskState,
    TaskStatus,
};
use shared::ports::{
    ContactStore, IntegrationAdmin, MessageStore, MessageWrite, PageRequest, StaffAdmin, StaffChange, StaffOutcome,
    StaffStore, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow, TaskWrite, WriteOutcome, token_hash,
};
use shared::time::Timestamp;
use testkit::build;

testkit::store_suites!(
    integrations_are_created_listed_replaced_and_deleted,
    an_integration_put_at_start_is_listed,
    staff_are_listed_in_the_order_added,
    a_member_change_keeps_their_token,
    the_last_owner_is_neither_demoted_nor_removed,
    removing_a_member_revokes_their_token_at_once,
    completing_a_task_moves_its_lists_and_its_requesters_routing,
    unassigning_takes_a_task_off_the_assignee_list,
    a_deleted_task_leaves_every_list_and_routes_to_a_new_one,
    changing_an_older_task_leaves_the_requester_alone,
);

const T0: i64 = 1_732_528_955_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn staff_id(id: &str) -> StaffId {
    StaffId::parse(id).unwrap()
}

fn integration(id: &str, created_ms: i64) -> Integration {
    build::integration(id)
        .name(&format!("Bot {id}"))
        .token(&format!("token-{id}"))
        .bot(&format!("Bot {id}"), &format!("bot{id}"))
        .connected_by("olga")
        .created_at(at(created_ms))
        .build()
}

fn member(id: &str, role: Role, created_ms: i64) -> StaffMember {
    build::staff(id)
        .name(&format!("Member {id}"))
        .avatar(&format!("https://avatars.example/{id}.png"))
        .role(role)
        .created_at(at(created_ms))
        .build()
}

async fn add<S: StaffStore>(store: &S, id: &str, role: Role, created_ms: i64) -> StaffMember {
    let member = member(id, role, created_ms);
    store
        .put_staff(&member, &token_hash(&format!("token-{id}")))
        .await
        .unwrap();
    member
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> String) -> Vec<String> {
    items.iter().map(id).collect()
}

// ---- Integrations ----

async fn integrations_are_created_listed_replaced_and_deleted<S: IntegrationAdmin>(store: &S) {
    let (first, second, third) = (integration("b1", 100), integration("a2", 200), integration("c3", 300));
    for created in [&second, &first, &third] {
        store.create_integration(created).await.unwrap();
    }
    assert!(matches!(
        store.create_integration(&first).await,
        Err(StoreError::Conflict(_))
    ));
    let all = store.list_integrations(&PageRequest::first(10)).await.unwrap();
    assert_eq!(
        ids(&all.items, |i| i.id.to_string()),
        ["b1", "a2", "c3"],
        "oldest first"
    );
    assert_eq!(all.next_cursor, None);
    let page = store.list_integrations(&PageRequest::first(2)).await.unwrap();
    assert_eq!(ids(&page.items, |i| i.id.to_string()), ["b1", "a2"]);
    let rest = store
        .list_integrations(&PageRequest {
            cursor: page.next_cursor.clone(),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(ids(&rest.items, |i| i.id.to_string()), ["c3"]);
    assert_eq!(rest.next_cursor, None);

    let mut changed = first.clone();
    changed.name = "Renamed".into();
    changed.options.new_task_if_no_active = false;
    changed.template.assignee_id = Some(staff_id("ivan"));
    assert!(store.replace_integration(&changed).await.unwrap());
    assert_eq!(store.get_integration(&first.id).await.unwrap(), Some(changed.clone()));

    assert!(store.delete_integration(&first.id).await.unwrap());
    assert_eq!(store.get_integration(&first.id).await.unwrap(), None);
    assert!(!store.delete_integration(&first.id).await.unwrap());
    assert!(
        !store.replace_integration(&changed).await.unwrap(),
        "a change racing the removal must not bring it back"
    );
    assert_eq!(store.get_integration(&first.id).await.unwrap(), None);
    let left = store.list_integrations(&PageRequest::first(10)).await.unwrap();
    assert_eq!(ids(&left.items, |i| i.id.to_string()), ["a2", "c3"]);
}

async fn an_integration_put_at_start_is_listed<S: IntegrationAdmin>(store: &S) {
    let default = integration("default", 0);
    store.put_integration(&default).await.unwrap();
    let all = store.list_integrations(&PageRequest::first(10)).await.unwrap();
    assert_eq!(all.items, vec![default]);
}

// ---- Staff ----

async fn staff_are_listed_in_the_order_added<S: StaffAdmin>(store: &S) {
    add(store, "zoe", Role::Owner, 100).await;
    add(store, "adam", Role::Staff, 200).await;
    add(store, "mia", Role::Staff, 300).await;
    let first = store.list_staff(&PageRequest::first(2)).await.unwrap();
    assert_eq!(ids(&first.items, |m| m.id.to_string()), ["zoe", "adam"]);
    let rest = store
        .list_staff(&PageRequest {
            cursor: first.next_cursor.clone(),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(ids(&rest.items, |m| m.id.to_string()), ["mia"]);
    assert_eq!(rest.next_cursor, None);
}

async fn a_member_change_keeps_their_token<S: StaffAdmin>(store: &S) {
    add(store, "olga", Role::Owner, 100).await;
    let ivan = add(store, "ivan", Role::Staff, 200).await;
    let change = StaffChange {
        name: Some("Іван".into()),
        avatar_url: Some(None),
        role: None,
    };
    let expected = StaffMember {
        name: "Іван".into(),
        avatar_url: None,
        ..ivan.clone()
    };
    assert_eq!(
        store.update_staff(&ivan.id, &change).await.unwrap(),
        StaffOutcome::Done(Some(expected.clone()))
    );
    assert_eq!(store.get_staff(&ivan.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.staff_by_token_hash(&token_hash("token-ivan")).await.unwrap(),
        Some(expected)
    );
    let promoted = store
        .update_staff(
            &ivan.id,
            &StaffChange {
                role: Some(Role::Owner),
                ..StaffChange::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(promoted, StaffOutcome::Done(Some(m)) if m.role == Role::Owner));
    assert_eq!(
        store.update_staff(&staff_id("nobody"), &change).await.unwrap(),
        StaffOutcome::NotFound
    );
}

async fn the_last_owner_is_neither_demoted_nor_removed<S: StaffAdmin>(store: &S) {
    let olga = add(store, "olga", Role::Owner, 100).await;
    add(store, "ivan", Role::Staff, 200).await;
    let demote = StaffChange {
        role: Some(Role::Staff),
        ..StaffChange::default()
    };
    assert_eq!(
        store.update_staff(&olga.id, &demote).await.unwrap(),
        StaffOutcome::LastOwner
    );
    assert_eq!(store.delete_staff(&olga.id).await.unwrap(), StaffOutcome::LastOwner);
    assert_eq!(store.get_staff(&olga.id).await.unwrap(), Some(olga.clone()));
    assert_eq!(
        store.account_owner().await.unwrap().map(|o| o.id),
        Some(olga.id.clone())
    );

    // With a second owner, the first may step down; the account's owner becomes the other one.
    let petro = add(store, "petro", Role::Owner, 300).await;
    assert!(matches!(
        store.update_staff(&olga.id, &demote).await.unwrap(),
        StaffOutcome::Done(Some(m)) if m.role == Role::Staff
    ));
    assert_eq!(
        store.account_owner().await.unwrap().map(|o| o.id),
        Some(petro.id.clone())
    );
    assert_eq!(
        store.update_staff(&petro.id, &demote).await.unwrap(),
        StaffOutcome::LastOwner
    );
    assert_eq!(store.delete_staff(&petro.id).await.unwrap(), StaffOutcome::LastOwner);
    // Renaming the last owner is fine.
    let rename = StaffChange {
        name: Some("Petro P.".into()),
        ..StaffChange::default()
    };
    assert!(matches!(
        store.update_staff(&petro.id, &rename).await.unwrap(),
        StaffOutcome::Done(Some(_))
    ));
}

async fn removing_a_member_revokes_their_token_at_once<S: StaffAdmin>(store: &S) {
    add(store, "olga", Role::Owner, 100).await;
    let olena = add(store, "olena", Role::Owner, 150).await;
    let ivan = add(store, "ivan", Role::Staff, 200).await;
    assert!(
        store
            .staff_by_token_hash(&token_hash("token-ivan"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.delete_staff(&ivan.id).await.unwrap(), StaffOutcome::Done(None));
    assert_eq!(
        store.staff_by_token_hash(&token_hash("token-ivan")).await.unwrap(),
        None
    );
    assert_eq!(store.get_staff(&ivan.id).await.unwrap(), None);
    assert_eq!(store.delete_staff(&ivan.id).await.unwrap(), StaffOutcome::NotFound);
    // An owner may go while another remains.
    assert_eq!(store.delete_staff(&olena.id).await.unwrap(), StaffOutcome::Done(None));
    assert_eq!(
        store.staff_by_token_hash(&token_hash("token-olena")).await.unwrap(),
        None
    );
    let left = store.list_staff(&PageRequest::first(10)).await.unwrap();
    assert_eq!(ids(&left.items, |m| m.id.to_string()), ["olga"]);
}

// ---- Task workflow ----

fn task(id: &str, status: TaskStatus, assignee: Option<&str>, last_ms: i64) -> Task {
    build::task(id)
        .requester(&ContactId::parse(&format!("c-{id}")).unwrap())
        .title(&format!("Viber: {id}"))
        .status(status)
        .assignee(assignee)
        .participants(&["helper"])
        .at(at(last_ms))
        .build()
}

fn comment(task_id: &TaskId, id: &str, ms: i64) -> Comment {
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
        created_at: at(ms),
        viber_message_type: Some("text".into()),
        viber_message_token: None,
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

/// The requester's first message opens `task`; the contact (`c-{task}`) is returned as stored.
async fn open<S: MessageStore + ContactStore>(store: &S, task: &Task, contact_id: &str) -> Contact {
    let mut contact = build::contact(contact_id)
        .integration(&task.integration_id)
        .user(&format!("viber-{contact_id}=="))
        .name("Client")
        .created_at(at(0))
        .updated_at(task.last_message_at)
        .build();
    let existing = store.get_contact(&contact.id).await.unwrap();
    if let Some(existing) = &existing {
        contact.version = existing.version + 1;
        contact.created_at = existing.created_at;
    }
    contact.current_task = Some(CurrentTask {
        id: task.id.clone(),
        state: TaskState::of(task.status, false),
        since: None,
        previous: None,
    });
    let write = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(contact.clone()),
        expected_contact_version: existing.map(|c| c.version),
        task: TaskWrite::Create(task.clone()),
        comment: comment(&task.id, &format!("m-{}", task.id), task.last_message_at.millis() - T0),
        attachments: Vec::new(),
    };
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    contact
}

async fn listed<S: TaskStore>(store: &S, filter: TaskFilter) -> Vec<String> {
    let page = store.list_tasks(&filter, &PageRequest::first(100)).await.unwrap();
    ids(&page.items, |t| t.id.to_string())
}

fn by_status(status: TaskStatus) -> TaskFilter {
    TaskFilter {
        status: Some(status),
        ..TaskFilter::default()
    }
}

fn by_assignee(id: &str) -> TaskFilter {
    TaskFilter {
        assignee_id: Some(staff_id(id)),
        ..TaskFilter::default()
    }
}

async fn completing_a_task_moves_its_lists_and_its_requesters_routing<S>(store: &S)
where
    S: TaskWorkflow + TaskStore + MessageStore + ContactStore,
{
    let opened = task("t1", TaskStatus::New, Some("ivan"), 1_000);
    let read = open(store, &opened, "c-t1").await;
    let change = TaskChange {
        status: Some(TaskStatus::Completed),
        assignee_id: Some(Some(staff_id("olga"))),
        participant_ids: Some(vec![staff_id("ivan"), staff_id("petro")]),
    };
    let changed = store
        .update_task(&opened.id, &change, at(5_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.status, TaskStatus::Completed);
    assert_eq!(changed.assignee_id, Some(staff_id("olga")));
    assert_eq!(changed.participant_ids, vec![staff_id("ivan"), staff_id("petro")]);
    assert_eq!(changed.updated_at, at(5_000));
    assert_eq!(changed.last_message_at, at(1_000), "activity time is the client's");
    assert_eq!(store.get_task(&opened.id).await.unwrap(), Some(changed.clone()));

    assert_eq!(listed(store, by_status(TaskStatus::Completed)).await, ["t1"]);
    assert!(listed(store, by_status(TaskStatus::New)).await.is_empty());
    assert_eq!(listed(store, by_assignee("olga")).await, ["t1"]);
    assert!(listed(store, by_assignee("ivan")).await.is_empty());
    assert_eq!(listed(store, TaskFilter::default()).await, ["t1"]);

    let contact = store.get_contact(&read.id).await.unwrap().unwrap();
    assert_eq!(
        contact.current_task,
        Some(CurrentTask {
            id: opened.id.clone(),
            state: TaskState::Inactive,
            since: None,
            previous: None,
        })
    );
    assert!(
        contact.version > read.version,
        "a message decided on the old state must conflict"
    );

    // A message decided before the completion (contact version read earlier) is refused.
    let mut stale = read.clone();
    stale.version += 1;
    let late = MessageWrite {
        earlier_tasks: Vec::new(),
        contact: Some(stale),
        expected_contact_version: Some(read.version),
        task: TaskWrite::Append {
            task_id: opened.id.clone(),
            last_message_at: at(6_000),
            require_active: true,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        },
        comment: comment(&opened.id, "m-late", 6_000),
        attachments: Vec::new(),
    };
    assert!(matches!(store.apply_message(&late).await, Err(StoreError::Conflict(_))));

    // Reopened: active again, for routing too.
    let reopen = TaskChange {
        status: Some(TaskStatus::InProgress),
        ..TaskChange::default()
    };
    store
        .update_task(&opened.id, &reopen, at(7_000))
        .await
        .unwrap()
        .unwrap();
    let contact = store.get_contact(&read.id).await.unwrap().unwrap();
    assert_eq!(contact.current_task.unwrap().state, TaskState::Active);
    assert_eq!(listed(store, by_status(TaskStatus::InProgress)).await, ["t1"]);
    assert!(listed(store, by_status(TaskStatus::Completed)).await.is_empty());
}

async fn unassigning_takes_a_task_off_the_assignee_list<S>(store: &S)
where
    S: TaskWorkflow + TaskStore + MessageStore + ContactStore,
{
    let opened = task("t2", TaskStatus::Waiting, Some("ivan"), 1_000);
    open(store, &opened, "c-t2").await;
    let unassign = TaskChange {
        assignee_id: Some(None),
        ..TaskChange::default()
    };
    let changed = store
        .update_task(&opened.id, &unassign, at(2_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.assignee_id, None);
    assert_eq!(
        changed.status,
        TaskStatus::Waiting,
        "what the change does not name stays"
    );
    assert_eq!(changed.participant_ids, opened.participant_ids);
    assert!(listed(store, by_assignee("ivan")).await.is_empty());
    assert_eq!(listed(store, by_status(TaskStatus::Waiting)).await, ["t2"]);
    assert_eq!(
        store
            .update_task(&TaskId::parse("nope").unwrap(), &unassign, at(3_000))
            .await
            .unwrap(),
        None
    );
}

async fn a_deleted_task_leaves_every_list_and_routes_to_a_new_one<S>(store: &S)
where
    S: TaskWorkflow + TaskStore + MessageStore + ContactStore,
{
    let opened = task("t3", TaskStatus::InProgress, Some("ivan"), 1_000);
    let read = open(store, &opened, "c-t3").await;
    assert!(store.delete_task(&opened.id, at(2_000)).await.unwrap());
    let stored = store.get_task(&opened.id).await.unwrap().unwrap();
    assert!(stored.deleted, "kept for routing, shown nowhere");
    for filter in [
        TaskFilter::default(),
        by_status(TaskStatus::InProgress),
        by_assignee("ivan"),
        TaskFilter {
            integration_id: Some(opened.integration_id.clone()),
            ..TaskFilter::default()
        },
    ] {
        assert!(listed(store, filter.clone()).await.is_empty(), "{filter:?}");
    }
    let contact = store.get_contact(&read.id).await.unwrap().unwrap();
    assert_eq!(contact.current_task.unwrap().state, TaskState::Deleted);
    assert!(!store.delete_task(&opened.id, at(3_000)).await.unwrap());
    let change = TaskChange {
        status: Some(TaskStatus::New),
        ..TaskChange::default()
    };
    assert_eq!(store.update_task(&opened.id, &change, at(3_000)).await.unwrap(), None);
}

async fn changing_an_older_task_leaves_the_requester_alone<S>(store: &S)
where
    S: TaskWorkflow + TaskStore + MessageStore + ContactStore,
{
    let old = task("t4", TaskStatus::Completed, None, 1_000);
    let mut new = task("t5", TaskStatus::New, None, 2_000);
    new.requester_id = old.requester_id.clone();
    open(store, &old, "c-t4").await;
    open(store, &new, "c-t4").await;
    let before = store.get_contact(&old.requester_id).await.unwrap().unwrap();
    assert_eq!(before.current_task.as_ref().unwrap().id, new.id);
    let reopen = TaskChange {
        status: Some(TaskStatus::InProgress),
        ..TaskChange::default()
    };
    store.update_task(&old.id, &reopen, at(3_000)).await.unwrap().unwrap();
    assert!(store.delete_task(&old.id, at(4_000)).await.unwrap());
    assert_eq!(store.get_contact(&old.requester_id).await.unwrap(), Some(before));
}
