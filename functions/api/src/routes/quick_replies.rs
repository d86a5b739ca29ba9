//! `/api/quick-replies`: canned answers shared by the whole team.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/quick-replies`, `GET /api/quick-replies/{id}` | quick replies, newest first |
//! | `POST /api/quick-replies` | 201 `{id, title, text}` from `{title, text}` |
//! | `PATCH /api/quick-replies/{id}` | `{title?, text?}` |
//! | `DELETE /api/quick-replies/{id}` | 204 |

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::QuickReplyId;
use shared::model::QuickReply;
use shared::time::Timestamp;
use shared::viber::reply::viber_len;

use crate::Api;
use crate::body::json_body;
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::{created, no_content, ok};
use crate::routes::common::PageView;

const UNKNOWN: ApiError = ApiError::NotFound("quick reply");

/// The longest title (a label in the reply box).
pub const MAX_TITLE_CHARS: usize = 100;
/// The longest text: one Viber text message.
pub const MAX_TEXT_CHARS: usize = shared::viber::reply::TEXT_MAX_CHARS;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewQuickReply {
    pub title: String,
    pub text: String,
}

/// `PATCH`: the fields to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReplyChange {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QuickReplyView<'a> {
    pub id: &'a QuickReplyId,
    pub title: &'a str,
    pub text: &'a str,
}

impl<'a> From<&'a QuickReply> for QuickReplyView<'a> {
    fn from(reply: &'a QuickReply) -> Self {
        Self {
            id: &reply.id,
            title: &reply.title,
            text: &reply.text,
        }
    }
}

fn checked_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    let length = title.chars().count();
    if length == 0 || length > MAX_TITLE_CHARS {
        return Err(ApiError::invalid_body(format!(
            "title must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.to_owned())
}

fn checked_text(text: &str) -> Result<String, ApiError> {
    let length = viber_len(text);
    if text.trim().is_empty() || length > MAX_TEXT_CHARS {
        return Err(ApiError::invalid_body(format!(
            "text must have 1 to {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text.to_owned())
}

/// A new quick reply from a checked request.
pub fn create(new: NewQuickReply, now: Timestamp) -> Result<QuickReply, ApiError> {
    Ok(QuickReply {
        id: QuickReplyId::generate(),
        title: checked_title(&new.title)?,
        text: checked_text(&new.text)?,
        created_at: now,
        updated_at: now,
    })
}

/// `reply` with the change applied; a change with no field is refused.
pub fn apply(mut reply: QuickReply, change: QuickReplyChange, now: Timestamp) -> Result<QuickReply, ApiError> {
    if change.title.is_none() && change.text.is_none() {
        return Err(ApiError::invalid_body("give title, text or both"));
    }
    if let Some(title) = change.title {
        reply.title = checked_title(&title)?;
    }
    if let Some(text) = change.text {
        reply.text = checked_text(&text)?;
    }
    reply.updated_at = now;
    Ok(reply)
}

impl Api {
    pub(crate) async fn list_quick_replies(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let replies = self
            .store
            .list_quick_replies(&page)
            .await
            .context("list quick replies")?;
        Ok(ok(&PageView::of(&replies, QuickReplyView::from)))
    }

    pub(crate) async fn get_quick_reply(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let reply = self.quick_reply(raw_id).await?;
        Ok(ok(&QuickReplyView::from(&reply)))
    }

    pub(crate) async fn quick_reply(&self, raw_id: &str) -> Result<QuickReply, ApiError> {
        let id = QuickReplyId::parse(raw_id).map_err(|_| UNKNOWN)?;
        self.store
            .get_quick_reply(&id)
            .await
            .context("get quick reply")?
            .ok_or(UNKNOWN)
    }

    pub(crate) async fn create_quick_reply(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let new: NewQuickReply = json_body(request)?;
        let reply = create(new, Timestamp::now())?;
        self.store.put_quick_reply(&reply).await.context("put quick reply")?;
        Ok(created(&QuickReplyView::from(&reply)))
    }

    pub(crate) async fn change_quick_reply(&self, raw_id: &str, request: &Request) -> Result<Response<Body>, ApiError> {
        let change: QuickReplyChange = json_body(request)?;
        let reply = self.quick_reply(raw_id).await?;
        let changed = apply(reply, change, Timestamp::now())?;
        self.store.put_quick_reply(&changed).await.context("put quick reply")?;
        Ok(ok(&QuickReplyView::from(&changed)))
    }

    pub(crate) async fn delete_quick_reply(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let id = QuickReplyId::parse(raw_id).map_err(|_| UNKNOWN)?;
        if self.store.delete_quick_reply(&id).await.context("delete quick reply")? {
            Ok(no_content())
        } else {
            Err(UNKNOWN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_millis(1_764_000_000_000)
    }

    #[test]
    fn titles_and_texts_are_bounded() {
        let ok = create(
            NewQuickReply {
                title: "  Greeting ".into(),
                text: "Hi {client_name}!".into(),
            },
            now(),
        )
        .unwrap();
        assert_eq!(ok.title, "Greeting");
        assert_eq!(ok.text, "Hi {client_name}!");
        for (title, text) in [
            ("", "x"),
            (" ", "x"),
            ("x", ""),
            ("x", "  "),
            (&"t".repeat(MAX_TITLE_CHARS + 1)[..], "x"),
            ("x", &"a".repeat(MAX_TEXT_CHARS + 1)[..]),
        ] {
            let new = NewQuickReply {
                title: title.into(),
                text: text.into(),
            };
            assert_eq!(
                create(new, now()).unwrap_err().code(),
                "invalid_body",
                "{title:?} {text:?}"
            );
        }
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name() {
        let reply = create(
            NewQuickReply {
                title: "Greeting".into(),
                text: "Hi".into(),
            },
            now(),
        )
        .unwrap();
        let later = Timestamp::from_millis(now().millis() + 1000);
        let changed = apply(
            reply.clone(),
            QuickReplyChange {
                title: None,
                text: Some("Hello".into()),
            },
            later,
        )
        .unwrap();
        assert_eq!((changed.title.as_str(), changed.text.as_str()), ("Greeting", "Hello"));
        assert_eq!((changed.created_at, changed.updated_at), (reply.created_at, later));
        let nothing = QuickReplyChange {
            title: None,
            text: None,
        };
        assert!(apply(reply, nothing, later).is_err());
    }
}
