//! Integrations (connected bots): listed in `gsi1` `INTEGRATIONS` by creation. The webhook and
//! the processor read them; the staff API creates, changes and disconnects them.

use async_trait::async_trait;

use super::keys::{Key, List, Listing};
use super::writes::{item_absent, item_exists};
use super::{DynamoStore, Item, Order, listed_item};
use crate::ids::IntegrationId;
use crate::model::Integration;
use crate::ports::{Conflict, IntegrationAdmin, IntegrationStore, Page, PageRequest, Record, StoreError};

fn integration_item(integration: &Integration) -> Result<Item, StoreError> {
    listed_item(
        Key::integration(&integration.id),
        integration,
        Listing::integration(integration),
    )
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.get(Key::integration(id)).await
    }

    /// Unconditional (`--viber-token` at start-up sets the bot whether or not it exists).
    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.put_item(integration_item(integration)?).await
    }
}

#[async_trait]
impl IntegrationAdmin for DynamoStore {
    async fn list_integrations(&self, page: &PageRequest) -> Result<Page<Integration>, StoreError> {
        self.list(&List::integrations(), Order::OldestFirst, page).await
    }

    async fn create_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        if self.put_if(integration_item(integration)?, &item_absent()).await? {
            Ok(())
        } else {
            Err(Conflict::AlreadyExists(Record::Integration(integration.id.clone())).into())
        }
    }

    /// Conditional on the item still existing: a change racing a disconnection never brings the
    /// integration back.
    async fn replace_integration(&self, integration: &Integration) -> Result<bool, StoreError> {
        self.put_if(integration_item(integration)?, &item_exists()).await
    }

    async fn delete_integration(&self, id: &IntegrationId) -> Result<bool, StoreError> {
        self.delete_item(Key::integration(id)).await
    }
}
