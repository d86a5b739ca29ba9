//! `/api/contacts`: the clients who wrote to a bot, with their Viber profile and the team's
//! sorting of them (group, labels, custom fields).
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/contacts?cursor=&limit=` | contacts, newest created first |
//! | `GET /api/contacts?group=&label=&cursor=&limit=` | contacts in the group and/or with the label, newest first by creation (from an index) |
//! | `GET /api/contacts/{id}` | a contact |
//! | `PATCH /api/contacts/{id}` | `{group?, labels?, fields?}`: `group: null` takes the contact out of its group; labels and fields replace the stored ones |

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::{ContactId, IntegrationId};
use shared::model::Contact;
use shared::ports::{ContactChange, ContactFilter};
use shared::rules;
use shared::time::Timestamp;

use crate::Api;
use crate::body::{json_body, present};
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::ok;
use crate::routes::common::{PageView, SignedUrl, tag_refusal};

const UNKNOWN: ApiError = ApiError::NotFound("contact");

/// A contact as the API shows it: its profile, never its bookkeeping (`current_task`,
/// `version`).
#[derive(Debug, Serialize)]
pub struct ContactView<'a> {
    pub id: &'a ContactId,
    pub integration_id: &'a IntegrationId,
    pub viber_user_id: &'a str,
    pub name: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub language: Option<&'a str>,
    pub country: Option<&'a str>,
    pub api_version: Option<u32>,
    pub phone: Option<&'a str>,
    pub subscribed: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The team's sorting: `null`, `[]` and `{}` when there is none.
    pub group: Option<&'a str>,
    pub labels: &'a [String],
    pub fields: &'a BTreeMap<String, String>,
    /// The copy of the avatar in the attachments bucket (never Viber's `avatar_url`, which the
    /// inbox's CSP does not load); `null` when there is none.
    pub avatar: Option<SignedUrl>,
}

impl<'a> From<&'a Contact> for ContactView<'a> {
    fn from(contact: &'a Contact) -> Self {
        Self {
            id: &contact.id,
            integration_id: &contact.integration_id,
            viber_user_id: &contact.viber_user_id,
            name: contact.name.as_deref(),
            avatar_url: contact.avatar_url.as_deref(),
            language: contact.language.as_deref(),
            country: contact.country.as_deref(),
            api_version: contact.api_version,
            phone: contact.phone.as_deref(),
            subscribed: contact.subscribed,
            created_at: contact.created_at,
            updated_at: contact.updated_at,
            group: contact.group.as_deref(),
            labels: &contact.labels,
            fields: &contact.fields,
            avatar: None,
        }
    }
}

/// `PATCH /api/contacts/{id}`: what is absent stays as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactPatch {
    #[serde(default, deserialize_with = "present")]
    group: Option<Option<String>>,
    labels: Option<Vec<String>>,
    fields: Option<BTreeMap<String, String>>,
}

impl ContactPatch {
    /// The change as stored: every value within its bounds (`rules::check_*`), else a 400 with
    /// the refusal's own code.
    fn checked(self) -> Result<ContactChange, ApiError> {
        if self.group.is_none() && self.labels.is_none() && self.fields.is_none() {
            return Err(ApiError::invalid_body("give at least one of group, labels, fields"));
        }
        let group = match self.group {
            Some(Some(raw)) => Some(Some(rules::check_group(&raw).map_err(|e| tag_refusal("", e))?)),
            other => other,
        };
        Ok(ContactChange {
            group,
            labels: self
                .labels
                .map(|raw| rules::check_labels(&raw))
                .transpose()
                .map_err(|e| tag_refusal("", e))?,
            fields: self
                .fields
                .map(|raw| rules::check_fields(&raw))
                .transpose()
                .map_err(|e| tag_refusal("", e))?,
        })
    }
}

/// `?group=&label=` of `GET /api/contacts`, each within the bounds a contact's can have.
fn contact_filter(params: &Params<'_>) -> Result<ContactFilter, ApiError> {
    let invalid = |name: &str, error: rules::TagError| ApiError::InvalidParameter(format!("{name}: {error}"));
    Ok(ContactFilter {
        group: params
            .get("group")?
            .map(|raw| rules::check_group(raw).map_err(|e| invalid("group", e)))
            .transpose()?,
        label: params
            .get("label")?
            .map(|raw| {
                rules::check_labels(&[raw.to_owned()])
                    .map(|mut labels| labels.remove(0))
                    .map_err(|e| invalid("label", e))
            })
            .transpose()?,
    })
}

impl Api {
    pub(crate) async fn list_contacts(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let filter = contact_filter(params)?;
        let contacts = if filter == ContactFilter::default() {
            self.store.list_contacts(&page).await
        } else {
            self.store.list_contacts_by(&filter, &page).await
        }
        .context("list contacts")?;
        let mut views = Vec::with_capacity(contacts.items.len());
        for contact in &contacts.items {
            views.push(self.contact_view(contact).await?);
        }
        Ok(ok(&PageView {
            items: views,
            next_cursor: contacts.next_cursor.clone(),
        }))
    }

    /// The contact with a fresh URL of its avatar copy.
    pub(crate) async fn contact_view<'a>(&self, contact: &'a Contact) -> Result<ContactView<'a>, ApiError> {
        let blob_key = contact.avatar.as_ref().and_then(|a| a.blob_key.as_deref());
        Ok(ContactView {
            avatar: self.avatar_url(blob_key).await?,
            ..ContactView::from(contact)
        })
    }

    pub(crate) async fn get_contact(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let id = ContactId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let contact = self
            .store
            .get_contact(&id)
            .await
            .context("get contact")?
            .ok_or(UNKNOWN)?;
        Ok(ok(&self.contact_view(&contact).await?))
    }

    /// Staff change a contact's group, labels or fields → the contact as `GET` shows it.
    pub(crate) async fn update_contact(&self, raw_id: &str, request: &Request) -> Result<Response<Body>, ApiError> {
        let id = ContactId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let change = json_body::<ContactPatch>(request)?.checked()?;
        let contact = self
            .store
            .update_contact(&id, &change, Timestamp::now())
            .await
            .context("update contact")?
            .ok_or(UNKNOWN)?;
        Ok(ok(&self.contact_view(&contact).await?))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    #[test]
    fn a_contact_shows_its_profile_but_not_its_bookkeeping() {
        let contact = Contact {
            id: ContactId::parse("c1").unwrap(),
            integration_id: IntegrationId::parse("acme").unwrap(),
            viber_user_id: "u==".into(),
            name: Some("Олена".into()),
            avatar_url: None,
            language: Some("uk".into()),
            country: Some("UA".into()),
            api_version: Some(10),
            phone: None,
            subscribed: true,
            subscription_changed_at: Some(at(5)),
            created_at: at(0),
            updated_at: at(1000),
            current_task: None,
            version: 3,
            avatar: None,
            group: Some("Retail clients".into()),
            labels: vec!["vip".into()],
            fields: [("source".to_owned(), "Viber bot Acme".to_owned())].into(),
        };
        assert_eq!(
            serde_json::to_value(ContactView::from(&contact)).unwrap(),
            json!({
                "id": "c1", "integration_id": "acme", "viber_user_id": "u==", "name": "Олена",
                "avatar_url": null, "language": "uk", "country": "UA", "api_version": 10, "phone": null,
                "subscribed": true, "created_at": "1970-01-01T00:00:00.000Z",
                "updated_at": "1970-01-01T00:00:01.000Z", "avatar": null,
                "group": "Retail clients", "labels": ["vip"], "fields": {"source": "Viber bot Acme"}
            })
        );
    }
}
