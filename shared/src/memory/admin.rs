//! The in-memory adapter of the issue-5 ports: integrations, staff and the task workflow.

use async_trait::async_trait;

use super::{MemoryStore, StoreState, paginate};
use crate::ids::{IntegrationId, StaffId, TaskId};
use crate::model::{Integration, Role, StaffMember, Task, TaskState};
use crate::ports::{
    Conflict, IntegrationAdmin, Page, PageRequest, Record, StaffAdmin, StaffChange, StaffOutcome, StoreError,
    TaskChange, TaskWorkflow, recency_key,
};
use crate::time::Timestamp;

impl StoreState {
    /// Another owner than `id`, preferring the earliest added.
    fn other_owner(&self, id: &StaffId) -> Option<StaffId> {
        let mut owners: Vec<&StaffMember> = self
            .staff
            .values()
            .filter(|m| m.role == Role::Owner && &m.id != id)
            .collect();
        owners.sort_by_key(|m| recency_key(m.created_at, m.id.as_str()));
        owners.first().map(|m| m.id.clone())
    }

    /// The member `id` stops being an owner: the account's owner marker moves on if it named them.
    fn hand_over_ownership(&mut self, id: &StaffId, successor: StaffId) {
        if self.account_owner.as_ref() == Some(id) {
            self.account_owner = Some(successor);
        }
    }

    /// The requester's routing state follows the task, when the task is their current one.
    fn follow_task(&mut self, task: &Task) {
        if let Some(contact) = self.contacts.get_mut(&task.requester_id)
            && let Some(current) = contact.current_task.as_mut()
            && current.id == task.id
        {
            current.state = TaskState::of(task.status, task.deleted);
            contact.version += 1;
        }
    }
}

#[async_trait]
impl IntegrationAdmin for MemoryStore {
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError> {
        let mut sorted: Vec<(String, Integration)> = self
            .state()
            .integrations
            .values()
            .map(|i| (recency_key(i.created_at, i.id.as_str()), i.clone()))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        paginate(sorted, page, |key, start| key > start)
    }

    async fn create_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.integrations.contains_key(&integration.id) {
            return Err(Conflict::AlreadyExists(Record::Integration(integration.id.clone())).into());
        }
        state.integrations.insert(integration.id.clone(), integration.clone());
        Ok(())
    }

    async fn replace_integration(&self, integration: &Integration) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.integrations.get_mut(&integration.id) {
            Some(stored) => {
                *stored = integration.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<bool, StoreError> {
        Ok(self.state().integrations.remove(id).is_some())
    }
}

#[async_trait]
impl StaffAdmin for MemoryStore {
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError> {
        let mut sorted: Vec<(String, StaffMember)> = self
            .state()
            .staff
            .values()
            .map(|m| (recency_key(m.created_at, m.id.as_str()), m.clone()))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        paginate(sorted, page, |key, start| key > start)
    }

    async fn update_staff(&self, id: &StaffId, change: &StaffChange) -> Result<StaffOutcome, StoreError> {
        let mut state = self.state();
        let Some(member) = state.staff.get(id).cloned() else {
            return Ok(StaffOutcome::NotFound);
        };
        let mut changed = member.clone();
        if let Some(name) = &change.name {
            changed.name = name.clone();
        }
        if let Some(avatar_url) = &change.avatar_url {
            changed.avatar_url = avatar_url.clone();
        }
        if let Some(role) = change.role {
            changed.role = role;
        }
        if member.role == Role::Owner && changed.role != Role::Owner {
            let Some(successor) = state.other_owner(id) else {
                return Ok(StaffOutcome::LastOwner);
            };
            state.hand_over_ownership(id, successor);
        }
        if changed.role == Role::Owner && state.account_owner.is_none() {
            state.account_owner = Some(id.clone());
        }
        state.staff.insert(id.clone(), changed.clone());
        Ok(StaffOutcome::Done(Some(changed)))
    }

    async fn delete_staff(&self, id: &StaffId) -> Result<StaffOutcome, StoreError> {
        let mut state = self.state();
        let Some(member) = state.staff.get(id).cloned() else {
            return Ok(StaffOutcome::NotFound);
        };
        if member.role == Role::Owner {
            let Some(successor) = state.other_owner(id) else {
                return Ok(StaffOutcome::LastOwner);
            };
            state.hand_over_ownership(id, successor);
        }
        state.staff.remove(id);
        state.staff_by_token_hash.retain(|_, staff_id| staff_id != id);
        Ok(StaffOutcome::Done(None))
    }
}

#[async_trait]
impl TaskWorkflow for MemoryStore {
    async fn update_task(&self, id: &TaskId, change: &TaskChange, at: Timestamp) -> Result<Option<Task>, StoreError> {
        let mut state = self.state();
        let Some(task) = state.tasks.get_mut(id).filter(|t| !t.deleted) else {
            return Ok(None);
        };
        if let Some(status) = change.status {
            task.status = status;
        }
        if let Some(assignee_id) = &change.assignee_id {
            task.assignee_id = assignee_id.clone();
        }
        if let Some(participant_ids) = &change.participant_ids {
            task.participant_ids = participant_ids.clone();
        }
        task.updated_at = at;
        let task = task.clone();
        state.follow_task(&task);
        Ok(Some(task))
    }

    async fn delete_task(&self, id: &TaskId, at: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(task) = state.tasks.get_mut(id).filter(|t| !t.deleted) else {
            return Ok(false);
        };
        task.deleted = true;
        task.updated_at = at;
        let task = task.clone();
        state.follow_task(&task);
        Ok(true)
    }
}
