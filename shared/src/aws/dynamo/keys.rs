//! The key scheme of the single table (docs/data-model.md, "Items and access patterns"): every
//! partition key, sort key and index key the adapter reads or writes is built here, and nowhere
//! else.

use aws_sdk_dynamodb::types::AttributeValue;

use super::Item;
use crate::aws::schema::{
    CONTACT_SORTING_INDEX, Index, KIND_INDEX, PARTITION_KEY, RECENCY_KEY, REQUESTER_INDEX, SORT_KEY,
};
use crate::ids::{AttachmentId, CommentId, ContactId, IdempotencyKey, IntegrationId, QuickReplyId, StaffId, TaskId};
use crate::model::{Contact, Integration, QuickReply, StaffMember, Task, TaskStatus};
use crate::ports::StoreError;
use crate::time::Timestamp;

/// The index sort key: `{millis, 13 digits}#{id}`, so a list sorts by time, then id. (The
/// in-memory adapter orders its lists by the same key.)
pub(super) use crate::ports::recency_key;

/// The sort-key prefix of a task's comments, which live in their task's partition.
pub(super) const COMMENT_PREFIX: &str = "COMMENT#";

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: &str) -> Self {
        Self { pk, sk: sk.to_owned() }
    }

    pub fn integration(id: &IntegrationId) -> Self {
        Self::new(format!("INTEGRATION#{id}"), "INTEGRATION")
    }

    pub fn staff_member(id: &StaffId) -> Self {
        Self::new(format!("STAFF#{id}"), "STAFF")
    }

    /// A staff token's item, found by the token's hash (the token itself is never stored).
    pub fn staff_token(token_hash: &str) -> Self {
        Self::new(format!("STAFFTOKEN#{token_hash}"), "STAFFTOKEN")
    }

    /// The marker naming the account's owner.
    pub fn account_owner() -> Self {
        Self::new("ACCOUNT".to_owned(), "OWNER")
    }

    pub fn contact(id: &ContactId) -> Self {
        Self::new(format!("CONTACT#{id}"), "CONTACT")
    }

    /// A contact's entry in the list of a label: in the contact's partition, one per label.
    pub fn contact_label(id: &ContactId, label: &str) -> Self {
        Self::new(format!("CONTACT#{id}"), &format!("LABEL#{label}"))
    }

    pub fn task(id: &TaskId) -> Self {
        Self::new(task_partition(id), "TASK")
    }

    /// A comment, in its task's partition: comment ids sort by time, so the sort key orders the
    /// conversation.
    pub fn comment(task_id: &TaskId, id: &CommentId) -> Self {
        Self::new(task_partition(task_id), &format!("{COMMENT_PREFIX}{id}"))
    }

    /// Where a task's comment list resumes: the comment whose sort key a cursor carried; `None`
    /// when that sort key is not a comment's.
    pub fn comment_at(task_id: &TaskId, sort_key: String) -> Option<Self> {
        sort_key.starts_with(COMMENT_PREFIX).then(|| Self {
            pk: task_partition(task_id),
            sk: sort_key,
        })
    }

    pub fn attachment(id: &AttachmentId) -> Self {
        Self::new(format!("ATTACHMENT#{id}"), "ATTACHMENT")
    }

    pub fn quick_reply(id: &QuickReplyId) -> Self {
        Self::new(format!("QUICKREPLY#{id}"), "QUICKREPLY")
    }

    /// The token map item: which comment a Viber message sent by the bot belongs to.
    pub fn sent_message(integration_id: &IntegrationId, message_token: u64) -> Self {
        Self::new(format!("VIBERTOKEN#{integration_id}#{message_token}"), "PART")
    }

    /// How far a staff member has read a task: in the member's partition, one item per task.
    pub fn read_marker(staff: &StaffId, task: &TaskId) -> Self {
        Self::new(format!("STAFF#{staff}"), &format!("READ#{task}"))
    }

    /// A staff reply's idempotency key: in the member's partition (keys are the caller's).
    pub fn reply_key(staff: &StaffId, key: &IdempotencyKey) -> Self {
        Self::new(format!("STAFF#{staff}"), &format!("REPLYKEY#{key}"))
    }

    /// A key no item has: read once to open the connection.
    pub fn warm_up() -> Self {
        Self::new("WARMUP".to_owned(), "WARMUP")
    }

    /// The key's attributes: a request's `Key`, or the start of the item.
    pub fn into_item(self) -> Item {
        Item::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S(self.pk)),
            (SORT_KEY.to_owned(), AttributeValue::S(self.sk)),
        ])
    }
}

/// The partition holding a task's item and its comments.
pub(super) fn task_partition(id: &TaskId) -> String {
    format!("TASK#{id}")
}

/// The task an index entry of a task's item (keys only) belongs to.
pub(super) fn task_id_of(item: &Item) -> Result<TaskId, StoreError> {
    item.get(PARTITION_KEY)
        .and_then(|pk| pk.as_s().ok())
        .and_then(|pk| pk.strip_prefix("TASK#"))
        .and_then(|id| TaskId::parse(id).ok())
        .ok_or_else(|| StoreError::Corrupt("an index entry without a task key".into()))
}

/// The contact an index entry of a contact's item or label entry (keys only) belongs to.
pub(super) fn contact_id_of(item: &Item) -> Result<ContactId, StoreError> {
    item.get(PARTITION_KEY)
        .and_then(|pk| pk.as_s().ok())
        .and_then(|pk| pk.strip_prefix("CONTACT#"))
        .and_then(|id| ContactId::parse(id).ok())
        .ok_or_else(|| StoreError::Corrupt("an index entry without a contact key".into()))
}

/// A list: the index partition that holds its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct List {
    pub index: Index,
    pub partition: String,
}

impl List {
    /// A `gsi1` list: every record of a kind.
    fn every(partition: &str) -> Self {
        Self {
            index: KIND_INDEX,
            partition: partition.to_owned(),
        }
    }

    /// Every contact, newest created first (keys only: read, then fetched).
    pub fn contacts() -> Self {
        Self {
            index: REQUESTER_INDEX,
            partition: "CONTACTS".to_owned(),
        }
    }

    /// Every task that is not deleted.
    pub fn tasks() -> Self {
        Self::every("TASKS")
    }

    pub fn integrations() -> Self {
        Self::every("INTEGRATIONS")
    }

    pub fn staff() -> Self {
        Self::every("STAFF")
    }

    pub fn quick_replies() -> Self {
        Self::every("QUICKREPLIES")
    }

    /// A client's live tasks, newest first by creation (keys only: read, then fetched).
    pub fn tasks_of_requester(contact: &ContactId) -> Self {
        Self {
            index: REQUESTER_INDEX,
            partition: format!("TASKREQUESTER#{contact}"),
        }
    }

    /// Contacts in a group (keys only: read, then fetched).
    pub fn contacts_in_group(group: &str) -> Self {
        Self {
            index: CONTACT_SORTING_INDEX,
            partition: format!("CONTACTGROUP#{group}"),
        }
    }

    /// Contacts with a label, through their label entries (keys only).
    pub fn contacts_with_label(label: &str) -> Self {
        Self {
            index: CONTACT_SORTING_INDEX,
            partition: format!("CONTACTLABEL#{label}"),
        }
    }
}

/// A narrower task list: the tasks of the list of every task whose `attribute` is `value`, read
/// as a filter on that list. Only that list moves when a client writes (docs/cost.md: one index
/// entry moved per message instead of four), so these attributes are no index keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TaskSubset {
    pub attribute: &'static str,
    pub value: String,
}

impl TaskSubset {
    pub const STATUS: &'static str = "status_list";
    pub const ASSIGNEE: &'static str = "assignee_list";
    pub const INTEGRATION: &'static str = "integration_list";

    pub fn with_status(status: TaskStatus) -> Self {
        Self {
            attribute: Self::STATUS,
            value: format!("TASKSTATUS#{}", status.as_str()),
        }
    }

    pub fn assigned_to(staff: &StaffId) -> Self {
        Self {
            attribute: Self::ASSIGNEE,
            value: format!("TASKASSIGNEE#{staff}"),
        }
    }

    /// Live tasks nobody is assigned to (the inbox's Unassigned tab), under a name no staff id
    /// can take.
    pub fn unassigned() -> Self {
        Self {
            attribute: Self::ASSIGNEE,
            value: "TASKASSIGNEE#-".to_owned(),
        }
    }

    /// The assignee subset a task with this assignee (or none) is in.
    pub fn of_assignee(assignee: Option<&StaffId>) -> Self {
        assignee.map_or_else(Self::unassigned, Self::assigned_to)
    }

    pub fn of_integration(integration: &IntegrationId) -> Self {
        Self {
            attribute: Self::INTEGRATION,
            value: format!("TASKINTEGRATION#{integration}"),
        }
    }

    /// The attributes that put a live task in its subsets.
    pub fn of_task(task: &Task) -> [Self; 3] {
        [
            Self::with_status(task.status),
            Self::of_assignee(task.assignee_id.as_ref()),
            Self::of_integration(&task.integration_id),
        ]
    }
}

/// Where an item is listed: the lists it is in, and its place in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listing {
    lists: Vec<List>,
    sort_key: String,
}

impl Listing {
    pub fn new(lists: Vec<List>, at: Timestamp, id: &str) -> Self {
        Self {
            lists,
            sort_key: recency_key(at, id),
        }
    }

    /// A live task is in the list of every task by its last message (and, through
    /// [`TaskSubset`] attributes, in the subsets of its status, assignee and integration); a
    /// deleted task is in none.
    pub fn task(task: &Task) -> Option<Self> {
        if task.deleted {
            return None;
        }
        Some(Self::new(vec![List::tasks()], task.last_message_at, task.id.as_str()))
    }

    /// A live task's place in its requester's list: by creation, which never changes, so the
    /// keys-only index is written once per task, not on every message.
    pub fn task_of_requester(task: &Task) -> Option<[(String, AttributeValue); 2]> {
        (!task.deleted).then(|| {
            let list = List::tasks_of_requester(&task.requester_id);
            [
                (list.index.partition_key.to_owned(), AttributeValue::S(list.partition)),
                (
                    list.index.sort_key.to_owned(),
                    AttributeValue::S(recency_key(task.created_at, task.id.as_str())),
                ),
            ]
        })
    }

    /// A contact's place in the list of every contact, of its group or of one of its labels: by
    /// creation, which never changes, so the keys-only index is written when the contact is
    /// created and when its group or labels change, never by the processor's writes.
    pub fn contact_sorted_in(list: List, contact: &Contact) -> [(String, AttributeValue); 2] {
        [
            (list.index.partition_key.to_owned(), AttributeValue::S(list.partition)),
            (
                list.index.sort_key.to_owned(),
                AttributeValue::S(recency_key(contact.created_at, contact.id.as_str())),
            ),
        ]
    }

    /// Integrations, staff and quick replies list by creation.
    pub fn integration(integration: &Integration) -> Self {
        Self::new(
            vec![List::integrations()],
            integration.created_at,
            integration.id.as_str(),
        )
    }

    pub fn staff_member(member: &StaffMember) -> Self {
        Self::new(vec![List::staff()], member.created_at, member.id.as_str())
    }

    pub fn quick_reply(reply: &QuickReply) -> Self {
        Self::new(vec![List::quick_replies()], reply.created_at, reply.id.as_str())
    }

    /// The index attributes that put an item in its lists.
    pub fn into_attributes(self) -> impl Iterator<Item = (String, AttributeValue)> {
        let partitions = self
            .lists
            .into_iter()
            .map(|list| (list.index.partition_key.to_owned(), AttributeValue::S(list.partition)));
        partitions.chain([(RECENCY_KEY.to_owned(), AttributeValue::S(self.sort_key))])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pair(key: Key) -> (String, String) {
        (key.pk, key.sk)
    }

    fn pairs(pk: &str, sk: &str) -> (String, String) {
        (pk.to_owned(), sk.to_owned())
    }

    #[test]
    fn every_record_kind_has_its_key() {
        let task = TaskId::parse("t1").unwrap();
        let integration = IntegrationId::parse("i1").unwrap();
        assert_eq!(
            pair(Key::integration(&integration)),
            pairs("INTEGRATION#i1", "INTEGRATION")
        );
        assert_eq!(
            pair(Key::staff_member(&StaffId::parse("s1").unwrap())),
            pairs("STAFF#s1", "STAFF")
        );
        assert_eq!(pair(Key::staff_token("ab12")), pairs("STAFFTOKEN#ab12", "STAFFTOKEN"));
        assert_eq!(pair(Key::account_owner()), pairs("ACCOUNT", "OWNER"));
        assert_eq!(
            pair(Key::contact(&ContactId::parse("c1").unwrap())),
            pairs("CONTACT#c1", "CONTACT")
        );
        assert_eq!(pair(Key::task(&task)), pairs("TASK#t1", "TASK"));
        assert_eq!(
            pair(Key::comment(&task, &CommentId::parse("m1").unwrap())),
            pairs("TASK#t1", "COMMENT#m1")
        );
        assert_eq!(
            pair(Key::attachment(&AttachmentId::parse("a1").unwrap())),
            pairs("ATTACHMENT#a1", "ATTACHMENT")
        );
        assert_eq!(
            pair(Key::quick_reply(&QuickReplyId::parse("q1").unwrap())),
            pairs("QUICKREPLY#q1", "QUICKREPLY")
        );
        assert_eq!(
            pair(Key::sent_message(&integration, 5_000_000_000_000_000_001)),
            pairs("VIBERTOKEN#i1#5000000000000000001", "PART")
        );
        assert_eq!(
            pair(Key::read_marker(&StaffId::parse("s1").unwrap(), &task)),
            pairs("STAFF#s1", "READ#t1")
        );
        assert_eq!(
            pair(Key::reply_key(
                &StaffId::parse("s1").unwrap(),
                &IdempotencyKey::parse("k1").unwrap()
            )),
            pairs("STAFF#s1", "REPLYKEY#k1")
        );
        assert_eq!(
            pair(Key::contact_label(&ContactId::parse("c1").unwrap(), "vip")),
            pairs("CONTACT#c1", "LABEL#vip")
        );
    }

    #[test]
    fn an_index_entry_names_its_task() {
        let entry = Key::task(&TaskId::parse("t1").unwrap()).into_item();
        assert_eq!(task_id_of(&entry).unwrap(), TaskId::parse("t1").unwrap());
        let contact = Key::contact(&ContactId::parse("c1").unwrap()).into_item();
        assert!(matches!(task_id_of(&contact), Err(StoreError::Corrupt(_))));
        let label = Key::contact_label(&ContactId::parse("c1").unwrap(), "vip").into_item();
        assert_eq!(contact_id_of(&label).unwrap(), ContactId::parse("c1").unwrap());
        assert_eq!(contact_id_of(&contact).unwrap(), ContactId::parse("c1").unwrap());
        assert!(matches!(contact_id_of(&entry), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_key_is_the_items_pk_and_sk_attributes() {
        let item = Key::task(&TaskId::parse("t1").unwrap()).into_item();
        assert_eq!(item.len(), 2);
        assert_eq!(item[PARTITION_KEY], AttributeValue::S("TASK#t1".into()));
        assert_eq!(item[SORT_KEY], AttributeValue::S("TASK".into()));
    }

    #[test]
    fn a_comment_list_resumes_only_at_a_comments_sort_key() {
        let task = TaskId::parse("t1").unwrap();
        let resumed = Key::comment_at(&task, "COMMENT#m1".into()).unwrap();
        assert_eq!(resumed, Key::comment(&task, &CommentId::parse("m1").unwrap()));
        assert_eq!(Key::comment_at(&task, "TASK".into()), None);
        assert_eq!(Key::comment_at(&task, "0000000000001#t1".into()), None);
    }

    #[test]
    fn lists_are_index_partitions() {
        let list = |list: List| (list.index.name, list.partition);
        assert_eq!(list(List::contacts()), ("gsi5", "CONTACTS".to_owned()));
        assert_eq!(list(List::tasks()), ("gsi1", "TASKS".to_owned()));
        assert_eq!(list(List::integrations()), ("gsi1", "INTEGRATIONS".to_owned()));
        assert_eq!(list(List::staff()), ("gsi1", "STAFF".to_owned()));
        assert_eq!(list(List::quick_replies()), ("gsi1", "QUICKREPLIES".to_owned()));
        assert_eq!(
            list(List::tasks_of_requester(&ContactId::parse("c1").unwrap())),
            ("gsi5", "TASKREQUESTER#c1".to_owned())
        );
        assert_eq!(
            list(List::contacts_in_group("Retail clients")),
            ("gsi6", "CONTACTGROUP#Retail clients".to_owned())
        );
        assert_eq!(
            list(List::contacts_with_label("vip")),
            ("gsi6", "CONTACTLABEL#vip".to_owned())
        );
    }

    fn attributes(listing: Listing) -> BTreeMap<String, String> {
        listing
            .into_attributes()
            .map(|(name, value)| (name, value.as_s().unwrap().clone()))
            .collect()
    }

    fn task(assignee: Option<&str>, deleted: bool) -> Task {
        let at = Timestamp::from_millis(1_732_528_955_210);
        Task {
            id: TaskId::parse("t1").unwrap(),
            integration_id: IntegrationId::parse("i1").unwrap(),
            title: "Viber: Client".into(),
            description: String::new(),
            status: TaskStatus::Waiting,
            requester_id: ContactId::parse("c1").unwrap(),
            assignee_id: assignee.map(|id| StaffId::parse(id).unwrap()),
            participant_ids: Vec::new(),
            previous_task_id: None,
            created_at: at,
            updated_at: at,
            last_message_at: at,
            deleted,
            last_message: None,
            requester_name: None,
            requester_avatar: None,
        }
    }

    #[test]
    fn a_live_task_is_listed_once_and_in_the_subsets_of_its_status_assignee_and_integration() {
        let listed = attributes(Listing::task(&task(Some("s1"), false)).unwrap());
        let expected: BTreeMap<String, String> = [("gsi1pk", "TASKS"), ("gsi_sk", "1732528955210#t1")]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        assert_eq!(listed, expected);
        let subsets = TaskSubset::of_task(&task(Some("s1"), false)).map(|s| (s.attribute, s.value));
        assert_eq!(
            subsets,
            [
                ("status_list", "TASKSTATUS#waiting".to_owned()),
                ("assignee_list", "TASKASSIGNEE#s1".to_owned()),
                ("integration_list", "TASKINTEGRATION#i1".to_owned()),
            ]
        );
    }

    #[test]
    fn an_unassigned_task_is_in_the_unassigned_subset_and_a_deleted_task_in_no_list() {
        let [_, assignee, _] = TaskSubset::of_task(&task(None, false));
        assert_eq!(assignee, TaskSubset::unassigned());
        assert_eq!(assignee.value, "TASKASSIGNEE#-");
        assert_eq!(Listing::task(&task(Some("s1"), true)), None);
        assert_eq!(Listing::task_of_requester(&task(Some("s1"), true)), None);
    }

    #[test]
    fn a_live_task_is_in_its_requesters_list_by_creation() {
        let mut later = task(None, false);
        later.last_message_at = Timestamp::from_millis(1_732_600_000_000);
        let [partition, sort] = Listing::task_of_requester(&later).unwrap();
        assert_eq!(
            partition,
            ("gsi5pk".to_owned(), AttributeValue::S("TASKREQUESTER#c1".into()))
        );
        assert_eq!(
            sort,
            ("gsi5sk".to_owned(), AttributeValue::S("1732528955210#t1".into()))
        );
    }

    #[test]
    fn the_recency_key_sorts_by_time_then_id() {
        assert_eq!(recency_key(Timestamp::from_millis(42), "x"), "0000000000042#x");
        assert!(recency_key(Timestamp::from_millis(9), "b") < recency_key(Timestamp::from_millis(10), "a"));
        assert!(recency_key(Timestamp::from_millis(9), "a") < recency_key(Timestamp::from_millis(9), "b"));
    }
}
