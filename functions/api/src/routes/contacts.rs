//! `/api/contacts`: the clients who wrote to a bot, with their Viber profile.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/contacts?cursor=&limit=` | contacts, most recently updated first |
//! | `GET /api/contacts/{id}` | a contact |

use lambda_http::{Body, Response};
use serde::Serialize;
use shared::ids::{ContactId, IntegrationId};
use shared::model::Contact;
use shared::time::Timestamp;

use crate::Api;
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::ok;
use crate::routes::common::{PageView, SignedUrl};

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
            avatar: None,
        }
    }
}

impl Api {
    pub(crate) async fn list_contacts(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let contacts = self.store.list_contacts(&page).await.context("list contacts")?;
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
        const UNKNOWN: ApiError = ApiError::NotFound("contact");
        let id = ContactId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let contact = self
            .store
            .get_contact(&id)
            .await
            .context("get contact")?
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
            group: None,
            labels: Vec::new(),
            fields: Default::default(),
        };
        assert_eq!(
            serde_json::to_value(ContactView::from(&contact)).unwrap(),
            json!({
                "id": "c1", "integration_id": "acme", "viber_user_id": "u==", "name": "Олена",
                "avatar_url": null, "language": "uk", "country": "UA", "api_version": 10, "phone": null,
                "subscribed": true, "created_at": "1970-01-01T00:00:00.000Z",
                "updated_at": "1970-01-01T00:00:01.000Z", "avatar": null
            })
        );
    }
}
