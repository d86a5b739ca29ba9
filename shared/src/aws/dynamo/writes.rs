//! Conditional writes: condition and update expressions, transaction items, the one way a write
//! refused by a condition is recognised, and the one retry limit of read-decide-write cycles.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::keys::Key;
use super::{DynamoStore, Item, unavailable};
use crate::aws::schema::PARTITION_KEY;
use crate::ports::{Conflict, StoreError};

/// How often a read-decide-write cycle (a staff change, a task change) runs before giving up
/// when what it read keeps changing under it.
pub(super) const ATTEMPTS: usize = 5;

/// A condition / update expression with its placeholders. DynamoDB refuses empty placeholder
/// maps, hence the `Option`s when handing them over.
#[derive(Debug, Clone, Default)]
pub(super) struct Expression {
    pub text: String,
    names: HashMap<String, String>,
    values: Item,
}

impl Expression {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// This condition and `condition` too.
    pub fn and(mut self, condition: &str) -> Self {
        self.text.push_str(" AND ");
        self.text.push_str(condition);
        self
    }

    /// This condition or `condition`.
    pub fn or(mut self, condition: &str) -> Self {
        self.text = format!("({}) OR ({condition})", self.text);
        self
    }

    pub fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.into(), name.into());
        self
    }

    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Hands `expression` to an SDK request or transaction item builder as its condition, with its
/// placeholders (the builders share these methods but no trait).
macro_rules! with_condition {
    ($builder:expr, $expression:expr) => {{
        let expression: &Expression = $expression;
        $builder
            .condition_expression(&expression.text)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
    }};
}

/// The item does not exist yet (a create).
pub(super) fn item_absent() -> Expression {
    Expression::new(format!("attribute_not_exists({PARTITION_KEY})"))
}

/// The item exists (a change that must not bring back a removed item).
pub(super) fn item_exists() -> Expression {
    Expression::new(format!("attribute_exists({PARTITION_KEY})"))
}

/// A write that a condition refused: for each item of the request (one for a single-item write),
/// whether its condition failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refused(Vec<bool>);

impl Refused {
    /// Whether the condition of the request's item `index` failed.
    pub fn failed(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }

    /// What the first refused item means, given what a refusal of each item means (`None` for an
    /// item whose refusal is no conflict, or which has no condition).
    pub fn conflict(&self, meanings: &[Option<Conflict>]) -> Option<Conflict> {
        let first = self.0.iter().position(|failed| *failed)?;
        meanings.get(first).cloned().flatten()
    }
}

/// The service error of a conditional write, read one way: `Some` when conditions refused it.
pub(super) trait ConditionalError {
    fn refused(&self) -> Option<Refused>;
}

impl ConditionalError for PutItemError {
    fn refused(&self) -> Option<Refused> {
        self.is_conditional_check_failed_exception()
            .then(|| Refused(vec![true]))
    }
}

impl ConditionalError for UpdateItemError {
    fn refused(&self) -> Option<Refused> {
        self.is_conditional_check_failed_exception()
            .then(|| Refused(vec![true]))
    }
}

impl ConditionalError for TransactWriteItemsError {
    /// A cancelled transaction lists a reason per item, in the request's order. Cancelled for
    /// another reason only (a concurrent transaction, throttling) is no refusal: retry later.
    fn refused(&self) -> Option<Refused> {
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = self else {
            return None;
        };
        let failed: Vec<bool> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code() == Some("ConditionalCheckFailed"))
            .collect();
        failed.contains(&true).then_some(Refused(failed))
    }
}

/// A conditional write's answer: `Ok(Ok(output))` written, `Ok(Err(refused))` refused by a
/// condition, `Err(Unavailable)` for anything else (retrying may help).
pub(super) fn conditional<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Result<T, Refused>, StoreError>
where
    E: ConditionalError + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(output) => Ok(Ok(output)),
        Err(error) => match error.as_service_error().and_then(ConditionalError::refused) {
            Some(refused) => Ok(Err(refused)),
            None => Err(unavailable(&error)),
        },
    }
}

impl DynamoStore {
    /// Puts `item` (if `condition` holds), in a transaction.
    pub(super) fn put_op(&self, item: Item, condition: Option<&Expression>) -> TransactWriteItem {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(condition) = condition {
            put = with_condition!(put, condition);
        }
        let put = put.build().expect("table and item are set");
        TransactWriteItem::builder().put(put).build()
    }

    /// Updates the item at `key` with `update` if `expression`'s condition holds, in a transaction.
    pub(super) fn update_op(&self, key: Key, update: &str, expression: &Expression) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .update_expression(update);
        let update = with_condition!(update, expression)
            .build()
            .expect("table, key and expression are set");
        TransactWriteItem::builder().update(update).build()
    }

    /// Deletes the item at `key` (if `condition` holds), in a transaction.
    pub(super) fn delete_op(&self, key: Key, condition: Option<&Expression>) -> TransactWriteItem {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key.into_item()));
        if let Some(condition) = condition {
            delete = with_condition!(delete, condition);
        }
        TransactWriteItem::builder()
            .delete(delete.build().expect("table and key are set"))
            .build()
    }

    /// A transaction's check that `condition` holds for the item at `key`, which it leaves as is.
    pub(super) fn check_op(&self, key: Key, condition: &Expression) -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key.into_item()));
        let check = with_condition!(check, condition)
            .build()
            .expect("table, key and condition are set");
        TransactWriteItem::builder().condition_check(check).build()
    }

    /// Writes `items` all or nothing; `Ok(Err(refused))` says which conditions refused them.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Refused>, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        Ok(conditional(result)?.map(|_| ()))
    }

    /// Puts `item` if `condition` holds; `false` when it did not.
    pub(super) async fn put_if(&self, item: Item, condition: &Expression) -> Result<bool, StoreError> {
        let request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let result = with_condition!(request, condition).send().await;
        Ok(conditional(result)?.is_ok())
    }

    /// Updates the item at `key` if `expression`'s condition holds; `false` when it did not.
    pub(super) async fn update_if(&self, key: Key, update: &str, expression: &Expression) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .update_expression(update);
        let result = with_condition!(request, expression).send().await;
        Ok(conditional(result)?.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, TransactionCanceledException};

    use super::*;
    use crate::ids::TaskId;

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|code| CancellationReason::builder().code(*code).build())
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    }

    #[test]
    fn a_cancelled_transaction_tells_which_conditions_failed() {
        let refused = cancelled(&["None", "ConditionalCheckFailed", "None"])
            .refused()
            .unwrap();
        assert_eq!(refused, Refused(vec![false, true, false]));
        assert!(refused.failed(1));
        assert!(!refused.failed(0));
        assert!(!refused.failed(7));
    }

    #[test]
    fn a_transaction_cancelled_for_other_reasons_is_no_refusal() {
        assert_eq!(cancelled(&["None", "TransactionConflict"]).refused(), None);
        assert_eq!(cancelled(&["ThrottlingError"]).refused(), None);
    }

    #[test]
    fn a_single_item_write_is_refused_by_its_conditional_check() {
        let failed = ConditionalCheckFailedException::builder().build();
        assert_eq!(
            PutItemError::ConditionalCheckFailedException(failed.clone()).refused(),
            Some(Refused(vec![true]))
        );
        assert_eq!(
            UpdateItemError::ConditionalCheckFailedException(failed).refused(),
            Some(Refused(vec![true]))
        );
    }

    #[test]
    fn the_first_refused_item_says_what_conflicted() {
        let task = TaskId::parse("t1").unwrap();
        let meanings = [
            None,
            Some(Conflict::TaskGone(task.clone())),
            Some(Conflict::TaskChanged(task.clone())),
        ];
        assert_eq!(
            Refused(vec![false, true, true]).conflict(&meanings),
            Some(Conflict::TaskGone(task.clone()))
        );
        assert_eq!(
            Refused(vec![false, false, true]).conflict(&meanings),
            Some(Conflict::TaskChanged(task))
        );
        assert_eq!(Refused(vec![true, true]).conflict(&meanings), None);
    }

    #[test]
    fn an_expression_hands_over_no_empty_placeholder_maps() {
        let condition = item_absent();
        assert_eq!(condition.text, "attribute_not_exists(pk)");
        assert_eq!((condition.names(), condition.values()), (None, None));
        assert_eq!(item_exists().text, "attribute_exists(pk)");
        assert_eq!(item_exists().and("#a = :a").text, "attribute_exists(pk) AND #a = :a");
        let named = Expression::new("#a = :a")
            .name("#a", "status")
            .value(":a", AttributeValue::S("new".into()));
        assert_eq!(named.names().unwrap()["#a"], "status");
        assert_eq!(named.values().unwrap()[":a"], AttributeValue::S("new".into()));
    }
}
