//! The DynamoDB adapter of the store ports (single-table design, see docs/data-model.md).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::describe;
use super::schema::{PARTITION_KEY, SORT_KEY};
use crate::ids::IntegrationId;
use crate::model::{Integration, StaffMember};
use crate::ports::{IntegrationStore, StaffStore, StoreError};

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens the connection (TLS, credentials) during INIT so the first real request does not
    /// pay for it. A failure is only logged: the request path reports real errors.
    pub async fn warm_up(&self) {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S("WARMUP".into()))
            .key(SORT_KEY, AttributeValue::S("WARMUP".into()))
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %describe(&error), "DynamoDB warm-up failed");
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(pk))
            .key(SORT_KEY, AttributeValue::S(sk.to_owned()))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        output.item.map(from_item).transpose()
    }

    async fn put<T: Serialize>(&self, pk: String, sk: &str, value: &T) -> Result<(), StoreError> {
        let item = to_item(pk, sk, value)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(describe(&e)))?;
        Ok(())
    }
}

fn to_item<T: Serialize>(pk: String, sk: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert(PARTITION_KEY.into(), AttributeValue::S(pk));
    item.insert(SORT_KEY.into(), AttributeValue::S(sk.to_owned()));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn integration_pk(id: &IntegrationId) -> String {
    format!("INTEGRATION#{id}")
}

fn staff_token_pk(token_hash: &str) -> String {
    format!("STAFFTOKEN#{token_hash}")
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn get_integration(&self, id: &IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.get(integration_pk(id), "INTEGRATION").await
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.put(integration_pk(&integration.id), "INTEGRATION", integration)
            .await
    }
}

#[async_trait]
impl StaffStore for DynamoStore {
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        self.put(staff_token_pk(token_hash), "STAFFTOKEN", member)
            .await
    }

    async fn staff_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<StaffMember>, StoreError> {
        self.get(staff_token_pk(token_hash), "STAFFTOKEN").await
    }
}
