//! What the issue-5 routes (integrations, staff, task workflow) share: the public base URL, role
//! checks, and reading JSON bodies.

use lambda_http::Request;
use lambda_http::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use shared::ids::{IntegrationId, StaffId};
use shared::model::{Role, StaffMember};
use shared::ports::{StaffStore, StoreError};

use crate::{ApiError, store_failure};

impl crate::Api {
    pub(crate) fn forget(&self, id: &IntegrationId) {
        if let Some(cache) = &self.webhook_cache {
            cache.forget(id);
        }
    }

    /// The base of webhook URLs: `PUBLIC_BASE_URL`, else the host the request came to.
    pub(crate) fn base_url(&self, request: &Request) -> Result<String, ApiError> {
        if let Some(url) = &self.public_base_url {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .filter(|host| !host.is_empty())
            .map(|host| format!("https://{host}"))
            .ok_or_else(|| {
                tracing::error!("PUBLIC_BASE_URL is not set and the request has no Host header");
                refused(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "configuration_error",
                    "the public base URL of webhooks is not configured",
                )
            })
    }
}

pub(crate) fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Refused(status, code, message.into())
}

pub(crate) fn invalid_body(message: impl Into<String>) -> ApiError {
    refused(StatusCode::BAD_REQUEST, "invalid_body", message)
}

/// 403 unless the caller is an owner.
pub(crate) fn require_owner(caller: &StaffMember) -> Result<(), ApiError> {
    if caller.role == Role::Owner {
        Ok(())
    } else {
        Err(refused(StatusCode::FORBIDDEN, "forbidden", "only an owner may do this"))
    }
}

/// The request's JSON body as `T` (400 when absent or not `T`): [`crate::body::json_body`].
pub(crate) fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    Ok(crate::body::json_body(request)?)
}

/// The request's body as a JSON object: [`crate::body::json_value`].
pub(crate) fn json_value(request: &Request) -> Result<serde_json::Value, ApiError> {
    Ok(crate::body::json_value(request)?)
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`, a value → `Some(Some)`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A name of a staff member or an integration: trimmed, 1 to 100 characters.
pub(crate) fn name(field: &str, raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(invalid_body(format!("{field} must be 1 to 100 characters")));
    }
    Ok(trimmed.to_owned())
}

/// Staff ids a template or a task names must belong to existing staff members (422 otherwise).
pub(crate) async fn existing_staff(staff: &dyn StaffStore, ids: Vec<StaffId>) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    for id in &ids {
        match staff.get_staff(id).await {
            Ok(Some(_)) => {}
            Ok(None) => unknown.push(id.to_string()),
            Err(store_error) => return Err(store_failure("get staff", store_error)),
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_staff",
            format!("no staff member with id {}", unknown.join(", ")),
        ))
    }
}

/// Participants without repeats, in the order given.
pub(crate) fn distinct(ids: Vec<StaffId>) -> Vec<StaffId> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

pub(crate) fn store_error(operation: &'static str) -> impl FnOnce(StoreError) -> ApiError {
    move |error| store_failure(operation, error)
}
