//! The processor Lambda's handler: applies queued Viber callbacks to contacts, tasks and
//! comments, exactly once in effect however often a callback arrives. It makes DynamoDB requests
//! only, so its timeout fits a text message (seconds) and a crash holds a client's messages back
//! for the inbound queue's short visibility timeout: a client's media file and a contact's avatar
//! are stored as pending and copied by the media worker ([`media`], its own Lambda function on
//! the media queue).

pub mod config;
pub mod media;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt;
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::ids::{CommentId, StaffId, TaskId};
use shared::inbound::InboundEnvelope;
use shared::media::{MediaJob, inbound_attachment_id};
use shared::model::{
    Attachment, Author, AuthorKind, Comment, CommentStatus, Contact, CurrentTask, Integration, Task, TaskState,
};
use shared::ports::{
    Conflict, MessageQueue, MessageWrite, ProcessorStore, QueueError, StoreError, TaskWrite, WriteOutcome,
};
use shared::retry::{Backoff, Retry, RetryPolicy};
use shared::rules::{self, Route};
use shared::time::Timestamp;
use shared::viber::Callback;
use shared::viber::attachments;
use shared::viber::callback::{Media, Message, MessageReceived, UserProfile};

/// How often a message is re-decided when the contact or its task changed under it.
const CONFLICT_ATTEMPTS: usize = 3;

/// How many of a contact's earlier tasks a re-delivered message is looked for in: tasks opened
/// within Viber's hour of re-sending (a task opens only when the last one is closed).
const EARLIER_TASKS_LIMIT: usize = 10;

/// The inbound queue's `maxReceiveCount` when `INBOUND_MAX_RECEIVES` does not say.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The back-off of a failed callback (its visibility timeout is changed to it): 2 s, 4 s, 8 s,
/// 16 s … up to a minute, with jitter; on the last receive none (the record moves on to the
/// DLQ). With 5 receives the fifth comes 15–30 s after the first failure: long enough for a
/// DynamoDB throttle to pass (the SDK already retried each request), while the client's later
/// messages, which wait behind the record in their FIFO group, are held back for well under a
/// minute. (A crashed invocation's records come back after the queue's 30 s visibility timeout.)
pub const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(2),
    max: Duration::from_secs(60),
};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("the queue message is not an inbound envelope: {0}")]
    Envelope(serde_json::Error),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the contact kept changing while the message was applied")]
    Contended,
    /// The copy of a stored message's file could not be queued: the record is retried, and
    /// its next delivery (a duplicate) queues it again.
    #[error("media copy not queued: {0}")]
    MediaJob(#[from] QueueError),
}

/// Why a client's file is not available while the media worker copies it (the staff API shows
/// `unavailable_reason` with `available: false`).
pub const COPY_PENDING: &str = "The file is being copied from Viber.";

/// What became of one callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    /// Acknowledged without effect (unknown event, receipt for a token we never sent, …).
    Ignored(&'static str),
}

pub struct Processor {
    store: Arc<dyn ProcessorStore>,
    /// The integrations, read through the store.
    integrations: Arc<IntegrationCache>,
    /// The media queue: a client's file and a contact's new avatar are copied by the media
    /// worker ([`media::MediaWorker`]), off this function's path.
    media_jobs: Arc<dyn MessageQueue>,
    /// The inbound queue's `maxReceiveCount`.
    pub max_receives: u32,
    /// Whether contacts' avatars are copied from Viber into the bucket (the staff inbox shows
    /// only copies). Off only where nothing may be fetched from outside (tests).
    pub copy_avatars: bool,
    /// The account owner (a new task's assignee by default) as read last, and when: trusted for
    /// [`DEFAULT_TTL`] like the integrations, so a new task usually costs no read for it
    /// (docs/cost.md). Only a found owner is kept: one set a moment ago is found at once.
    owner: std::sync::Mutex<Option<(std::time::Instant, StaffId)>>,
}

impl Processor {
    /// The processor of a queue with `max_receives` (its `maxReceiveCount`), queueing media
    /// copies on `media_jobs`.
    pub fn new(store: Arc<dyn ProcessorStore>, media_jobs: Arc<dyn MessageQueue>, max_receives: u32) -> Self {
        Self {
            integrations: Arc::new(IntegrationCache::new(store.clone(), DEFAULT_TTL)),
            store,
            media_jobs,
            max_receives,
            copy_avatars: true,
            owner: std::sync::Mutex::new(None),
        }
    }

    /// Queues no avatar copy: nothing is fetched from outside but the messages' media (tests,
    /// whose fixtures name Viber's CDN).
    pub fn without_avatar_copies(mut self) -> Self {
        self.copy_avatars = false;
        self
    }

    /// Reads integrations through `cache`, shared with code that changes them (the local stack).
    pub fn with_cache(mut self, cache: Arc<IntegrationCache>) -> Self {
        self.integrations = cache;
        self
    }

    /// An SQS FIFO batch: each client's records (one FIFO message group) in their order, the
    /// clients side by side, so a batch of ten clients' messages takes about as long as one
    /// client's (the invocation is billed for its wall time, docs/cost.md). A record that fails is
    /// reported, and so is every later record of its message group (unprocessed), so a user's
    /// events keep their order; the other groups go on. On its last receive a failing record is
    /// reported alone (it goes to the DLQ) and its group goes on. Panics are caught per record.
    pub async fn handle_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_batch_with_retries(event).await.0
    }

    /// As [`Processor::handle_batch`], also returning each failed record (with the records of
    /// its group held back behind it) for `shared::retry::postpone_retries` and [`BACKOFF`].
    pub async fn handle_batch_with_retries(&self, event: SqsEvent) -> (SqsBatchResponse, Vec<Retry>) {
        let groups = futures::future::join_all(
            by_message_group(event.records)
                .into_iter()
                .map(|records| self.handle_group(records)),
        )
        .await;
        let mut response = SqsBatchResponse::default();
        let mut retries = Vec::new();
        for (failures, group_retries) in groups {
            response.batch_item_failures.extend(failures);
            retries.extend(group_retries);
        }
        (response, retries)
    }

    /// How this processor's failed records come back: [`BACKOFF`], up to its queue's
    /// `maxReceiveCount`.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            backoff: BACKOFF,
            max_receives: self.max_receives,
        }
    }

    /// One message group's records, in order, until one fails: that one and the rest are
    /// returned as failures, and the failed one as a retry holding the rest back. A record failing
    /// on its last receive leaves for the DLQ without holding the rest back.
    async fn handle_group(&self, records: Vec<SqsMessage>) -> (Vec<BatchItemFailure>, Vec<Retry>) {
        let mut failures = Vec::new();
        let mut retries: Vec<Retry> = Vec::new();
        // Once a record failed (before its last receive), the rest of the group is held back
        // behind it: its retry carries their receipts.
        let mut failed = false;
        let mut holding: Option<Retry> = None;
        for record in records {
            let id = record.message_id.clone().unwrap_or_default();
            if failed {
                failures.push(failure(id));
                if let (Some(retry), Some(receipt_handle)) = (holding.as_mut(), record.receipt_handle) {
                    retry.held_back.push(receipt_handle);
                }
                continue;
            }
            let receive_count = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse().ok())
                .unwrap_or(1);
            let body = record.body.unwrap_or_default();
            let outcome = AssertUnwindSafe(self.process(&body)).catch_unwind().await;
            let error = match outcome {
                Ok(Ok(outcome)) => {
                    tracing::debug!(message_id = %id, ?outcome, "record processed");
                    continue;
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => "the record panicked".to_owned(),
            };
            failures.push(failure(id.clone()));
            let retry = record
                .receipt_handle
                .map(|receipt_handle| Retry::new(receipt_handle, receive_count));
            if receive_count >= self.max_receives {
                // The redrive policy moves it to the inbound DLQ on its next receive, and the DLQ
                // alarm fires (docs/deploy.md "Queues, retries and dead letters"). The group goes
                // on without it: held back, its later records would count receives untried and
                // follow it to the DLQ.
                let (integration_id, contact_id) = record_ids(&body);
                tracing::error!(message_id = %id, %integration_id, %contact_id, receive_count, %error, "record failed on its last receive; it goes to the DLQ");
                retries.extend(retry);
            } else {
                tracing::error!(message_id = %id, receive_count, %error, "record failed; it will be retried");
                failed = true;
                holding = retry;
            }
        }
        retries.extend(holding);
        (failures, retries)
    }

    /// Applies one queued callback.
    pub async fn process(&self, body: &str) -> Result<Outcome, ProcessError> {
        let envelope: InboundEnvelope = serde_json::from_str(body).map_err(ProcessError::Envelope)?;
        let callback = envelope.callback().map_err(ProcessError::Envelope)?;
        let Some(lookup) = self.integrations.get(&envelope.integration_id).await? else {
            tracing::warn!(integration_id = %envelope.integration_id, "callback for a disconnected integration dropped");
            return Ok(Outcome::Ignored("integration disconnected"));
        };
        let integration = lookup.integration;
        match &callback {
            Callback::Message(message) => self.apply_message(&integration, message).await,
            Callback::Subscribed(event) => {
                self.record_subscription(&integration, &event.user, Some(true), event.timestamp)
                    .await
            }
            // Opening the chat is not a subscription, but Viber says whether the user already is one.
            Callback::ConversationStarted(event) => {
                self.record_subscription(&integration, &event.user, event.subscribed, event.timestamp)
                    .await
            }
            Callback::Unsubscribed(event) => {
                let user = UserProfile {
                    id: event.user_id.clone(),
                    name: None,
                    avatar: None,
                    country: None,
                    language: None,
                    api_version: None,
                };
                self.record_subscription(&integration, &user, Some(false), event.timestamp)
                    .await
            }
            Callback::Delivered(receipt) => {
                self.advance(&integration, receipt.message_token, CommentStatus::Delivered, None)
                    .await
            }
            Callback::Seen(receipt) => {
                self.advance(&integration, receipt.message_token, CommentStatus::Seen, None)
                    .await
            }
            Callback::Failed(failed) => {
                let reason = failed.desc.as_deref().unwrap_or("Viber could not deliver the message");
                self.advance(&integration, failed.message_token, CommentStatus::Failed, Some(reason))
                    .await
            }
            Callback::Webhook(_) => Ok(Outcome::Ignored("webhook check")),
            Callback::Unknown(unknown) => {
                tracing::warn!(integration_id = %integration.id, event = %unknown.event, "unknown event acknowledged");
                Ok(Outcome::Ignored("unknown event"))
            }
        }
    }

    async fn apply_message(&self, integration: &Integration, event: &MessageReceived) -> Result<Outcome, ProcessError> {
        let contact_id = rules::contact_id(&integration.id, &event.sender.id);
        let sent_at = Timestamp::from_millis(event.timestamp);
        let phone = match &event.message {
            Message::Contact(card) => card.contact.phone_number.as_deref(),
            _ => None,
        };
        // The file is stored as pending with the message and copied by the media worker, queued
        // once the message is stored (a later delivery of the message queues it again).
        let media = match &event.message {
            Message::Picture(media) | Message::Video(media) | Message::File(media) => {
                Some(pending_attachment(integration, event, media))
            }
            _ => None,
        };
        let attachment = media.as_ref().map(|(attachment, _)| attachment);
        // The task this message opens, if it opens one: every delivery names the same.
        let own_task = rules::inbound_task_id(&integration.id, event.message_token, sent_at);
        // The contact's current task when it turned out not to exist.
        let mut missing: Option<TaskId> = None;
        for _ in 0..CONFLICT_ATTEMPTS {
            let now = Timestamp::now();
            let existing = self.store.get_contact(&contact_id).await?;
            let mut contact = rules::merge_profile(existing.as_ref(), &integration.id, &event.sender, phone, now);
            if existing.is_none() {
                rules::apply_contact_template(&mut contact, &integration.contact_template);
            }
            let avatar_job = self.avatar_job(&contact);
            // Viber subscribes a user by their first message, without a `subscribed` callback.
            rules::message_subscribes(&mut contact, sent_at);
            contact.version = existing.as_ref().map_or(1, |c| c.version + 1);
            let current = existing.as_ref().and_then(|c| c.current_task.as_ref());
            let route = rules::route_inbound(
                current,
                &own_task,
                missing.as_ref(),
                integration.options.new_task_if_no_active,
            );
            let (task_write, current_task, earlier_tasks) = match route {
                Route::Append {
                    task_id,
                    require_active,
                } => {
                    let (state, since) = current.map_or((TaskState::Active, None), |c| (c.state, c.since));
                    let earlier = self.earlier_tasks(&task_id, since, sent_at).await?;
                    let write = TaskWrite::Append {
                        task_id: task_id.clone(),
                        last_message_at: now,
                        require_active,
                        last_message: Some(rules::last_message(&event.message)),
                        requester_name: contact.name.clone(),
                        requester_avatar: contact.avatar.as_ref().and_then(|a| a.blob_key.clone()),
                    };
                    let current_task = CurrentTask {
                        id: task_id,
                        state,
                        since,
                        previous: current.and_then(|c| c.previous.clone()),
                    };
                    (write, current_task, earlier)
                }
                Route::Create { previous } => {
                    // An earlier delivery may have joined the task this one leaves.
                    let mut earlier = Vec::new();
                    if let Some(previous) = &previous {
                        let since = current.filter(|c| &c.id == previous).and_then(|c| c.since);
                        earlier.push(previous.clone());
                        earlier.extend(self.earlier_tasks(previous, since, sent_at).await?);
                    }
                    let assignee = self.assignee_for_new_task(integration).await?;
                    let mut task = new_task(integration, &contact, own_task.clone(), previous.clone(), assignee, now);
                    task.last_message = Some(rules::last_message(&event.message));
                    let current_task = CurrentTask {
                        id: own_task.clone(),
                        state: TaskState::Active,
                        since: Some(now),
                        previous,
                    };
                    (TaskWrite::Create(task), current_task, earlier)
                }
                Route::Finish { previous } => {
                    // An earlier delivery opened the task (the contact points at it) and was cut
                    // short: the task and the comment are written as it would have, the contact
                    // left pointing where it does. It found the message in no earlier task.
                    let current_task = current.cloned().expect("a task is finished only when it is current");
                    let since = current_task.since.unwrap_or(now);
                    let assignee = self.assignee_for_new_task(integration).await?;
                    let mut task = new_task(integration, &contact, own_task.clone(), previous, assignee, since);
                    task.last_message = Some(rules::last_message(&event.message));
                    (TaskWrite::Create(task), current_task, Vec::new())
                }
            };
            let task_id = current_task.id.clone();
            contact.current_task = Some(current_task);
            let mut comment = inbound_comment(&task_id, &contact.id, event, sent_at);
            comment.attachment_ids = attachment.iter().map(|a| a.id.clone()).collect();
            // A contact the message leaves as it was is not written (docs/cost.md).
            let contact = match &existing {
                Some(stored) if rules::contact_unchanged(stored, &contact) => None,
                _ => Some(contact),
            };
            let write = MessageWrite {
                expected_contact_version: existing.as_ref().map(|c| c.version),
                comment,
                contact,
                task: task_write,
                attachments: attachment.iter().cloned().cloned().collect(),
                earlier_tasks,
            };
            let outcome = match self.store.apply_message(&write).await {
                Ok(WriteOutcome::Applied) => Outcome::Applied,
                Ok(WriteOutcome::Duplicate) => Outcome::Duplicate,
                Err(StoreError::Conflict(reason)) => {
                    tracing::info!(integration_id = %integration.id, %reason, "contact or task changed; deciding again");
                    // A current task that does not exist was opened by a message that never
                    // completed (given up on after the queue's last receive): like a deleted
                    // one, it gets a new task (`rules::route_inbound`).
                    if let Conflict::TaskChanged(task_id) = &reason
                        && self.store.get_task(task_id).await?.is_none()
                    {
                        missing = Some(task_id.clone());
                    }
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            if let Some((_, job)) = &media {
                self.media_jobs.send(job.queue_message()).await?;
            }
            self.queue_avatar_copy(avatar_job).await;
            return Ok(outcome);
        }
        Err(ProcessError::Contended)
    }

    /// The contact's tasks before `task` (created `since`, when known) that an earlier delivery
    /// of a message sent at `sent_at` may have put its comment in: back from `task` while the
    /// task reached was created after the message (`rules::may_predate`). Usually none, without
    /// a read: the contact knows when its current task was created.
    async fn earlier_tasks(
        &self,
        task: &TaskId,
        since: Option<Timestamp>,
        sent_at: Timestamp,
    ) -> Result<Vec<TaskId>, ProcessError> {
        let mut earlier = Vec::new();
        let mut task_id = task.clone();
        let mut created = since;
        for _ in 0..EARLIER_TASKS_LIMIT {
            if !rules::may_predate(created, sent_at) {
                break;
            }
            let Some(task) = self.store.get_task(&task_id).await? else {
                break;
            };
            if !rules::may_predate(Some(task.created_at), sent_at) {
                break;
            }
            let Some(previous) = task.previous_task_id else {
                break;
            };
            earlier.push(previous.clone());
            task_id = previous;
            created = None;
        }
        Ok(earlier)
    }

    /// The copy of the contact's avatar to queue, when its Viber picture is not copied yet (a
    /// new contact, or a new picture) and copies are on. Queued after each message or
    /// subscription until the worker records the copy, which makes a repeated job a no-op.
    fn avatar_job(&self, contact: &Contact) -> Option<MediaJob> {
        let source_url = contact.avatar_url.clone()?;
        let copied = contact.avatar.as_ref().is_some_and(|a| a.source_url == source_url);
        (self.copy_avatars && !copied).then(|| MediaJob::Avatar {
            contact_id: contact.id.clone(),
            source_url,
        })
    }

    /// Queues an avatar copy. A failure is no reason to hold back the client's message: the
    /// next callback with the profile queues it again, and the inbox shows initials meanwhile.
    async fn queue_avatar_copy(&self, job: Option<MediaJob>) {
        let Some(job) = job else {
            return;
        };
        if let Err(error) = self.media_jobs.send(job.queue_message()).await {
            tracing::warn!(%error, "avatar copy not queued; queued again with the next profile");
        }
    }

    /// Template assignee, else the account owner, else whoever connected the integration; the
    /// owner is read only when the template names nobody.
    async fn assignee_for_new_task(&self, integration: &Integration) -> Result<Option<StaffId>, ProcessError> {
        let template_assignee = integration.template.assignee_id.as_ref();
        let owner = match template_assignee {
            Some(_) => None,
            None => self.account_owner().await?,
        };
        Ok(rules::choose_assignee(
            template_assignee,
            owner.as_ref(),
            integration.connected_by.as_ref(),
        ))
    }

    /// The account owner, from the per-instance copy while fresh.
    async fn account_owner(&self) -> Result<Option<StaffId>, ProcessError> {
        let fresh = |kept: &Option<(std::time::Instant, StaffId)>| {
            kept.as_ref()
                .filter(|(read_at, _)| read_at.elapsed() < DEFAULT_TTL)
                .map(|(_, id)| id.clone())
        };
        if let Some(id) = fresh(&self.owner.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(Some(id));
        }
        let owner = self.store.account_owner().await?.map(|owner| owner.id);
        *self.owner.lock().unwrap_or_else(|p| p.into_inner()) = owner.clone().map(|id| (std::time::Instant::now(), id));
        Ok(owner)
    }

    async fn record_subscription(
        &self,
        integration: &Integration,
        user: &UserProfile,
        subscribed: Option<bool>,
        timestamp: i64,
    ) -> Result<Outcome, ProcessError> {
        let contact_id = rules::contact_id(&integration.id, &user.id);
        for _ in 0..CONFLICT_ATTEMPTS {
            let existing = self.store.get_contact(&contact_id).await?;
            let mut contact = rules::merge_profile(existing.as_ref(), &integration.id, user, None, Timestamp::now());
            if existing.is_none() {
                rules::apply_contact_template(&mut contact, &integration.contact_template);
            }
            let avatar_job = self.avatar_job(&contact);
            if let Some(subscribed) = subscribed {
                rules::apply_subscription(&mut contact, subscribed, Timestamp::from_millis(timestamp));
            }
            contact.version = existing.as_ref().map_or(1, |c| c.version + 1);
            match self
                .store
                .put_contact(&contact, existing.as_ref().map(|c| c.version))
                .await
            {
                Ok(()) => {
                    self.queue_avatar_copy(avatar_job).await;
                    return Ok(Outcome::Applied);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ProcessError::Contended)
    }

    async fn advance(
        &self,
        integration: &Integration,
        token: u64,
        status: CommentStatus,
        reason: Option<&str>,
    ) -> Result<Outcome, ProcessError> {
        // Receipts also arrive for messages viberdesk did not send (docs/viber-api.md §3): ignored.
        let Some(part) = self.store.find_part(&integration.id, token).await? else {
            return Ok(Outcome::Ignored("receipt for an unknown message token"));
        };
        self.store.advance_part(&part, token, status, reason).await?;
        Ok(Outcome::Applied)
    }
}

/// A client's media file as stored with its message, not yet available, and the job that
/// copies it. Its id (so its object in the bucket) is derived from the message: every delivery
/// names the same attachment. Name and type are guessed from what Viber said until the copy
/// knows better.
fn pending_attachment(integration: &Integration, event: &MessageReceived, media: &Media) -> (Attachment, MediaJob) {
    let id = inbound_attachment_id(&integration.id, event.message_token);
    let kind = event.message.kind();
    let url_extension =
        attachments::url_file_name(&media.media).and_then(|name| attachments::extension(&name).map(str::to_owned));
    let file_name = attachments::display_file_name(media.file_name.as_deref(), &media.media, kind, None);
    let attachment = Attachment {
        content_type: attachments::guess_content_type(&file_name).to_owned(),
        blob_key: attachments::attachment_key(&id, &file_name, url_extension.as_deref()),
        id: id.clone(),
        file_name,
        size: media.size.unwrap_or(0),
        available: false,
        unavailable_reason: Some(COPY_PENDING.to_owned()),
        awaiting_upload: false,
        created_at: Timestamp::from_millis(event.timestamp),
    };
    let job = MediaJob::Attachment {
        attachment_id: id,
        url: media.media.clone(),
        message_type: kind.to_owned(),
        file_name: media.file_name.clone(),
        size: media.size,
    };
    (attachment, job)
}

/// A batch's records by message group, each group's in the batch's order (which is the queue's
/// order within a group), the groups in the order they first appear.
fn by_message_group(records: Vec<SqsMessage>) -> Vec<Vec<SqsMessage>> {
    let mut position: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Vec<SqsMessage>> = Vec::new();
    for record in records {
        let group = record.attributes.get("MessageGroupId").cloned().unwrap_or_default();
        match position.get(&group) {
            Some(&index) => groups[index].push(record),
            None => {
                position.insert(group, groups.len());
                groups.push(vec![record]);
            }
        }
    }
    groups
}

/// The integration and contact a queued callback is about, for the trace of a record that goes
/// to the DLQ (empty where the body does not say).
fn record_ids(body: &str) -> (String, String) {
    let Ok(envelope) = serde_json::from_str::<InboundEnvelope>(body) else {
        return (String::new(), String::new());
    };
    let contact_id = envelope
        .callback()
        .ok()
        .and_then(|callback| {
            callback
                .viber_user_id()
                .map(|user| rules::contact_id(&envelope.integration_id, user).to_string())
        })
        .unwrap_or_default();
    (envelope.integration_id.to_string(), contact_id)
}

fn failure(item_identifier: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = item_identifier;
    failure
}

/// The task `id` (derived from the message opening it) opened `now`.
fn new_task(
    integration: &Integration,
    contact: &shared::model::Contact,
    id: TaskId,
    previous: Option<TaskId>,
    assignee_id: Option<StaffId>,
    now: Timestamp,
) -> Task {
    let template = &integration.template;
    Task {
        id,
        integration_id: integration.id.clone(),
        title: rules::render_title(&template.task_title, contact, &integration.bot.name),
        description: rules::task_description(contact, previous.as_ref()),
        status: template.initial_status,
        requester_id: contact.id.clone(),
        assignee_id,
        participant_ids: template.participant_ids.clone(),
        previous_task_id: previous,
        created_at: now,
        updated_at: now,
        last_message_at: now,
        deleted: false,
        requester_name: contact.name.clone(),
        requester_avatar: contact.avatar.as_ref().and_then(|a| a.blob_key.clone()),
        last_message: None,
    }
}

/// The comment id of a client's message: Viber's time, then its token, so a conversation sorts
/// by when the client wrote and a re-sent message maps to the same id.
fn inbound_comment(
    task_id: &TaskId,
    contact_id: &shared::ids::ContactId,
    event: &MessageReceived,
    sent_at: Timestamp,
) -> Comment {
    let id = CommentId::parse(&format!("{:012x}-{}", sent_at.millis().max(0), event.message_token)).expect("valid id");
    Comment {
        id,
        task_id: task_id.clone(),
        author: Author {
            kind: AuthorKind::Contact,
            id: contact_id.to_string(),
        },
        text: rules::comment_text(&event.message),
        attachment_ids: Vec::new(),
        notify_client: false,
        status: CommentStatus::Received,
        status_reason: None,
        created_at: sent_at,
        viber_message_type: Some(event.message.kind().to_owned()),
        viber_message_token: Some(event.message_token),
        parts: Default::default(),
        outbound: None,
        details: rules::message_details(&event.message),
    }
}
