//! `/api/tasks`: the conversations, and staff moving them through their statuses.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/tasks?status=&assignee_id=&unassigned=&integration_id=&q=&requester_id=&cursor=&limit=` | tasks, newest activity first (a client's: newest created first) |
//! | `GET /api/tasks/{id}` | a task with its `requester` contact |
//! | `PATCH /api/tasks/{id}` | `{status?, assignee_id?, participant_ids?}`: the task with its requester |
//! | `DELETE /api/tasks/{id}` | 204 |
//! | `POST /api/tasks/{id}/read` | 204: the caller has read the task up to its last client message |
//!
//! Every task view says whether it is `unread` for the caller (client messages after how far they
//! read it) and carries what the inbox's list shows: the client's name, a short-lived URL of
//! their avatar copy, and their last message.
//!
//! Every staff member may change and delete tasks. The store keeps the task's lists and its
//! requester's routing state in step, so the client's next message follows the integration's
//! "new task if no active task" option after a completion or cancellation, and opens a new task
//! after a deletion (docs/admin-guide.md, "Moving tasks").

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::{ContactId, IntegrationId, StaffId, TaskId};
use shared::model::{StaffMember, Task, TaskStatus};
use shared::ports::TaskChange;
use shared::rules::is_unread;
use shared::time::Timestamp;

use crate::Api;
use crate::body::{json_body, present};
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::{no_content, ok};
use crate::routes::common::{PageView, SignedUrl, distinct};
use crate::routes::contacts::ContactView;

const UNKNOWN: ApiError = ApiError::NotFound("task");

#[derive(Debug, Serialize)]
pub struct TaskView<'a> {
    pub id: &'a TaskId,
    pub integration_id: &'a IntegrationId,
    pub title: &'a str,
    pub description: &'a str,
    pub status: TaskStatus,
    pub requester_id: &'a ContactId,
    pub assignee_id: Option<&'a StaffId>,
    pub participant_ids: &'a [StaffId],
    pub previous_task_id: Option<&'a TaskId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The time of the client's last message (also the task's place in "newest activity first").
    pub last_message_at: Timestamp,
    /// The caller has not read the task's last client message yet.
    pub unread: bool,
    pub requester_name: Option<&'a str>,
    pub requester_avatar: Option<SignedUrl>,
    /// The client's last message, shortened; `null` for media without a caption.
    pub last_message_preview: Option<&'a str>,
    /// Its Viber type (`text`, `picture`, `sticker`…).
    pub last_message_type: Option<&'a str>,
}

impl<'a> From<&'a Task> for TaskView<'a> {
    fn from(task: &'a Task) -> Self {
        Self {
            id: &task.id,
            integration_id: &task.integration_id,
            title: &task.title,
            description: &task.description,
            status: task.status,
            requester_id: &task.requester_id,
            assignee_id: task.assignee_id.as_ref(),
            participant_ids: &task.participant_ids,
            previous_task_id: task.previous_task_id.as_ref(),
            created_at: task.created_at,
            updated_at: task.updated_at,
            last_message_at: task.last_message_at,
            unread: false,
            requester_name: task.requester_name.as_deref(),
            requester_avatar: None,
            last_message_preview: task.last_message.as_ref().and_then(|m| m.preview.as_deref()),
            last_message_type: task.last_message.as_ref().map(|m| m.kind.as_str()),
        }
    }
}

/// `GET /api/tasks/{id}`: the task and, as `requester`, its contact (`null` if that is gone).
#[derive(Debug, Serialize)]
pub struct TaskDetailView<'a> {
    #[serde(flatten)]
    pub task: TaskView<'a>,
    pub requester: Option<ContactView<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskPatch {
    status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "present")]
    assignee_id: Option<Option<StaffId>>,
    participant_ids: Option<Vec<StaffId>>,
}

impl Api {
    pub(crate) async fn list_tasks(
        &self,
        params: &Params<'_>,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        let filter = query::task_filter(params)?;
        let page = query::page(params)?;
        let tasks = self.store.list_tasks(&filter, &page).await.context("list tasks")?;
        Ok(ok(&PageView {
            items: self.task_views(&tasks.items, caller).await?,
            next_cursor: tasks.next_cursor.clone(),
        }))
    }

    /// The views of a page of tasks as `caller` sees them: unread or not (one batch read of
    /// their read markers), with their clients' avatars signed.
    pub(crate) async fn task_views<'a>(
        &self,
        tasks: &'a [Task],
        caller: &StaffMember,
    ) -> Result<Vec<TaskView<'a>>, ApiError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<TaskId> = tasks.iter().map(|task| task.id.clone()).collect();
        let read = self
            .store
            .read_markers(&caller.id, &ids)
            .await
            .context("read markers")?;
        let mut views = Vec::with_capacity(tasks.len());
        for task in tasks {
            views.push(TaskView {
                unread: is_unread(task.last_message_at, read.get(&task.id).copied()),
                requester_avatar: self.avatar_url(task.requester_avatar.as_deref()).await?,
                ..TaskView::from(task)
            });
        }
        Ok(views)
    }

    pub(crate) async fn get_task(&self, raw_id: &str, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let task = self.live_task(raw_id).await?;
        self.task_detail(&task, caller).await
    }

    /// `POST /api/tasks/{id}/read`: the caller has seen the task up to its last client message.
    pub(crate) async fn mark_task_read(&self, raw_id: &str, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let task = self.live_task(raw_id).await?;
        self.store
            .mark_read(&caller.id, &task.id, task.last_message_at)
            .await
            .context("mark read")?;
        Ok(no_content())
    }

    /// A task that exists and is not deleted.
    pub(crate) async fn live_task(&self, raw_id: &str) -> Result<Task, ApiError> {
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        match self.store.get_task(&id).await.context("get task")? {
            Some(task) if !task.deleted => Ok(task),
            _ => Err(UNKNOWN),
        }
    }

    /// The task with its requester.
    async fn task_detail(&self, task: &Task, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let requester = self
            .store
            .get_contact(&task.requester_id)
            .await
            .context("get requester")?;
        let requester = match &requester {
            Some(contact) => Some(self.contact_view(contact).await?),
            None => None,
        };
        let view = self
            .task_views(std::slice::from_ref(task), caller)
            .await?
            .pop()
            .expect("one view per task");
        Ok(ok(&TaskDetailView { task: view, requester }))
    }

    pub(crate) async fn update_task(
        &self,
        raw_id: &str,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let patch: TaskPatch = json_body(request)?;
        if patch.status.is_none() && patch.assignee_id.is_none() && patch.participant_ids.is_none() {
            return Err(ApiError::invalid_body(
                "give at least one of status, assignee_id, participant_ids",
            ));
        }
        let change = TaskChange {
            status: patch.status,
            assignee_id: patch.assignee_id,
            participant_ids: patch.participant_ids.map(distinct),
        };
        let named = change
            .assignee_id
            .iter()
            .flatten()
            .chain(change.participant_ids.iter().flatten())
            .collect();
        self.existing_staff(named).await?;
        let task = self
            .store
            .update_task(&id, &change, Timestamp::now())
            .await
            .context("update task")?
            .ok_or(UNKNOWN)?;
        tracing::info!(task_id = %task.id, status = task.status.as_str(), "task changed");
        self.task_detail(&task, caller).await
    }

    pub(crate) async fn delete_task(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        if !self
            .store
            .delete_task(&id, Timestamp::now())
            .await
            .context("delete task")?
        {
            return Err(UNKNOWN);
        }
        tracing::info!(task_id = %id, "task deleted");
        Ok(no_content())
    }
}
