//! The DynamoDB adapter of the store ports: one table, described in docs/data-model.md.
//!
//! This module holds the client wrapper, item (de)serialisation and pagination. Each record kind
//! has its own module; the key scheme lives in `keys`, conditional writes (and the one way a
//! refused condition is recognised) in `writes`, and a client message's transaction, which
//! spans several kinds, in `messages`.

mod attachments;
mod comments;
mod contacts;
mod integrations;
mod keys;
mod messages;
mod quick_replies;
mod read_markers;
mod staff;
mod tasks;
mod writes;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::describe;
use super::schema::RECENCY_KEY;
use crate::ports::{Page, PageRequest, StoreError, decode_cursor, encode_cursor};
use keys::{Key, List, Listing};

type Item = HashMap<String, AttributeValue>;

/// The most keys one `BatchGetItem` takes.
const BATCH_GET_MAX: usize = 100;

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
            .set_key(Some(Key::warm_up().into_item()))
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %describe(&error), "DynamoDB warm-up failed");
        }
    }

    /// Reads one item. Strongly consistent: a read that precedes a conditional write (contact
    /// version, task state) would otherwise cause needless conflicts.
    async fn get_item(&self, key: Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(output.item)
    }

    async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>, StoreError> {
        self.get_item(key).await?.map(from_item).transpose()
    }

    /// The items at `keys` (those that exist), in any order: `BatchGetItem` in batches of 100,
    /// asking again for what DynamoDB leaves unprocessed (a few times, then `Unavailable`).
    async fn get_many<T: DeserializeOwned>(&self, keys: Vec<Key>) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<Item> = chunk.iter().cloned().map(Key::into_item).collect();
            for _ in 0..writes::ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(false)
                    .build()
                    .map_err(|error| StoreError::Unavailable(describe(&error)))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|error| unavailable(&error))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    found.push(from_item(item)?);
                }
                pending = output
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|unprocessed| unprocessed.keys)
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "{} keys left unprocessed by BatchGetItem",
                    pending.len()
                )));
            }
        }
        Ok(found)
    }

    async fn put<T: Serialize>(&self, key: Key, value: &T) -> Result<(), StoreError> {
        self.put_item(to_item(key, value)?).await
    }

    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(())
    }

    /// Deletes one item; `false` when there was none (`ReturnValues=ALL_OLD` tells, with no read).
    async fn delete_item(&self, key: Key) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }
}

/// A request that failed for a reason other than a condition: retrying may help.
fn unavailable<E: std::error::Error>(error: &E) -> StoreError {
    StoreError::Unavailable(describe(error))
}

fn to_item<T: Serialize>(key: Key, value: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.extend(key.into_item());
    Ok(item)
}

/// An item that appears in lists: its record, its key and its index keys.
fn listed_item<T: Serialize>(key: Key, value: &T, listing: Listing) -> Result<Item, StoreError> {
    let mut item = to_item(key, value)?;
    item.extend(listing.into_attributes());
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_value<T: Serialize>(value: &T) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).expect("statuses and timestamps always serialise")
}

// ---- Pagination ----

/// The order a list is read in (every index sorts by recency key, see `keys::recency_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

/// With a filter DynamoDB's `Limit` counts items before filtering, so each request then reads a
/// larger batch to need fewer round trips.
const FILTERED_BATCH: usize = 100;

/// How many items to ask for when `wanted` more matches are needed.
fn batch_size(wanted: usize, filtered: bool) -> usize {
    if filtered { wanted.max(FILTERED_BATCH) } else { wanted }
}

fn string_attribute(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!("item without a string {name}"))),
    }
}

/// The cursor of the page that ends with `items`: the last item's `cursor_attribute`, when more
/// items match.
fn next_cursor(items: &[Item], more: bool, cursor_attribute: &str) -> Result<Option<String>, StoreError> {
    match items.last() {
        Some(last) if more => Ok(Some(encode_cursor(&string_attribute(last, cursor_attribute)?))),
        _ => Ok(None),
    }
}

impl DynamoStore {
    /// One list's items in `order`, after the cursor's key when one is given.
    fn list_query(&self, list: &List, order: Order, cursor: Option<&str>) -> Result<QueryFluentBuilder, StoreError> {
        let mut condition = "#pk = :pk".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(list.index.name)
            .scan_index_forward(order == Order::OldestFirst)
            .expression_attribute_names("#pk", list.index.partition_key)
            .expression_attribute_values(":pk", AttributeValue::S(list.partition.clone()));
        if let Some(cursor) = cursor {
            // Recency keys are unique (they end in the id), so "past the last one shown"
            // resumes exactly, even if that item changed since.
            condition.push_str(match order {
                Order::NewestFirst => " AND #sk < :after",
                Order::OldestFirst => " AND #sk > :after",
            });
            query = query
                .expression_attribute_names("#sk", list.index.sort_key)
                .expression_attribute_values(":after", AttributeValue::S(decode_cursor(cursor)?));
        }
        Ok(query.key_condition_expression(condition))
    }

    /// One page of a list read without a filter.
    async fn list<T: DeserializeOwned>(
        &self,
        list: &List,
        order: Order,
        page: &PageRequest,
    ) -> Result<Page<T>, StoreError> {
        let query = self.list_query(list, order, page.cursor.as_deref())?;
        self.page(query, None, page, RECENCY_KEY, false).await
    }

    /// Runs `query` until `limit` items (plus one to learn whether more exist) are collected or
    /// the results end. Returns the items and whether more match.
    async fn collect(
        &self,
        query: QueryFluentBuilder,
        mut start: Option<Item>,
        limit: usize,
        filtered: bool,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = Vec::new();
        loop {
            let batch = batch_size(limit + 1 - items.len(), filtered);
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .limit(i32::try_from(batch).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|error| unavailable(&error))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if items.len() > limit || start.is_none() {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }

    /// One page of `query`'s results, read as `limit + 1` items: the extra one only says whether
    /// a next page exists. The cursor is the last item's `cursor_attribute`.
    async fn page<T: DeserializeOwned>(
        &self,
        query: QueryFluentBuilder,
        start: Option<Item>,
        page: &PageRequest,
        cursor_attribute: &str,
        filtered: bool,
    ) -> Result<Page<T>, StoreError> {
        let (items, more) = self.collect(query, start, page.limit.max(1), filtered).await?;
        let next_cursor = next_cursor(&items, more, cursor_attribute)?;
        let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item_with(name: &str, value: &str) -> Item {
        Item::from([(name.to_owned(), AttributeValue::S(value.to_owned()))])
    }

    #[test]
    fn a_filtered_list_reads_large_batches_an_unfiltered_one_what_it_needs() {
        assert_eq!(batch_size(11, false), 11);
        assert_eq!(batch_size(11, true), FILTERED_BATCH);
        assert_eq!(batch_size(FILTERED_BATCH + 1, true), FILTERED_BATCH + 1);
    }

    #[test]
    fn the_next_cursor_is_the_last_items_sort_key_only_when_more_match() {
        let items = [
            item_with(RECENCY_KEY, "0000000000001#a"),
            item_with(RECENCY_KEY, "0000000000002#b"),
        ];
        let cursor = next_cursor(&items, true, RECENCY_KEY).unwrap().unwrap();
        assert_eq!(decode_cursor(&cursor).unwrap(), "0000000000002#b");
        assert_eq!(next_cursor(&items, false, RECENCY_KEY).unwrap(), None);
        assert_eq!(next_cursor(&[], true, RECENCY_KEY).unwrap(), None);
    }

    #[test]
    fn an_item_without_its_sort_key_is_corrupt() {
        let items = [item_with("other", "x")];
        assert!(matches!(
            next_cursor(&items, true, RECENCY_KEY),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn an_item_carries_its_key_and_listing() {
        #[derive(Serialize)]
        struct Record {
            name: &'static str,
        }
        let key = Key::quick_reply(&crate::ids::QuickReplyId::parse("q1").unwrap());
        let listing = Listing::new(
            vec![List::quick_replies()],
            crate::time::Timestamp::from_millis(7),
            "q1",
        );
        let item = listed_item(key, &Record { name: "x" }, listing).unwrap();
        assert_eq!(string_attribute(&item, "pk").unwrap(), "QUICKREPLY#q1");
        assert_eq!(string_attribute(&item, "sk").unwrap(), "QUICKREPLY");
        assert_eq!(string_attribute(&item, "name").unwrap(), "x");
        assert_eq!(string_attribute(&item, "gsi1pk").unwrap(), "QUICKREPLIES");
        assert_eq!(string_attribute(&item, RECENCY_KEY).unwrap(), "0000000000007#q1");
    }
}
