//! DynamoDB capacity units of the requests a bench counted, computed from item sizes (moto
//! answers `ReturnConsumedCapacity=TOTAL` with fixed figures, 1 per write and 0.5 per read,
//! whatever the item sizes and indexes, so they are not used).
//!
//! The rules, from DynamoDB's documentation (docs/cost.md, "DynamoDB units"):
//! - a read: 1 RRU per 4 KB of the item (strongly consistent), half of it eventually consistent;
//!   a Query by the size of the items it returns;
//! - a write: 1 WRU per 1 KB of the larger of the item before and after, twice that inside a
//!   transaction (a `ConditionCheck` too); a refused write is charged for the item as it was;
//! - an index entry: written when the item enters the index (its projected size), deleted when
//!   it leaves, both when its index key changes, rewritten when only its projected attributes
//!   change; index writes are never doubled by a transaction.
//!
//! The meter keeps a copy of the table (one Scan, uncounted) and, after each measured call,
//! re-reads the items the counted requests touched (uncounted), so it knows every written item
//! before and after.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shared::aws::schema::{INDEXES, IndexProjection, PARTITION_KEY, SORT_KEY};

use crate::aws_requests::{DynamoRequest, RequestCounter};

type Item = HashMap<String, AttributeValue>;
type Key = (String, String);

/// Capacity units consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Self) {
        self.read += other.read;
        self.write += other.write;
    }
}

/// The size DynamoDB bills for an attribute value (without its name).
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(list) => list.iter().map(String::len).sum(),
        AttributeValue::Ns(list) => list.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(list) => list.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        _ => 0,
    }
}

/// A number: one byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let digits = n.trim_start_matches('-').replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
    significant.div_ceil(2) + 1
}

/// The billed size of the attributes `selected` lets through.
fn size_of(item: &Item, selected: impl Fn(&str) -> bool) -> usize {
    item.iter()
        .filter(|(name, _)| selected(name))
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn item_size(item: &Item) -> usize {
    size_of(item, |_| true)
}

/// The size in DynamoDB JSON (a Query's answer): the same rules over the wire format.
fn json_value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => b.len() * 3 / 4,
        ("BOOL" | "NULL", _) => 1,
        ("L", Value::Array(list)) => 3 + list.iter().map(|v| 1 + json_value_size(v)).sum::<usize>(),
        ("M", Value::Object(map)) => 3 + map.iter().map(|(k, v)| 1 + k.len() + json_value_size(v)).sum::<usize>(),
        ("SS" | "NS", Value::Array(list)) => list.iter().map(|v| v.as_str().map_or(0, str::len)).sum(),
        _ => 0,
    }
}

fn json_item_size(item: &Value) -> usize {
    item.as_object()
        .map_or(0, |o| o.iter().map(|(k, v)| k.len() + json_value_size(v)).sum())
}

fn units(size: usize, unit: usize) -> f64 {
    size.div_ceil(unit).max(1) as f64
}

fn json_key(key: &Value) -> Option<Key> {
    let text = |name: &str| key.get(name)?.get("S")?.as_str().map(str::to_owned);
    Some((text(PARTITION_KEY)?, text(SORT_KEY)?))
}

fn item_key(item: &Item) -> Option<Key> {
    let text = |name: &str| item.get(name)?.as_s().ok().cloned();
    Some((text(PARTITION_KEY)?, text(SORT_KEY)?))
}

/// An item's entry in an index: its index key and its projected size; `None` when the item is
/// not in the index (an index is sparse: only items with both its key attributes).
fn index_entry(item: &Item, index: &shared::aws::schema::Index) -> Option<(Key, usize, Item)> {
    let pk = item.get(index.partition_key)?.as_s().ok()?.clone();
    let sk = item.get(index.sort_key)?.as_s().ok()?.clone();
    let keys = [PARTITION_KEY, SORT_KEY, index.partition_key, index.sort_key];
    let projected: Item = match index.projection {
        IndexProjection::All => item.clone(),
        IndexProjection::KeysOnly => item
            .iter()
            .filter(|(name, _)| keys.contains(&name.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
    };
    let size = item_size(&projected);
    Some(((pk, sk), size, projected))
}

/// Index writes caused by an item going from `before` to `after`.
fn index_units(before: Option<&Item>, after: Option<&Item>) -> f64 {
    let mut total = 0.0;
    for index in INDEXES.iter() {
        let old = before.and_then(|item| index_entry(item, index));
        let new = after.and_then(|item| index_entry(item, index));
        total += match (old, new) {
            (None, None) => 0.0,
            (Some((_, size, _)), None) | (None, Some((_, size, _))) => units(size, 1024),
            (Some((old_key, old_size, old_item)), Some((new_key, new_size, new_item))) => {
                if old_key != new_key {
                    units(old_size, 1024) + units(new_size, 1024)
                } else if old_item != new_item {
                    units(old_size.max(new_size), 1024)
                } else {
                    0.0
                }
            }
        };
    }
    total
}

/// Meters the capacity of the DynamoDB requests a [`RequestCounter`] captured.
pub struct CapacityMeter {
    client: aws_sdk_dynamodb::Client,
    table: String,
    counter: RequestCounter,
    items: HashMap<Key, Item>,
}

impl CapacityMeter {
    /// `client` must not be counted: the meter's own reads are not the code's.
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str, counter: &RequestCounter) -> Self {
        Self {
            client,
            table: table.to_owned(),
            counter: counter.clone(),
            items: HashMap::new(),
        }
    }

    /// Copies the whole table and forgets what was captured so far: the next [`Self::settle`]
    /// measures from here.
    pub async fn resync(&mut self) -> Result<(), String> {
        self.counter.take_dynamo();
        self.items.clear();
        let mut start = None;
        for _ in 0..10_000 {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("scan: {e:?}"))?;
            for item in page.items.unwrap_or_default() {
                if let Some(key) = item_key(&item) {
                    self.items.insert(key, item);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(());
            }
        }
        Err("the table did not fit 10,000 scan pages".into())
    }

    /// The units of the requests captured since the last call, with the table copy moved on to
    /// the items' state after them.
    pub async fn settle(&mut self) -> Result<Units, String> {
        let requests = self.counter.take_dynamo();
        let mut total = Units::default();
        // Written keys, each with whether a transaction wrote it; refused writes are charged for
        // the item as it was and write no index entry.
        let mut written: Vec<(Key, bool)> = Vec::new();
        for request in &requests {
            total += self.charge(request, &mut written);
        }
        for (key, transactional) in written {
            let after = self.read(&key).await?;
            let before = self.items.get(&key);
            let size = before.map_or(0, item_size).max(after.as_ref().map_or(0, item_size));
            total.write += units(size, 1024) * if transactional { 2.0 } else { 1.0 };
            total.write += index_units(before, after.as_ref());
            match after {
                Some(item) => self.items.insert(key, item),
                None => self.items.remove(&key),
            };
        }
        Ok(total)
    }

    async fn read(&self, key: &Key) -> Result<Option<Item>, String> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.0.clone()))
            .key(SORT_KEY, AttributeValue::S(key.1.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("get: {e:?}"))?;
        Ok(answer.item)
    }

    fn size_now(&self, key: &Option<Key>) -> usize {
        key.as_ref().and_then(|k| self.items.get(k)).map_or(0, item_size)
    }

    /// The read units of `request`, and the keys it wrote (charged in `settle`, once their new
    /// state is read) or the write units it was refused with.
    fn charge(&self, request: &DynamoRequest, written: &mut Vec<(Key, bool)>) -> Units {
        let body = &request.body;
        let consistent = |b: &Value| b.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
        let read_units = |size: usize, consistent: bool| units(size, 4096) * if consistent { 1.0 } else { 0.5 };
        let mut total = Units::default();
        match request.operation.as_str() {
            "GetItem" => {
                total.read += read_units(self.size_now(&body.get("Key").and_then(json_key)), consistent(body));
            }
            "BatchGetItem" => {
                for table in body["RequestItems"].as_object().into_iter().flat_map(|o| o.values()) {
                    for key in table["Keys"].as_array().into_iter().flatten() {
                        total.read += read_units(self.size_now(&json_key(key)), consistent(table));
                    }
                }
            }
            "Query" | "Scan" => {
                // Billed by the items read; counted here by those returned, which is the same
                // without a FilterExpression (the processor and the sender use none; a filtered
                // task list would be undercounted).
                let size: usize = request
                    .response
                    .as_ref()
                    .and_then(|r| r["Items"].as_array())
                    .map_or(0, |items| items.iter().map(json_item_size).sum());
                total.read += read_units(size, consistent(body));
            }
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let key = body
                    .get("Key")
                    .and_then(json_key)
                    .or_else(|| body.get("Item").and_then(json_key));
                if let Some(key) = key {
                    if request.succeeded {
                        written.push((key, false));
                    } else {
                        total.write += units(self.size_now(&Some(key)), 1024);
                    }
                }
            }
            "TransactWriteItems" => {
                for element in body["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, op)) = element.as_object().and_then(|o| o.iter().next()) else {
                        continue;
                    };
                    let key = op
                        .get("Key")
                        .and_then(json_key)
                        .or_else(|| op.get("Item").and_then(json_key));
                    let Some(key) = key else { continue };
                    if kind == "ConditionCheck" || !request.succeeded {
                        total.write += 2.0 * units(self.size_now(&Some(key)), 1024);
                    } else {
                        written.push((key, true));
                    }
                }
            }
            _ => {}
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(number_size("1732528955210"), 7);
        assert_eq!(number_size("100"), 2);
        let item: Item = [
            ("pk".to_owned(), AttributeValue::S("TASK#t1".into())),
            ("n".to_owned(), AttributeValue::N("12".into())),
        ]
        .into();
        assert_eq!(item_size(&item), 2 + 7 + 1 + 2);
        assert_eq!(units(0, 1024), 1.0);
        assert_eq!(units(1025, 1024), 2.0);
    }

    #[test]
    fn a_keys_only_entry_is_written_when_the_item_enters_the_index_not_when_it_changes() {
        let contact = |name: &str| -> Item {
            [
                ("pk", "CONTACT#c1"),
                ("sk", "CONTACT"),
                ("gsi5pk", "CONTACTS"),
                ("gsi5sk", "0000000000042#c1"),
                ("name", name),
            ]
            .into_iter()
            .map(|(n, v)| (n.to_owned(), AttributeValue::S(v.to_owned())))
            .collect()
        };
        assert_eq!(index_units(None, Some(&contact("Олена"))), 1.0);
        assert_eq!(index_units(Some(&contact("Олена")), Some(&contact("Олена К."))), 0.0);
        let mut old_style = contact("Олена");
        old_style.insert("gsi1pk".into(), AttributeValue::S("CONTACTS".into()));
        old_style.insert("gsi_sk".into(), AttributeValue::S("0000000000042#c1".into()));
        assert_eq!(
            index_units(Some(&old_style), Some(&contact("Олена"))),
            1.0,
            "leaving gsi1: its entry is deleted"
        );
    }
}
