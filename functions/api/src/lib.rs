//! The staff API Lambda's handler. API Gateway sends every `ANY /api/{proxy+}` request here; the
//! handler authenticates the bearer token, routes on the path, and answers JSON. The contract
//! (routes, JSON shapes, errors) is docs/staff-api.md; each resource's routes and views live in
//! [`routes`], its refusals are [`error::ApiError`].
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/me` | the calling staff member ([`routes::me`]) |
//! | `GET /api/tasks?status=&assignee_id=&integration_id=&cursor=&limit=` | tasks, newest activity first ([`routes::tasks`]) |
//! | `GET`/`PATCH`/`DELETE /api/tasks/{id}` | a task with its `requester` contact; change status, assignee, participants / delete |
//! | `POST /api/tasks/{id}/read` | 204: the caller has read the task ([`routes::tasks`]) |
//! | `GET /api/changes?since=` | the live feed: tasks with new client messages since a point, or 304 ([`routes::changes`]) |
//! | `GET`/`POST /api/tasks/{id}/comments` | the conversation, oldest first; a staff comment: 202 `{id, status: "queued"}` when it notifies the client, else 201 `internal` ([`routes::comments`]) |
//! | `GET /api/contacts?group=&label=&cursor=&limit=`, `GET`/`PATCH /api/contacts/{id}` | contacts; change a contact's group, labels, fields ([`routes::contacts`]) |
//! | `POST /api/attachments`, `GET /api/attachments/{id}` | announce an upload (a 15-minute presigned PUT); an attachment and a 15-minute download URL ([`routes::attachments`]) |
//! | `GET/POST /api/quick-replies`, `GET/PATCH/DELETE /api/quick-replies/{id}` | canned answers ([`routes::quick_replies`]) |
//! | `/api/integrations[/{id}]` | connect and manage Viber bots ([`routes::integrations`]) |
//! | `/api/staff[/{id}]` | the team and its bearer tokens ([`routes::staff`]) |
//! | `GET /`, `GET /app/{version}/{path}` | the staff web inbox's files, without authentication ([`web`]) |
//!
//! Every route needs `Authorization: Bearer <token>` (401 otherwise); an unknown path is 404, a
//! known path with another method 405 with `Allow`; errors are `{"error": {"code", "message"}}`.

pub mod body;
pub mod config;
pub mod error;
pub mod query;
mod response;
pub mod routes;
pub mod web;

use std::sync::Arc;

use lambda_http::http::{HeaderMap, HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::cache::IntegrationCache;
use shared::model::{Role, StaffMember};
use shared::ports::{ApiStore, BlobStore, MessageQueue, token_hash};
use shared::viber::client::ViberClient;

use crate::error::{ApiError, StoreContext};
use crate::query::Params;
pub use crate::routes::attachments::DOWNLOAD_URL_TTL_SECONDS;

/// The staff API over its store, built once per Lambda instance (or once in the local stack).
pub struct Api {
    store: Arc<dyn ApiStore>,
    /// The attachments bucket, for download and upload URLs.
    blobs: Arc<dyn BlobStore>,
    /// The outbound queue: staff replies for the sender.
    outbound: Arc<dyn MessageQueue>,
    /// For connecting bots (account info, webhooks).
    viber: ViberClient,
    /// `PUBLIC_BASE_URL`: the base of webhook URLs. When unset, `https://{Host}` of the request.
    public_base_url: Option<String>,
    /// The webhook's integration cache when the webhook runs in this process (the local stack):
    /// a changed or removed integration is dropped from it at once.
    webhook_cache: Option<Arc<IntegrationCache>>,
    /// The web inbox's Content-Security-Policy (`web::content_security_policy`).
    content_security_policy: HeaderValue,
}

/// What the API takes from its [`config::Config`] besides its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Viber's Bot API, for connecting bots.
    pub viber_api_url: String,
    /// The base of webhook URLs; without it, `https://{Host}` of the request.
    pub public_base_url: Option<String>,
    /// The origin of the attachments bucket's presigned URLs when it is not the page's own (S3),
    /// which the web inbox's CSP then allows for pictures and uploads.
    pub blob_origin: Option<String>,
}

impl From<&config::Config> for Settings {
    fn from(config: &config::Config) -> Self {
        Self {
            viber_api_url: config.viber_api_url.clone(),
            public_base_url: config.public_base_url.clone(),
            blob_origin: None,
        }
    }
}

impl Api {
    pub fn new(
        store: Arc<dyn ApiStore>,
        blobs: Arc<dyn BlobStore>,
        outbound: Arc<dyn MessageQueue>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            blobs,
            outbound,
            viber: ViberClient::new(&settings.viber_api_url),
            public_base_url: settings.public_base_url.filter(|url| !url.trim().is_empty()),
            webhook_cache: None,
            content_security_policy: HeaderValue::from_str(&web::content_security_policy(
                settings.blob_origin.as_deref(),
            ))
            .expect("an origin from a URL is a valid header value"),
        }
    }

    /// Shares the webhook's cache (local stack), so changes reach callbacks at once.
    pub fn with_webhook_cache(mut self, cache: Arc<IntegrationCache>) -> Self {
        self.webhook_cache = Some(cache);
        self
    }
}

/// The routes, parsed from the path; ids are still raw (an id that does not parse names nothing,
/// so it is a 404, not a 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    Me,
    Tasks,
    Task(&'a str),
    TaskComments(&'a str),
    TaskRead(&'a str),
    Changes,
    Contacts,
    Contact(&'a str),
    Attachments,
    Attachment(&'a str),
    QuickReplies,
    QuickReply(&'a str),
    Integrations,
    Integration(&'a str),
    Staff,
    StaffMember(&'a str),
}

impl<'a> Endpoint<'a> {
    /// The route of a request path (`/api/...`, one trailing slash tolerated).
    pub fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix("/api/")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<&'a str> = rest.split('/').collect();
        Some(match segments.as_slice() {
            ["me"] => Endpoint::Me,
            ["tasks"] => Endpoint::Tasks,
            ["tasks", id] => Endpoint::Task(id),
            ["tasks", id, "comments"] => Endpoint::TaskComments(id),
            ["tasks", id, "read"] => Endpoint::TaskRead(id),
            ["changes"] => Endpoint::Changes,
            ["contacts"] => Endpoint::Contacts,
            ["contacts", id] => Endpoint::Contact(id),
            ["attachments"] => Endpoint::Attachments,
            ["attachments", id] => Endpoint::Attachment(id),
            ["quick-replies"] => Endpoint::QuickReplies,
            ["quick-replies", id] => Endpoint::QuickReply(id),
            ["integrations"] => Endpoint::Integrations,
            ["integrations", id] => Endpoint::Integration(id),
            ["staff"] => Endpoint::Staff,
            ["staff", id] => Endpoint::StaffMember(id),
            _ => return None,
        })
    }

    /// The methods the route answers (the `Allow` header of a 405).
    pub fn allowed_methods(self) -> &'static [Method] {
        static GET: [Method; 1] = [Method::GET];
        static POST: [Method; 1] = [Method::POST];
        static GET_POST: [Method; 2] = [Method::GET, Method::POST];
        static GET_PATCH: [Method; 2] = [Method::GET, Method::PATCH];
        static GET_PATCH_DELETE: [Method; 3] = [Method::GET, Method::PATCH, Method::DELETE];
        match self {
            Endpoint::TaskComments(_) | Endpoint::QuickReplies | Endpoint::Integrations | Endpoint::Staff => &GET_POST,
            Endpoint::Attachments | Endpoint::TaskRead(_) => &POST,
            Endpoint::Task(_) | Endpoint::QuickReply(_) | Endpoint::Integration(_) | Endpoint::StaffMember(_) => {
                &GET_PATCH_DELETE
            }
            Endpoint::Contact(_) => &GET_PATCH,
            _ => &GET,
        }
    }
}

/// Why an `Authorization` header gives no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    Malformed,
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(BearerError::Missing)?;
    let value = value.to_str().map_err(|_| BearerError::Malformed)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Malformed)?;
    let token = token.trim();
    let well_formed =
        scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    if well_formed {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
    }
}

impl Api {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        // `GET /` and `/app/...`: the staff web inbox's files, public (the page signs in itself).
        if let Some(mut response) = web::serve(&request) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, self.content_security_policy.clone());
            tracing::info!(%method, %path, status = response.status().as_u16(), "web request");
            return response;
        }
        let (response, caller) = match self.authenticate(request.headers()).await {
            Ok(caller) => {
                let response = self.route(&request, &caller).await;
                (response, Some(caller.id))
            }
            Err(refused) => (Err(refused), None),
        };
        let response = response.unwrap_or_else(ApiError::into_response);
        let status = response.status().as_u16();
        tracing::info!(%method, %path, status, staff_id = caller.as_ref().map(|id| id.as_str()), "api request");
        response
    }

    /// The staff member whose token the request carries. The token is only hashed: never
    /// logged, never echoed.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<StaffMember, ApiError> {
        let token = bearer_token(headers).map_err(|refused| {
            ApiError::Unauthorized(match refused {
                BearerError::Missing => "this route needs an 'Authorization: Bearer <token>' header",
                BearerError::Malformed => "the Authorization header must be 'Bearer <token>'",
            })
        })?;
        self.store
            .staff_by_token_hash(&token_hash(token))
            .await
            .context("authenticate")?
            .ok_or(ApiError::Unauthorized("the bearer token is not valid"))
    }

    /// The routing table: each route and method to its handler in [`routes`].
    async fn route(&self, request: &Request, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let endpoint = Endpoint::parse(request.uri().path()).ok_or(ApiError::NotFound("route"))?;
        let allowed = endpoint.allowed_methods();
        if !allowed.contains(request.method()) {
            return Err(ApiError::MethodNotAllowed(allowed));
        }
        let params = Params::new(request.query_string_parameters_ref());
        let method = request.method().clone();
        match (endpoint, method) {
            (Endpoint::Me, _) => Ok(routes::me::me(caller)),
            (Endpoint::Tasks, _) => self.list_tasks(&params, caller).await,
            (Endpoint::Task(id), Method::PATCH) => self.update_task(id, request, caller).await,
            (Endpoint::Task(id), Method::DELETE) => self.delete_task(id).await,
            (Endpoint::Task(id), _) => self.get_task(id, caller).await,
            (Endpoint::TaskComments(id), Method::POST) => self.create_comment(id, request, caller).await,
            (Endpoint::TaskComments(id), _) => self.list_comments(id, &params, request.headers()).await,
            (Endpoint::TaskRead(id), _) => self.mark_task_read(id, caller).await,
            (Endpoint::Changes, _) => self.changes(&params, caller).await,
            (Endpoint::Contacts, _) => self.list_contacts(&params).await,
            (Endpoint::Contact(id), Method::PATCH) => self.update_contact(id, request).await,
            (Endpoint::Contact(id), _) => self.get_contact(id).await,
            (Endpoint::Attachments, _) => self.create_attachment(request).await,
            (Endpoint::Attachment(id), _) => self.get_attachment(id).await,
            (Endpoint::QuickReplies, Method::POST) => self.create_quick_reply(request).await,
            (Endpoint::QuickReplies, _) => self.list_quick_replies(&params).await,
            (Endpoint::QuickReply(id), Method::PATCH) => self.change_quick_reply(id, request).await,
            (Endpoint::QuickReply(id), Method::DELETE) => self.delete_quick_reply(id).await,
            (Endpoint::QuickReply(id), _) => self.get_quick_reply(id).await,
            (Endpoint::Integrations, Method::POST) => self.create_integration(request, caller).await,
            (Endpoint::Integrations, _) => self.list_integrations(&params).await,
            (Endpoint::Integration(id), Method::PATCH) => self.update_integration(id, request, caller).await,
            (Endpoint::Integration(id), Method::DELETE) => self.delete_integration(id, caller).await,
            (Endpoint::Integration(id), _) => self.get_integration(id).await,
            (Endpoint::Staff, Method::POST) => self.add_member(request, caller).await,
            (Endpoint::Staff, _) => self.list_staff(&params).await,
            (Endpoint::StaffMember(id), Method::PATCH) => self.update_member(id, request, caller).await,
            (Endpoint::StaffMember(id), Method::DELETE) => self.delete_member(id, caller).await,
            (Endpoint::StaffMember(id), _) => self.get_member(id).await,
        }
    }
}

/// 403 unless the caller is an owner.
pub(crate) fn require_owner(caller: &StaffMember) -> Result<(), ApiError> {
    if caller.role == Role::Owner {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only an owner may do this"))
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;

    #[test]
    fn paths_map_to_routes() {
        assert_eq!(Endpoint::parse("/api/me"), Some(Endpoint::Me));
        assert_eq!(Endpoint::parse("/api/tasks"), Some(Endpoint::Tasks));
        assert_eq!(Endpoint::parse("/api/tasks/"), Some(Endpoint::Tasks));
        assert_eq!(Endpoint::parse("/api/tasks/t1"), Some(Endpoint::Task("t1")));
        assert_eq!(
            Endpoint::parse("/api/tasks/t1/comments"),
            Some(Endpoint::TaskComments("t1"))
        );
        assert_eq!(Endpoint::parse("/api/contacts"), Some(Endpoint::Contacts));
        assert_eq!(Endpoint::parse("/api/contacts/c1"), Some(Endpoint::Contact("c1")));
        assert_eq!(Endpoint::parse("/api/attachments/a1"), Some(Endpoint::Attachment("a1")));
        for unknown in [
            "/api",
            "/api/",
            "/api/nothing",
            "/api/me/x",
            "/api/tasks/t1/other",
            "/api/tasks/t1/comments/c1",
            "/viber/default",
            "/apix/me",
        ] {
            assert_eq!(Endpoint::parse(unknown), None, "{unknown}");
        }
    }

    fn headers(authorization: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(authorization).unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        assert_eq!(bearer_token(&headers(b"Bearer abc.DEF-1")), Ok("abc.DEF-1"));
        assert_eq!(bearer_token(&headers(b"bearer  abc ")), Ok("abc"));
        assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
        for malformed in [
            &b"abc"[..],
            b"Bearer",
            b"Bearer ",
            b"Basic dXNlcjpwYXNz",
            b"Bearer a b",
            b"Bearer \xff",
        ] {
            assert_eq!(
                bearer_token(&headers(malformed)),
                Err(BearerError::Malformed),
                "{malformed:?}"
            );
        }
    }
}
