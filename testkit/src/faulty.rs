//! A real store with faults on purpose: chosen ports or operations are down, fail their next
//! calls, or are followed by another writer's change. For tests of how a handler meets a store
//! that is down, or a record that changes between its read and its write. Everything else goes
//! to the wrapped store (usually the in-memory one), so the handler under test runs unchanged on
//! one store, as in production.
//!
//! A rule names a port (`"TaskStore"`) or one operation (`"get_contact"`).

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::BoxFuture;
use shared::ids::{AttachmentId, CommentId, ContactId, IdempotencyKey, IntegrationId, QuickReplyId, StaffId, TaskId};
use shared::model::{
    Attachment, Comment, CommentStatus, Contact, Integration, QuickReply, StaffMember, StoredAvatar, Task,
};
use shared::ports::{
    AttachmentStore, ChangedTasks, CommentStore, ContactAdmin, ContactChange, ContactFilter, ContactStore,
    DeliveryStore, IntegrationAdmin, IntegrationStore, KeyedReply, MediaStore, MessageStore, MessageWrite,
    OutgoingReply, Page, PageRequest, PartRef, QuickReplyStore, ReadMarkerStore, ReplyStore, SentPart, StaffAdmin,
    StaffChange, StaffOutcome, StaffStore, StoreError, TaskChange, TaskFilter, TaskStore, TaskWorkflow, WriteOutcome,
};
use shared::time::Timestamp;

type Then = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

enum Fault {
    /// Every call fails.
    Down,
    /// The next calls fail, this many of them.
    Failing(usize),
    /// The next calls are carried out but answer as failed, this many of them: a write that
    /// landed although its caller timed out.
    AnswerLost(usize),
    /// After each call has answered, this runs (and is awaited) before the answer is returned.
    Then(Then),
}

struct Rule {
    target: &'static str,
    fault: Fault,
}

pub struct Faulty<S> {
    inner: Arc<S>,
    rules: Mutex<Vec<Rule>>,
}

impl<S> Faulty<S> {
    pub fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            rules: Mutex::new(Vec::new()),
        }
    }

    /// Every call of `target` fails with `StoreError::Unavailable("connection refused")`.
    pub fn down(self, target: &'static str) -> Self {
        self.with(target, Fault::Down)
    }

    /// The next `times` calls of `target` fail with `StoreError::Unavailable("throttled")`.
    pub fn failing(self, target: &'static str, times: usize) -> Self {
        self.with(target, Fault::Failing(times))
    }

    /// The next `times` calls of `target` are carried out, but answer
    /// `StoreError::Unavailable("timed out")`: the write landed, its answer did not.
    pub fn answer_lost(self, target: &'static str, times: usize) -> Self {
        self.with(target, Fault::AnswerLost(times))
    }

    /// After each call of `target` has answered, `then` runs before the caller gets the answer:
    /// another writer's change landing between the caller's read and its write.
    pub fn then<F, Fut>(self, target: &'static str, then: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.with(target, Fault::Then(Arc::new(move || Box::pin(then()))))
    }

    /// The wrapped store, to arrange and inspect what the handler cannot see.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    fn with(self, target: &'static str, fault: Fault) -> Self {
        self.rules.lock().unwrap().push(Rule { target, fault });
        self
    }

    async fn call<T>(
        &self,
        port: &'static str,
        operation: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let mut lose_answer = false;
        let thens: Vec<Then> = {
            let mut rules = self.rules.lock().unwrap();
            let mut thens = Vec::new();
            for rule in rules
                .iter_mut()
                .filter(|rule| rule.target == port || rule.target == operation)
            {
                match &mut rule.fault {
                    Fault::Down => return Err(StoreError::Unavailable("connection refused".into())),
                    Fault::Failing(left) if *left > 0 => {
                        *left -= 1;
                        return Err(StoreError::Unavailable("throttled".into()));
                    }
                    Fault::Failing(_) => {}
                    Fault::AnswerLost(left) if *left > 0 => {
                        *left -= 1;
                        lose_answer = true;
                    }
                    Fault::AnswerLost(_) => {}
                    Fault::Then(then) => thens.push(then.clone()),
                }
            }
            thens
        };
        let answer = work.await;
        for then in thens {
            then().await;
        }
        if lose_answer {
            return Err(StoreError::Unavailable("timed out".into()));
        }
        answer
    }
}

#[async_trait]
impl<S: IntegrationStore> IntegrationStore for Faulty<S> {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.call("IntegrationStore", "get_integration", self.inner.get_integration(id))
            .await
    }
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.call(
            "IntegrationStore",
            "put_integration",
            self.inner.put_integration(integration),
        )
        .await
    }
}

#[async_trait]
impl<S: IntegrationAdmin> IntegrationAdmin for Faulty<S> {
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError> {
        self.call(
            "IntegrationAdmin",
            "list_integrations",
            self.inner.list_integrations(page),
        )
        .await
    }
    async fn create_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.call(
            "IntegrationAdmin",
            "create_integration",
            self.inner.create_integration(integration),
        )
        .await
    }
    async fn replace_integration(&self, integration: &Integration) -> Result<bool, StoreError> {
        self.call(
            "IntegrationAdmin",
            "replace_integration",
            self.inner.replace_integration(integration),
        )
        .await
    }
    async fn delete_integration(&self, id: &IntegrationId) -> Result<bool, StoreError> {
        self.call(
            "IntegrationAdmin",
            "delete_integration",
            self.inner.delete_integration(id),
        )
        .await
    }
}

#[async_trait]
impl<S: StaffStore> StaffStore for Faulty<S> {
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        self.call("StaffStore", "put_staff", self.inner.put_staff(member, token_hash))
            .await
    }
    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError> {
        self.call(
            "StaffStore",
            "staff_by_token_hash",
            self.inner.staff_by_token_hash(token_hash),
        )
        .await
    }
    async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        self.call("StaffStore", "get_staff", self.inner.get_staff(id)).await
    }
    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError> {
        self.call("StaffStore", "account_owner", self.inner.account_owner())
            .await
    }
}

#[async_trait]
impl<S: StaffAdmin> StaffAdmin for Faulty<S> {
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError> {
        self.call("StaffAdmin", "list_staff", self.inner.list_staff(page)).await
    }
    async fn update_staff(&self, id: &StaffId, change: &StaffChange) -> Result<StaffOutcome, StoreError> {
        self.call("StaffAdmin", "update_staff", self.inner.update_staff(id, change))
            .await
    }
    async fn delete_staff(&self, id: &StaffId) -> Result<StaffOutcome, StoreError> {
        self.call("StaffAdmin", "delete_staff", self.inner.delete_staff(id))
            .await
    }
}

#[async_trait]
impl<S: ContactStore> ContactStore for Faulty<S> {
    async fn get_contact(&self, id: &ContactId) -> Result<Option<Contact>, StoreError> {
        self.call("ContactStore", "get_contact", self.inner.get_contact(id))
            .await
    }
    async fn put_contact(&self, contact: &Contact, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.call(
            "ContactStore",
            "put_contact",
            self.inner.put_contact(contact, expected_version),
        )
        .await
    }
    async fn list_contacts(&self, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.call("ContactStore", "list_contacts", self.inner.list_contacts(page))
            .await
    }
}

#[async_trait]
impl<S: ContactAdmin> ContactAdmin for Faulty<S> {
    async fn list_contacts_by(&self, filter: &ContactFilter, page: &PageRequest) -> Result<Page<Contact>, StoreError> {
        self.call(
            "ContactAdmin",
            "list_contacts_by",
            self.inner.list_contacts_by(filter, page),
        )
        .await
    }
    async fn update_contact(
        &self,
        id: &ContactId,
        change: &ContactChange,
        at: Timestamp,
    ) -> Result<Option<Contact>, StoreError> {
        self.call(
            "ContactAdmin",
            "update_contact",
            self.inner.update_contact(id, change, at),
        )
        .await
    }
}

#[async_trait]
impl<S: MessageStore> MessageStore for Faulty<S> {
    async fn apply_message(&self, write: &MessageWrite) -> Result<WriteOutcome, StoreError> {
        self.call("MessageStore", "apply_message", self.inner.apply_message(write))
            .await
    }
}

#[async_trait]
impl<S: TaskStore> TaskStore for Faulty<S> {
    async fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        self.call("TaskStore", "get_task", self.inner.get_task(id)).await
    }
    async fn list_tasks(&self, filter: &TaskFilter, page: &PageRequest) -> Result<Page<Task>, StoreError> {
        self.call("TaskStore", "list_tasks", self.inner.list_tasks(filter, page))
            .await
    }
    async fn list_comments(&self, task_id: &TaskId, page: &PageRequest) -> Result<Page<Comment>, StoreError> {
        self.call("TaskStore", "list_comments", self.inner.list_comments(task_id, page))
            .await
    }
    async fn get_attachment(&self, id: &AttachmentId) -> Result<Option<Attachment>, StoreError> {
        self.call("TaskStore", "get_attachment", self.inner.get_attachment(id))
            .await
    }
    async fn list_changed_tasks(&self, after: &str, limit: usize) -> Result<ChangedTasks, StoreError> {
        self.call(
            "TaskStore",
            "list_changed_tasks",
            self.inner.list_changed_tasks(after, limit),
        )
        .await
    }
}

#[async_trait]
impl<S: ReadMarkerStore> ReadMarkerStore for Faulty<S> {
    async fn mark_read(&self, staff: &StaffId, task: &TaskId, up_to: Timestamp) -> Result<(), StoreError> {
        self.call("ReadMarkerStore", "mark_read", self.inner.mark_read(staff, task, up_to))
            .await
    }
    async fn read_markers(
        &self,
        staff: &StaffId,
        tasks: &[TaskId],
    ) -> Result<std::collections::HashMap<TaskId, Timestamp>, StoreError> {
        self.call("ReadMarkerStore", "read_markers", self.inner.read_markers(staff, tasks))
            .await
    }
}

#[async_trait]
impl<S: TaskWorkflow> TaskWorkflow for Faulty<S> {
    async fn update_task(&self, id: &TaskId, change: &TaskChange, at: Timestamp) -> Result<Option<Task>, StoreError> {
        self.call("TaskWorkflow", "update_task", self.inner.update_task(id, change, at))
            .await
    }
    async fn delete_task(&self, id: &TaskId, at: Timestamp) -> Result<bool, StoreError> {
        self.call("TaskWorkflow", "delete_task", self.inner.delete_task(id, at))
            .await
    }
}

#[async_trait]
impl<S: DeliveryStore> DeliveryStore for Faulty<S> {
    async fn record_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
        part: &PartRef,
    ) -> Result<(), StoreError> {
        self.call(
            "DeliveryStore",
            "record_part",
            self.inner.record_part(integration_id, message_token, part),
        )
        .await
    }
    async fn find_part(
        &self,
        integration_id: &IntegrationId,
        message_token: u64,
    ) -> Result<Option<PartRef>, StoreError> {
        self.call(
            "DeliveryStore",
            "find_part",
            self.inner.find_part(integration_id, message_token),
        )
        .await
    }
    async fn advance_part(
        &self,
        part: &PartRef,
        message_token: u64,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.call(
            "DeliveryStore",
            "advance_part",
            self.inner.advance_part(part, message_token, status, reason),
        )
        .await
    }
}

#[async_trait]
impl<S: ReplyStore> ReplyStore for Faulty<S> {
    async fn get_reply(&self, comment: &PartRef) -> Result<Option<OutgoingReply>, StoreError> {
        self.call("ReplyStore", "get_reply", self.inner.get_reply(comment))
            .await
    }
    async fn record_sent_part(&self, sent: &SentPart<'_>) -> Result<(), StoreError> {
        self.call("ReplyStore", "record_sent_part", self.inner.record_sent_part(sent))
            .await
    }
    async fn note_waiting(&self, comment: &PartRef, reason: &str) -> Result<(), StoreError> {
        self.call("ReplyStore", "note_waiting", self.inner.note_waiting(comment, reason))
            .await
    }
    async fn finish_comment(
        &self,
        comment: &PartRef,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.call(
            "ReplyStore",
            "finish_comment",
            self.inner.finish_comment(comment, status, reason),
        )
        .await
    }
}

#[async_trait]
impl<S: AttachmentStore> AttachmentStore for Faulty<S> {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<(), StoreError> {
        self.call(
            "AttachmentStore",
            "put_attachment",
            self.inner.put_attachment(attachment),
        )
        .await
    }
}

#[async_trait]
impl<S: MediaStore> MediaStore for Faulty<S> {
    async fn record_media_copy(&self, attachment: &Attachment) -> Result<bool, StoreError> {
        self.call(
            "MediaStore",
            "record_media_copy",
            self.inner.record_media_copy(attachment),
        )
        .await
    }

    async fn record_avatar_copy(&self, contact: &ContactId, avatar: &StoredAvatar) -> Result<bool, StoreError> {
        self.call(
            "MediaStore",
            "record_avatar_copy",
            self.inner.record_avatar_copy(contact, avatar),
        )
        .await
    }
}

#[async_trait]
impl<S: CommentStore> CommentStore for Faulty<S> {
    async fn add_staff_comment(
        &self,
        comment: &Comment,
        uploaded: &[AttachmentId],
        keyed: Option<&KeyedReply>,
    ) -> Result<(), StoreError> {
        self.call(
            "CommentStore",
            "add_staff_comment",
            self.inner.add_staff_comment(comment, uploaded, keyed),
        )
        .await
    }

    async fn keyed_reply(&self, staff: &StaffId, key: &IdempotencyKey) -> Result<Option<KeyedReply>, StoreError> {
        self.call("CommentStore", "keyed_reply", self.inner.keyed_reply(staff, key))
            .await
    }

    async fn get_comment(&self, task_id: &TaskId, id: &CommentId) -> Result<Option<Comment>, StoreError> {
        self.call("CommentStore", "get_comment", self.inner.get_comment(task_id, id))
            .await
    }
}

#[async_trait]
impl<S: QuickReplyStore> QuickReplyStore for Faulty<S> {
    async fn list_quick_replies(&self, page: &PageRequest) -> Result<Page<QuickReply>, StoreError> {
        self.call(
            "QuickReplyStore",
            "list_quick_replies",
            self.inner.list_quick_replies(page),
        )
        .await
    }
    async fn get_quick_reply(&self, id: &QuickReplyId) -> Result<Option<QuickReply>, StoreError> {
        self.call("QuickReplyStore", "get_quick_reply", self.inner.get_quick_reply(id))
            .await
    }
    async fn put_quick_reply(&self, reply: &QuickReply) -> Result<(), StoreError> {
        self.call("QuickReplyStore", "put_quick_reply", self.inner.put_quick_reply(reply))
            .await
    }
    async fn delete_quick_reply(&self, id: &QuickReplyId) -> Result<bool, StoreError> {
        self.call(
            "QuickReplyStore",
            "delete_quick_reply",
            self.inner.delete_quick_reply(id),
        )
        .await
    }
}
