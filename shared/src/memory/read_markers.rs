//! Read markers: how far each staff member has read each task.

use std::collections::HashMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::{StaffId, TaskId};
use crate::ports::{ReadMarkerStore, StoreError};
use crate::time::Timestamp;

#[async_trait]
impl ReadMarkerStore for MemoryStore {
    async fn mark_read(&self, staff: &StaffId, task: &TaskId, up_to: Timestamp) -> Result<(), StoreError> {
        let mut state = self.state();
        let marker = state.read_markers.entry((staff.clone(), task.clone())).or_insert(up_to);
        *marker = (*marker).max(up_to);
        Ok(())
    }

    async fn read_markers(&self, staff: &StaffId, tasks: &[TaskId]) -> Result<HashMap<TaskId, Timestamp>, StoreError> {
        let state = self.state();
        Ok(tasks
            .iter()
            .filter_map(|task| {
                let marker = state.read_markers.get(&(staff.clone(), task.clone()))?;
                Some((task.clone(), *marker))
            })
            .collect())
    }
}
