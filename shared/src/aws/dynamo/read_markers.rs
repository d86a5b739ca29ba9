//! Read markers: how far each staff member has read each task, one small item per member and
//! task in the member's partition (docs/data-model.md, "Read markers").

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::keys::Key;
use super::writes::item_absent;
use super::{DynamoStore, to_item, to_value};
use crate::ids::{StaffId, TaskId};
use crate::ports::{ReadMarkerStore, StoreError};
use crate::time::Timestamp;

#[derive(Serialize, Deserialize)]
struct ReadMarker {
    task_id: TaskId,
    read_up_to: Timestamp,
}

#[async_trait]
impl ReadMarkerStore for DynamoStore {
    /// One conditional PutItem: written when there is no marker or an older one, so two tabs
    /// marking at once never move it back.
    async fn mark_read(&self, staff: &StaffId, task: &TaskId, up_to: Timestamp) -> Result<(), StoreError> {
        let marker = ReadMarker {
            task_id: task.clone(),
            read_up_to: up_to,
        };
        let item = to_item(Key::read_marker(staff, task), &marker)?;
        let newer = item_absent()
            .or("#read_up_to < :read_up_to")
            .name("#read_up_to", "read_up_to")
            .value(":read_up_to", to_value(&up_to));
        // Refused: a marker at or past `up_to` is there already, which is what was asked.
        self.put_if(item, &newer).await.map(drop)
    }

    async fn read_markers(&self, staff: &StaffId, tasks: &[TaskId]) -> Result<HashMap<TaskId, Timestamp>, StoreError> {
        let keys = tasks.iter().map(|task| Key::read_marker(staff, task)).collect();
        let markers: Vec<ReadMarker> = self.get_many(keys).await?;
        Ok(markers
            .into_iter()
            .map(|marker| (marker.task_id, marker.read_up_to))
            .collect())
    }
}
