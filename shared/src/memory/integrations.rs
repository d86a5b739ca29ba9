//! Integrations (connected bots), listed by creation.

use async_trait::async_trait;

use super::{MemoryStore, Order, page_by_recency};
use crate::ids::IntegrationId;
use crate::model::Integration;
use crate::ports::{Conflict, IntegrationAdmin, IntegrationStore, Page, PageRequest, Record, StoreError};

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.state().integrations.get(id).cloned())
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.state()
            .integrations
            .insert(integration.id.clone(), integration.clone());
        Ok(())
    }
}

#[async_trait]
impl IntegrationAdmin for MemoryStore {
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError> {
        page_by_recency(self.state().integrations.values(), Order::OldestFirst, page)
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
