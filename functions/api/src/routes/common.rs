//! What several resources share: the page of a list, and the checks of names and id lists.

use serde::Serialize;
use shared::ids::StaffId;
use shared::ports::Page;

use crate::error::ApiError;

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

/// Staff ids without repeats, in the order given (a task's or a template's participants).
pub(crate) fn distinct(ids: Vec<StaffId>) -> Vec<StaffId> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}
