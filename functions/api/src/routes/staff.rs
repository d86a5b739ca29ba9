//! `/api/staff`: the team. Everyone may read it; owners add, change and remove members; a staff
//! member may change only their own name and avatar.
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/staff`, `GET /api/staff/{id}` | members, in the order they were added |
//! | `POST /api/staff` (owner) | 201 `{id, name, avatar_url, role, token}`: the token is shown this once |
//! | `PATCH /api/staff/{id}` | `{name?, avatar_url?, role?}`; 409 for demoting the last owner |
//! | `DELETE /api/staff/{id}` (owner) | 204, the token stops working at once; 409 for the last owner or a member a template names |

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::ids::StaffId;
use shared::model::{Role, StaffMember};
use shared::ports::{PageRequest, StaffChange, StaffOutcome, token_hash};
use shared::time::Timestamp;

use crate::body::{json_body, present};
use crate::error::{ApiError, StoreContext};
use crate::query::{self, Params};
use crate::response::{created, no_content, ok};
use crate::routes::common::{PageView, name};
use crate::{Api, require_owner};

const UNKNOWN: ApiError = ApiError::NotFound("staff member");

/// A staff member as the API shows them (never their token's hash).
#[derive(Debug, Serialize)]
pub struct StaffView<'a> {
    pub id: &'a StaffId,
    pub name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub role: Role,
}

impl<'a> From<&'a StaffMember> for StaffView<'a> {
    fn from(member: &'a StaffMember) -> Self {
        Self {
            id: &member.id,
            name: &member.name,
            avatar_url: member.avatar_url.as_deref(),
            role: member.role,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    name: String,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default = "staff_role")]
    role: Role,
}

fn staff_role() -> Role {
    Role::Staff
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    avatar_url: Option<Option<String>>,
    role: Option<Role>,
}

/// `POST /api/staff`'s answer: the member and, this once, their bearer token.
#[derive(Serialize)]
struct NewMemberView<'a> {
    #[serde(flatten)]
    member: StaffView<'a>,
    token: &'a str,
}

fn avatar(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(url) = raw.map(|url| url.trim().to_owned()).filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Err(ApiError::invalid_body(
            "avatar_url must be an http(s) URL of at most 2048 characters",
        ));
    }
    Ok(Some(url))
}

fn last_owner() -> ApiError {
    ApiError::conflict(
        "last_owner",
        "the account needs an owner: make someone else an owner first",
    )
}

impl Api {
    pub(crate) async fn list_staff(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let members = self.store.list_staff(&page).await.context("list staff")?;
        Ok(ok(&PageView::of(&members, StaffView::from)))
    }

    pub(crate) async fn get_member(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let member = self.member(raw_id).await?;
        Ok(ok(&StaffView::from(&member)))
    }

    async fn member(&self, raw_id: &str) -> Result<StaffMember, ApiError> {
        let id = StaffId::parse(raw_id).map_err(|_| UNKNOWN)?;
        self.store.get_staff(&id).await.context("get staff")?.ok_or(UNKNOWN)
    }

    /// A new member with a random token, stored only as its SHA-256 hash and shown once here.
    pub(crate) async fn add_member(&self, request: &Request, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        require_owner(caller)?;
        let fields: NewMember = json_body(request)?;
        let member = StaffMember {
            id: StaffId::generate(),
            name: name("name", &fields.name)?,
            avatar_url: avatar(fields.avatar_url)?,
            role: fields.role,
            created_at: Timestamp::now(),
        };
        let token = shared::ids::new_secret();
        self.store
            .put_staff(&member, &token_hash(&token))
            .await
            .context("add staff")?;
        tracing::info!(staff_id = %member.id, role = ?member.role, "staff member added");
        Ok(created(&NewMemberView {
            member: StaffView::from(&member),
            token: &token,
        }))
    }

    pub(crate) async fn update_member(
        &self,
        raw_id: &str,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        let member = self.member(raw_id).await?;
        let patch: MemberPatch = json_body(request)?;
        let is_owner = caller.role == Role::Owner;
        if !is_owner && (member.id != caller.id || patch.role.is_some()) {
            return Err(ApiError::Forbidden(
                "staff members may change only their own name and avatar",
            ));
        }
        let change = StaffChange {
            name: patch.name.as_deref().map(|raw| name("name", raw)).transpose()?,
            avatar_url: patch.avatar_url.map(avatar).transpose()?,
            role: patch.role,
        };
        match self
            .store
            .update_staff(&member.id, &change)
            .await
            .context("update staff")?
        {
            StaffOutcome::Done(Some(changed)) => Ok(ok(&StaffView::from(&changed))),
            StaffOutcome::Done(None) | StaffOutcome::NotFound => Err(UNKNOWN),
            StaffOutcome::LastOwner => Err(last_owner()),
        }
    }

    /// Removes a member; their token stops working at once. A member a template names stays
    /// until the template names someone else (409), so no new task is assigned to no one.
    pub(crate) async fn delete_member(&self, raw_id: &str, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        require_owner(caller)?;
        let member = self.member(raw_id).await?;
        let in_use = self.templates_naming(&member.id).await?;
        if !in_use.is_empty() {
            return Err(ApiError::conflict(
                "staff_in_use",
                format!(
                    "the template of integration {} names this member: change it first",
                    in_use.join(", ")
                ),
            ));
        }
        match self.store.delete_staff(&member.id).await.context("delete staff")? {
            StaffOutcome::Done(_) => {
                tracing::info!(staff_id = %member.id, "staff member removed");
                Ok(no_content())
            }
            StaffOutcome::NotFound => Err(UNKNOWN),
            StaffOutcome::LastOwner => Err(last_owner()),
        }
    }

    /// The integrations whose template names `id` as assignee or participant.
    async fn templates_naming(&self, id: &StaffId) -> Result<Vec<String>, ApiError> {
        let mut naming = Vec::new();
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let integrations = self.store.list_integrations(&page).await.context("list integrations")?;
            naming.extend(
                integrations
                    .items
                    .iter()
                    .filter(|i| i.template.assignee_id.as_ref() == Some(id) || i.template.participant_ids.contains(id))
                    .map(|i| i.id.to_string()),
            );
            match integrations.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(naming),
            }
        }
    }

    /// Staff ids a template or a task names must belong to existing staff members (422 otherwise).
    pub(crate) async fn existing_staff(&self, ids: Vec<&StaffId>) -> Result<(), ApiError> {
        let mut unknown = Vec::new();
        for id in ids {
            if self.store.get_staff(id).await.context("get staff")?.is_none() {
                unknown.push(id.to_string());
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unprocessable(
                "unknown_staff",
                format!("no staff member with id {}", unknown.join(", ")),
            ))
        }
    }
}
