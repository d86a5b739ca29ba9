//! What several resources share: the page of a list, and the checks of names and id lists.

use serde::Serialize;
use shared::ids::StaffId;
use shared::ports::{BlobError, Page};
use shared::time::Timestamp;

use crate::Api;
use crate::error::ApiError;

/// How long the URL of a contact's avatar copy works: lists are re-read more often than that.
pub const AVATAR_URL_TTL_SECONDS: i64 = 60 * 60;

/// `{"url", "expires_at"}`: a short-lived URL of a file in the attachments bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: Timestamp,
}

impl Api {
    /// A short-lived URL of a contact's avatar copy (`None` without one: the inbox shows
    /// initials). Signing is local computation, no request.
    pub(crate) async fn avatar_url(&self, blob_key: Option<&str>) -> Result<Option<SignedUrl>, ApiError> {
        let Some(key) = blob_key else {
            return Ok(None);
        };
        let expires_at = Timestamp::now().plus_seconds(AVATAR_URL_TTL_SECONDS);
        match self.blobs.presign_get(key, "avatar", expires_at).await {
            Ok(url) => Ok(Some(SignedUrl { url, expires_at })),
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(error @ BlobError::Unavailable(_)) => {
                tracing::error!(%error, "avatar URL not signed");
                Err(ApiError::Unavailable)
            }
        }
    }
}

/// `{"items": [...], "next_cursor": null or "..."}`.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PageView<T> {
    /// A page of stored items, each shown through `view`.
    pub fn of<'a, U>(page: &'a Page<U>, view: impl FnMut(&'a U) -> T) -> Self {
        Self {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}

/// A name of a staff member or an integration: trimmed, 1 to 100 characters.
pub(crate) fn name(field: &str, raw: &str) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(ApiError::invalid_body(format!("{field} must be 1 to 100 characters")));
    }
    Ok(trimmed.to_owned())
}

/// A group, labels or fields out of bounds (`rules::check_*`): 400 with the refusal's own code,
/// the message naming the field (`prefix` for a nested one, e.g. `contact_template.`).
pub(crate) fn tag_refusal(prefix: &str, error: shared::rules::TagError) -> ApiError {
    ApiError::bad_request(error.code(), format!("{prefix}{error}"))
}

/// Staff ids without repeats, in the order given (a task's or a template's participants).
pub(crate) fn distinct(ids: Vec<StaffId>) -> Vec<StaffId> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}
