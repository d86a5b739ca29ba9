//! Staff: members, their token hashes, and the account's owner (never left without one).

use async_trait::async_trait;

use super::{Listed, MemoryStore, Order, StoreState, page_by_recency};
use crate::ids::StaffId;
use crate::model::{Role, StaffMember};
use crate::ports::{Page, PageRequest, StaffAdmin, StaffChange, StaffOutcome, StaffStore, StoreError};

impl StoreState {
    /// Another owner than `id`, preferring the earliest added.
    fn other_owner(&self, id: &StaffId) -> Option<StaffId> {
        self.staff
            .values()
            .filter(|m| m.role == Role::Owner && &m.id != id)
            .min_by_key(|m| m.recency_key())
            .map(|m| m.id.clone())
    }

    /// The member `id` stops being an owner: refused (`false`) if no other owner remains; the
    /// account's owner marker moves on if it named them.
    fn hand_over_ownership(&mut self, id: &StaffId) -> bool {
        let Some(successor) = self.other_owner(id) else {
            return false;
        };
        if self.account_owner.as_ref() == Some(id) {
            self.account_owner = Some(successor);
        }
        true
    }
}

#[async_trait]
impl StaffStore for MemoryStore {
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        state.staff.insert(member.id.clone(), member.clone());
        state
            .staff_by_token_hash
            .insert(token_hash.to_owned(), member.id.clone());
        if member.role == Role::Owner && state.account_owner.is_none() {
            state.account_owner = Some(member.id.clone());
        }
        Ok(())
    }

    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError> {
        let state = self.state();
        Ok(state
            .staff_by_token_hash
            .get(token_hash)
            .and_then(|id| state.staff.get(id))
            .cloned())
    }

    async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        Ok(self.state().staff.get(id).cloned())
    }

    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError> {
        let state = self.state();
        Ok(state.account_owner.as_ref().and_then(|id| state.staff.get(id)).cloned())
    }
}

#[async_trait]
impl StaffAdmin for MemoryStore {
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError> {
        page_by_recency(self.state().staff.values(), Order::OldestFirst, page)
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
        if member.role == Role::Owner && changed.role != Role::Owner && !state.hand_over_ownership(id) {
            return Ok(StaffOutcome::LastOwner);
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
        if member.role == Role::Owner && !state.hand_over_ownership(id) {
            return Ok(StaffOutcome::LastOwner);
        }
        state.staff.remove(id);
        state.staff_by_token_hash.retain(|_, staff_id| staff_id != id);
        Ok(StaffOutcome::Done(None))
    }
}
