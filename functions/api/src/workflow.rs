//! `PATCH /api/tasks/{id}` and `DELETE /api/tasks/{id}`: staff move tasks through their statuses.
//! Every staff member may. The store keeps the task's lists and its requester's routing state in
//! step, so the client's next message follows the integration's "new task if no active task"
//! option after a completion or cancellation, and opens a new task after a deletion.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::ids::{StaffId, TaskId};
use shared::model::TaskStatus;
use shared::ports::TaskChange;
use shared::time::Timestamp;

use crate::admin::{distinct, existing_staff, invalid_body, json_body, present, store_error};
use crate::no_content;
use crate::views::{ContactView, TaskDetailView, TaskView};
use crate::{Api, ApiError, ok};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskPatch {
    status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "present")]
    assignee_id: Option<Option<StaffId>>,
    participant_ids: Option<Vec<StaffId>>,
}

const UNKNOWN: ApiError = ApiError::NotFound("no such task");

impl Api {
    pub(crate) async fn update_task(&self, raw_id: &str, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let patch: TaskPatch = json_body(request)?;
        if patch.status.is_none() && patch.assignee_id.is_none() && patch.participant_ids.is_none() {
            return Err(invalid_body(
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
            .cloned()
            .collect();
        existing_staff(self.store.as_ref(), named).await?;
        let task = self
            .store
            .update_task(&id, &change, Timestamp::now())
            .await
            .map_err(store_error("update task"))?
            .ok_or(UNKNOWN)?;
        tracing::info!(task_id = %task.id, status = task.status.as_str(), "task changed");
        let requester = self
            .store
            .get_contact(&task.requester_id)
            .await
            .map_err(store_error("get requester"))?;
        Ok(ok(&TaskDetailView {
            task: TaskView::from(&task),
            requester: requester.as_ref().map(ContactView::from),
        }))
    }

    pub(crate) async fn delete_task(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let deleted = self
            .store
            .delete_task(&id, Timestamp::now())
            .await
            .map_err(store_error("delete task"))?;
        if !deleted {
            return Err(UNKNOWN);
        }
        tracing::info!(task_id = %id, "task deleted");
        Ok(no_content())
    }
}
