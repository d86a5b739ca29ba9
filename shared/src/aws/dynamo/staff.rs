//! Staff: members (listed in `gsi1` `STAFF` by creation), their token items, and the account's
//! owner marker. A change that could leave the account without an owner is one transaction
//! that checks another owner remains (docs/data-model.md, "Integrations, staff and the task
//! workflow").

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::keys::{Key, List, Listing};
use super::writes::{ATTEMPTS, Expression, item_absent, item_exists};
use super::{DynamoStore, Item, Order, from_item, listed_item, to_item, to_value};
use crate::ids::StaffId;
use crate::model::{Role, StaffMember};
use crate::ports::{
    Conflict, Page, PageRequest, Record, StaffAdmin, StaffChange, StaffOutcome, StaffStore, StoreError,
};

/// The staff item's copy of its token's hash, so removing the member removes the token item.
const TOKEN_HASH: &str = "token_hash";

/// A staff token item and the owner marker both name a member, and only that: a renamed member
/// has one source of truth.
#[derive(Serialize, Deserialize)]
struct StaffRef {
    staff_id: StaffId,
}

/// A staff item, listed in `gsi1` `STAFF` by creation time, with its token's hash.
fn staff_item(member: &StaffMember, token_hash: &str) -> Result<Item, StoreError> {
    let mut item = listed_item(Key::staff_member(&member.id), member, Listing::staff_member(member))?;
    item.insert(TOKEN_HASH.into(), AttributeValue::S(token_hash.to_owned()));
    Ok(item)
}

/// The member's own write is conditional on the role read, so a concurrent role change makes
/// the change decided again.
fn role_is(read: Role) -> Expression {
    item_exists()
        .and("#role = :read_role")
        .name("#role", "role")
        .value(":read_role", to_value(&read))
}

impl DynamoStore {
    /// Makes `id` the account's owner if it has none yet (the first owner created).
    async fn claim_ownership(&self, id: &StaffId) -> Result<(), StoreError> {
        let marker = to_item(Key::account_owner(), &StaffRef { staff_id: id.clone() })?;
        self.put_if(marker, &item_absent()).await?;
        Ok(())
    }

    async fn owner_marker(&self) -> Result<Option<StaffId>, StoreError> {
        let marker: Option<StaffRef> = self.get(Key::account_owner()).await?;
        Ok(marker.map(|marker| marker.staff_id))
    }

    fn still_owner(&self, id: &StaffId) -> TransactWriteItem {
        let condition = Expression::new("#role = :owner")
            .name("#role", "role")
            .value(":owner", to_value(&Role::Owner));
        self.check_op(Key::staff_member(id), &condition)
    }

    /// The owner marker names `successor` instead of `id` (only if it still names `id`).
    fn move_owner_marker(&self, id: &StaffId, successor: &StaffId) -> TransactWriteItem {
        let expression = Expression::new("#staff = :from")
            .name("#staff", "staff_id")
            .value(":from", AttributeValue::S(id.to_string()))
            .value(":to", AttributeValue::S(successor.to_string()));
        self.update_op(Key::account_owner(), "SET #staff = :to", &expression)
    }

    /// Every owner but `id`, oldest first (from the index: each is re-checked in the write).
    async fn other_owners(&self, id: &StaffId) -> Result<Vec<StaffId>, StoreError> {
        let mut owners = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let members = self.list_staff(&page).await?;
            owners.extend(
                members
                    .items
                    .into_iter()
                    .filter(|m| m.role == Role::Owner && &m.id != id)
                    .map(|m| m.id),
            );
            match members.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(owners),
            }
        }
    }

    /// Writes `change` (the member's own item write, first in the transaction) while making sure
    /// another owner remains when `member` stops being one. `None`: the member's item changed
    /// since it was read (read again); `Some(outcome)` otherwise.
    async fn without_losing_the_last_owner(
        &self,
        member: &StaffMember,
        change: TransactWriteItem,
        mut also: Vec<TransactWriteItem>,
        stays_owner: bool,
    ) -> Result<Option<StaffOutcome>, StoreError> {
        if member.role != Role::Owner || stays_owner {
            let mut items = vec![change];
            items.append(&mut also);
            return Ok(self.transact(items).await?.ok().map(|()| StaffOutcome::Done(None)));
        }
        let marker = self.owner_marker().await?;
        for successor in self.other_owners(&member.id).await? {
            let mut items = vec![change.clone(), self.still_owner(&successor)];
            if marker.as_ref() == Some(&member.id) {
                items.push(self.move_owner_marker(&member.id, &successor));
            }
            items.extend(also.iter().cloned());
            match self.transact(items).await? {
                Ok(()) => return Ok(Some(StaffOutcome::Done(None))),
                // That owner is not one any more: try the next.
                Err(refused) if !refused.failed(0) && refused.failed(1) && !refused.failed(2) => continue,
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(StaffOutcome::LastOwner))
    }
}

#[async_trait]
impl StaffStore for DynamoStore {
    /// The member item, then the token item, then the account's owner marker if this is its
    /// first owner.
    async fn put_staff(&self, member: &StaffMember, token_hash: &str) -> Result<(), StoreError> {
        self.put_item(staff_item(member, token_hash)?).await?;
        let token = StaffRef {
            staff_id: member.id.clone(),
        };
        self.put(Key::staff_token(token_hash), &token).await?;
        if member.role == Role::Owner {
            self.claim_ownership(&member.id).await?;
        }
        Ok(())
    }

    async fn staff_by_token_hash(&self, token_hash: &str) -> Result<Option<StaffMember>, StoreError> {
        match self.get::<StaffRef>(Key::staff_token(token_hash)).await? {
            Some(token) => self.get_staff(&token.staff_id).await,
            None => Ok(None),
        }
    }

    async fn get_staff(&self, id: &StaffId) -> Result<Option<StaffMember>, StoreError> {
        self.get(Key::staff_member(id)).await
    }

    async fn account_owner(&self) -> Result<Option<StaffMember>, StoreError> {
        match self.owner_marker().await? {
            Some(id) => self.get_staff(&id).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl StaffAdmin for DynamoStore {
    async fn list_staff(&self, page: &PageRequest) -> Result<Page<StaffMember>, StoreError> {
        self.list(&List::staff(), Order::OldestFirst, page).await
    }

    async fn update_staff(&self, id: &StaffId, change: &StaffChange) -> Result<StaffOutcome, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(member) = self.get::<StaffMember>(Key::staff_member(id)).await? else {
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
            let expression = role_is(member.role)
                .name("#name", "name")
                .name("#avatar", "avatar_url")
                .value(":role", to_value(&changed.role))
                .value(":name", AttributeValue::S(changed.name.clone()))
                .value(":avatar", to_value(&changed.avatar_url));
            let write = self.update_op(
                Key::staff_member(id),
                "SET #role = :role, #name = :name, #avatar = :avatar",
                &expression,
            );
            let stays_owner = changed.role == Role::Owner;
            match self
                .without_losing_the_last_owner(&member, write, Vec::new(), stays_owner)
                .await?
            {
                Some(StaffOutcome::Done(_)) => {
                    if changed.role == Role::Owner && member.role != Role::Owner {
                        // The account's first owner, if it had none (as `put_staff` does).
                        self.claim_ownership(id).await?;
                    }
                    return Ok(StaffOutcome::Done(Some(changed)));
                }
                Some(other) => return Ok(other),
                None => continue,
            }
        }
        Err(Conflict::KeptChanging(Record::StaffMember(id.clone())).into())
    }

    async fn delete_staff(&self, id: &StaffId) -> Result<StaffOutcome, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(item) = self.get_item(Key::staff_member(id)).await? else {
                return Ok(StaffOutcome::NotFound);
            };
            let token_hash = item.get(TOKEN_HASH).and_then(|v| v.as_s().ok()).cloned();
            let member: StaffMember = from_item(item)?;
            let write = self.delete_op(Key::staff_member(id), Some(&role_is(member.role)));
            let also: Vec<TransactWriteItem> = token_hash
                .iter()
                .map(|hash| self.delete_op(Key::staff_token(hash), None))
                .collect();
            match self.without_losing_the_last_owner(&member, write, also, false).await? {
                Some(outcome) => return Ok(outcome),
                None => continue,
            }
        }
        Err(Conflict::KeptChanging(Record::StaffMember(id.clone())).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_write_holds_only_while_the_role_read_is_unchanged() {
        let condition = role_is(Role::Owner);
        assert_eq!(condition.text, "attribute_exists(pk) AND #role = :read_role");
        assert_eq!(condition.values().unwrap()[":read_role"], to_value(&Role::Owner));
    }

    #[test]
    fn a_staff_item_is_listed_and_keeps_its_tokens_hash() {
        let member = StaffMember {
            id: StaffId::parse("s1").unwrap(),
            name: "Olga".into(),
            avatar_url: None,
            role: Role::Staff,
            created_at: crate::time::Timestamp::from_millis(5),
        };
        let item = staff_item(&member, "ab12").unwrap();
        assert_eq!(item["pk"], AttributeValue::S("STAFF#s1".into()));
        assert_eq!(item["gsi1pk"], AttributeValue::S("STAFF".into()));
        assert_eq!(item[TOKEN_HASH], AttributeValue::S("ab12".into()));
    }
}
