//! Issue 16: a contact's group, labels and fields. Lists by group and by label, staff changes and
//! contacts created with a bot's template, one suite run on both adapters: the in-memory store
//! and the DynamoDB store against moto (`VIBERDESK_MOTO_ENDPOINT`).

use shared::ids::{CommentId, ContactId, TaskId};
use shared::model::{Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, TaskState};
use shared::ports::{
    Conflict, ContactAdmin, ContactChange, ContactFilter, ContactStore, MessageStore, MessageWrite, PageRequest,
    StoreError, TaskWrite, WriteOutcome,
};
use shared::time::Timestamp;
use testkit::build;

testkit::store_suites!(
    a_contact_created_with_a_group_and_labels_is_in_their_lists,
    a_contact_created_by_a_message_is_in_its_labels_lists,
    lists_are_newest_first_by_creation_and_page,
    group_and_label_together_narrow_the_list,
    a_change_moves_only_what_it_names_and_the_lists_follow,
    a_processor_write_after_a_change_keeps_the_sorting,
    a_change_moves_the_version_on_so_a_stale_write_conflicts,
    an_unknown_contact_is_not_changed,
);

const T0: i64 = 1_732_528_955_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn contact(id: &str, created_ms: i64) -> build::ContactBuilder {
    build::contact(id).user(&format!("viber-{id}==")).at(at(created_ms))
}

fn ids(contacts: &[Contact]) -> Vec<String> {
    contacts.iter().map(|c| c.id.to_string()).collect()
}

fn by_group(group: &str) -> ContactFilter {
    ContactFilter {
        group: Some(group.into()),
        label: None,
    }
}

fn by_label(label: &str) -> ContactFilter {
    ContactFilter {
        group: None,
        label: Some(label.into()),
    }
}

async fn listed<S: ContactAdmin>(store: &S, filter: ContactFilter) -> Vec<String> {
    let page = store.list_contacts_by(&filter, &PageRequest::first(100)).await.unwrap();
    ids(&page.items)
}

async fn create<S: ContactStore>(store: &S, contact: Contact) -> Contact {
    store.put_contact(&contact, None).await.unwrap();
    contact
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

async fn a_contact_created_with_a_group_and_labels_is_in_their_lists<S: ContactAdmin>(store: &S) {
    create(
        store,
        contact("c1", 0)
            .group("Retail clients")
            .labels(&["vip", "viber"])
            .field("source", "Viber bot Acme")
            .build(),
    )
    .await;
    create(store, contact("c2", 10).group("Wholesale").build()).await;
    create(store, contact("c3", 20).build()).await;

    assert_eq!(listed(store, by_group("Retail clients")).await, ["c1"]);
    assert_eq!(listed(store, by_group("Wholesale")).await, ["c2"]);
    assert_eq!(listed(store, by_label("vip")).await, ["c1"]);
    assert_eq!(listed(store, by_label("viber")).await, ["c1"]);
    assert!(listed(store, by_group("Nobody")).await.is_empty());
    assert!(
        listed(store, by_label("retail clients")).await.is_empty(),
        "exact match"
    );
    let stored = store
        .get_contact(&ContactId::parse("c1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.fields["source"], "Viber bot Acme");
    assert_eq!(stored.labels, strings(&["vip", "viber"]));
}

/// A client's first message creates the contact with its bot's template applied.
async fn a_contact_created_by_a_message_is_in_its_labels_lists<S: ContactAdmin + MessageStore>(store: &S) {
    let task = build::task("t1")
        .requester(&ContactId::parse("c1").unwrap())
        .at(at(5))
        .build();
    let mut new_contact = contact("c1", 5).group("Wholesale").labels(&["b2b"]).build();
    new_contact.current_task = Some(CurrentTask {
        id: task.id.clone(),
        state: TaskState::Active,
        since: Some(task.created_at),
        previous: None,
    });
    let write = MessageWrite {
        contact: Some(new_contact.clone()),
        expected_contact_version: None,
        task: TaskWrite::Create(task.clone()),
        comment: comment(&task.id, "m1"),
        attachments: Vec::new(),
        earlier_tasks: Vec::new(),
    };
    assert_eq!(store.apply_message(&write).await.unwrap(), WriteOutcome::Applied);
    assert_eq!(listed(store, by_label("b2b")).await, ["c1"]);
    assert_eq!(listed(store, by_group("Wholesale")).await, ["c1"]);
}

fn comment(task_id: &TaskId, id: &str) -> Comment {
    Comment {
        id: CommentId::parse(id).unwrap(),
        task_id: task_id.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: "c1".into(),
        },
        text: Some("hello".into()),
        attachment_ids: Vec::new(),
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: at(5),
        viber_message_type: Some("text".into()),
        viber_message_token: Some(1),
        parts: Default::default(),
        outbound: None,
        details: None,
    }
}

async fn lists_are_newest_first_by_creation_and_page<S: ContactAdmin>(store: &S) {
    for (n, id) in ["c1", "c2", "c3", "c4", "c5"].into_iter().enumerate() {
        let created = i64::try_from(n).unwrap() * 1000;
        create(store, contact(id, created).group("Retail").labels(&["vip"]).build()).await;
    }
    for filter in [by_group("Retail"), by_label("vip")] {
        let mut pages = Vec::new();
        let mut request = PageRequest::first(2);
        for _ in 0..5 {
            let page = store.list_contacts_by(&filter, &request).await.unwrap();
            pages.push(ids(&page.items));
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(
            pages,
            [strings(&["c5", "c4"]), strings(&["c3", "c2"]), strings(&["c1"])],
            "{filter:?}"
        );
    }
    let bad = PageRequest {
        cursor: Some("zz".into()),
        limit: 2,
    };
    assert!(matches!(
        store.list_contacts_by(&by_group("Retail"), &bad).await,
        Err(StoreError::InvalidCursor)
    ));
}

async fn group_and_label_together_narrow_the_list<S: ContactAdmin>(store: &S) {
    create(store, contact("c1", 0).group("Retail").labels(&["vip"]).build()).await;
    create(store, contact("c2", 10).group("Wholesale").labels(&["vip"]).build()).await;
    create(store, contact("c3", 20).group("Retail").build()).await;
    let both = ContactFilter {
        group: Some("Retail".into()),
        label: Some("vip".into()),
    };
    assert_eq!(listed(store, both).await, ["c1"]);
}

async fn a_change_moves_only_what_it_names_and_the_lists_follow<S: ContactAdmin>(store: &S) {
    let id = ContactId::parse("c1").unwrap();
    create(
        store,
        contact("c1", 0)
            .group("Retail")
            .labels(&["vip", "viber"])
            .field("source", "Acme")
            .build(),
    )
    .await;

    let relabel = ContactChange {
        labels: Some(strings(&["viber", "b2b"])),
        ..ContactChange::default()
    };
    let changed = store.update_contact(&id, &relabel, at(100)).await.unwrap().unwrap();
    assert_eq!(changed.group.as_deref(), Some("Retail"), "untouched");
    assert_eq!(changed.fields["source"], "Acme", "untouched");
    assert_eq!(changed.labels, strings(&["viber", "b2b"]));
    assert_eq!(changed.updated_at, at(100));
    assert!(listed(store, by_label("vip")).await.is_empty());
    assert_eq!(listed(store, by_label("viber")).await, ["c1"]);
    assert_eq!(listed(store, by_label("b2b")).await, ["c1"]);

    let regroup = ContactChange {
        group: Some(Some("Wholesale".into())),
        fields: Some([("region".to_owned(), "Lviv".to_owned())].into()),
        ..ContactChange::default()
    };
    let changed = store.update_contact(&id, &regroup, at(200)).await.unwrap().unwrap();
    assert_eq!(changed.fields.len(), 1, "fields are replaced");
    assert!(listed(store, by_group("Retail")).await.is_empty());
    assert_eq!(listed(store, by_group("Wholesale")).await, ["c1"]);

    let ungroup = ContactChange {
        group: Some(None),
        ..ContactChange::default()
    };
    let changed = store.update_contact(&id, &ungroup, at(300)).await.unwrap().unwrap();
    assert_eq!(changed.group, None);
    assert!(listed(store, by_group("Wholesale")).await.is_empty());
    assert_eq!(store.get_contact(&id).await.unwrap().unwrap(), changed);
}

/// The processor rewrites a known contact with what it read: the sorting staff gave it stays,
/// and so do the lists it is in.
async fn a_processor_write_after_a_change_keeps_the_sorting<S: ContactAdmin>(store: &S) {
    let id = ContactId::parse("c1").unwrap();
    create(store, contact("c1", 0).build()).await;
    let change = ContactChange {
        group: Some(Some("Retail".into())),
        labels: Some(strings(&["vip"])),
        ..ContactChange::default()
    };
    store.update_contact(&id, &change, at(10)).await.unwrap().unwrap();
    let mut read = store.get_contact(&id).await.unwrap().unwrap();
    let expected = read.version;
    read.name = Some("New name".into());
    read.version += 1;
    store.put_contact(&read, Some(expected)).await.unwrap();
    assert_eq!(listed(store, by_group("Retail")).await, ["c1"]);
    assert_eq!(listed(store, by_label("vip")).await, ["c1"]);
    let stored = store.get_contact(&id).await.unwrap().unwrap();
    assert_eq!(stored.labels, strings(&["vip"]));
    assert_eq!(stored.name.as_deref(), Some("New name"));
}

async fn a_change_moves_the_version_on_so_a_stale_write_conflicts<S: ContactAdmin>(store: &S) {
    let id = ContactId::parse("c1").unwrap();
    let created = create(store, contact("c1", 0).version(1).build()).await;
    let change = ContactChange {
        labels: Some(strings(&["vip"])),
        ..ContactChange::default()
    };
    let changed = store.update_contact(&id, &change, at(10)).await.unwrap().unwrap();
    assert_eq!(changed.version, 2);
    let mut stale = created.clone();
    stale.version = 2;
    assert!(matches!(
        store.put_contact(&stale, Some(1)).await,
        Err(StoreError::Conflict(Conflict::ContactChanged(_)))
    ));
    assert_eq!(store.get_contact(&id).await.unwrap().unwrap().labels, strings(&["vip"]));
}

async fn an_unknown_contact_is_not_changed<S: ContactAdmin>(store: &S) {
    let change = ContactChange {
        group: Some(Some("Retail".into())),
        ..ContactChange::default()
    };
    let unknown = ContactId::parse("nobody").unwrap();
    assert_eq!(store.update_contact(&unknown, &change, at(0)).await.unwrap(), None);
    assert!(listed(store, by_group("Retail")).await.is_empty());
}
