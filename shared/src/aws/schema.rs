//! The single table's key schema, as `infra/template.yaml` declares it (see docs/data-model.md).
//! Tests and the local stack against an emulator create the table from here.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";

/// Epoch seconds after which DynamoDB's TTL may delete an item (inbound dedup markers only).
pub const EXPIRES_AT: &str = "expires_at";

/// A global secondary index: a "newest first" list. The recency list sorts on
/// [`RECENCY_KEY`]; the requester list sorts on the task's creation, which never moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projection: IndexProjection,
}

/// What an index carries besides its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProjection {
    /// Whole records: a list page needs no second read per item.
    All,
    /// Only the keys: written only when they change, never by other updates of the item.
    KeysOnly,
}

/// `{millis, 13 digits}#{id}`: tasks by `last_message_at`, integrations, staff and quick replies
/// by `created_at`.
pub const RECENCY_KEY: &str = "gsi_sk";

/// Every task that is not deleted (`TASKS`), integration, staff member and quick reply.
pub const KIND_INDEX: Index = Index {
    name: "gsi1",
    partition_key: "gsi1pk",
    sort_key: RECENCY_KEY,
    projection: IndexProjection::All,
};
/// Lists by creation, keys only (the records are then read by key), so the messages that move a
/// task's other lists or rewrite a contact never write this one: a client's tasks
/// (`TASKREQUESTER#{contact_id}`) and every contact (`CONTACTS`).
pub const REQUESTER_INDEX: Index = Index {
    name: "gsi5",
    partition_key: "gsi5pk",
    sort_key: "gsi5sk",
    projection: IndexProjection::KeysOnly,
};

/// Contacts by the team's sorting, newest first by creation, keys only: a contact item in a
/// group carries `CONTACTGROUP#{group}`, and each of its labels has a small entry item in the
/// contact's partition carrying `CONTACTLABEL#{label}`. Written when a contact is created in a
/// group or with labels and when staff change them, never by the processor's later writes.
pub const CONTACT_SORTING_INDEX: Index = Index {
    name: "gsi6",
    partition_key: "gsi6pk",
    sort_key: "gsi6sk",
    projection: IndexProjection::KeysOnly,
};

/// Three indexes: a client message moves its task in one (`gsi1`), whichever list staff read;
/// narrower task lists (status, assignee, integration, search) filter `gsi1`'s list of every
/// task; `gsi5` lists a client's tasks and every contact and `gsi6` sorts contacts, neither
/// moved by a message (docs/data-model.md, docs/cost.md).
pub const INDEXES: [Index; 3] = [KIND_INDEX, REQUESTER_INDEX, CONTACT_SORTING_INDEX];

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn global_index(index: &Index) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(index.partition_key, KeyType::Hash))
        .key_schema(key(index.sort_key, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(match index.projection {
                    IndexProjection::All => ProjectionType::All,
                    IndexProjection::KeysOnly => ProjectionType::KeysOnly,
                })
                .build(),
        )
        .build()
        .expect("name and key schema are set")
}

/// Creates the table (on-demand, with its indexes and TTL) if it does not exist yet.
pub async fn create_table(client: &Client, table: &str) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PARTITION_KEY))
        .attribute_definitions(string_attribute(SORT_KEY))
        .attribute_definitions(string_attribute(RECENCY_KEY))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range));
    for index in &INDEXES {
        request = request
            .attribute_definitions(string_attribute(index.partition_key))
            .global_secondary_indexes(global_index(index));
        if index.sort_key != RECENCY_KEY {
            request = request.attribute_definitions(string_attribute(index.sort_key));
        }
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            // Already there (created by an earlier run), TTL included.
            return Ok(());
        }
        Err(error) => return Err(super::describe(&error)),
    }
    enable_ttl(client, table).await
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), String> {
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(EXPIRES_AT)
        .enabled(true)
        .build()
        .expect("name and flag are set");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|error| super::describe(&error))?;
    Ok(())
}
