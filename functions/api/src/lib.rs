//! The staff API Lambda's handler. API Gateway sends every `ANY /api/{proxy+}` request here; the
//! handler authenticates the bearer token, routes on the path, and answers JSON
//! (DESIGN.md "Staff API" and "Resource shapes").
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /api/me` | the calling staff member |
//! | `GET /api/tasks?status=&assignee_id=&integration_id=&cursor=&limit=` | tasks, newest activity first |
//! | `GET /api/tasks/{id}` | a task with its `requester` contact |
//! | `GET /api/tasks/{id}/comments?cursor=&limit=` | the conversation, oldest first |
//! | `GET /api/contacts?cursor=&limit=`, `GET /api/contacts/{id}` | contacts |
//! | `GET /api/attachments/{id}` | an attachment and a 15-minute download URL |
//! | `POST /api/tasks/{id}/comments` | a staff comment: 202 `{id, status: "queued"}` when it notifies the client, else 201 `internal` |
//! | `POST /api/attachments` | announce an upload: 201 `{id, upload_url, expires_at}` (a 15-minute presigned PUT) |
//! | `GET/POST /api/quick-replies`, `GET/PATCH/DELETE /api/quick-replies/{id}` | canned answers |
//! | `PATCH`/`DELETE /api/tasks/{id}` | change status, assignee, participants / delete ([`workflow`]) |
//! | `/api/integrations[/{id}]` | connect and manage Viber bots ([`integrations`]) |
//! | `/api/staff[/{id}]` | the team and its bearer tokens ([`staff`]) |
//! | `GET /`, `GET /app/{version}/{path}` | the staff web inbox's files, without authentication ([`web`]) |
//!
//! Every route needs `Authorization: Bearer <token>` (401 otherwise); an unknown path is 404, a
//! known path with another method 405 with `Allow`; errors are `{"error": {"code", "message"}}`.

pub mod admin;
pub mod body;
pub mod config;
pub mod integrations;
pub mod query;
pub mod quick_replies;
pub mod replies;
pub mod staff;
pub mod views;
pub mod web;
pub mod workflow;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::http::error_json;
use shared::ids::{AttachmentId, ContactId, QuickReplyId, TaskId};
use shared::model::{Attachment, Comment, QuickReply, StaffMember, Task};
use shared::ports::{
    AttachmentStore, BlobError, BlobStore, CommentStore, ContactStore, IntegrationStore, MessageQueue, QuickReplyStore,
    StaffStore, StoreError, TaskStore, token_hash,
};
use shared::time::Timestamp;

use crate::query::{Params, QueryError};
use crate::quick_replies::QuickReplyView;
use crate::views::{
    AttachmentDownloadView, AttachmentView, CommentView, ContactView, PageView, StaffView, TaskDetailView, TaskView,
};

/// How long a download URL from `GET /api/attachments/{id}` works.
pub const DOWNLOAD_URL_TTL_SECONDS: i64 = 15 * 60;

/// The staff API over its ports, built once per Lambda instance (or once in the local stack).
pub struct Api {
    pub staff: Arc<dyn StaffStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub contacts: Arc<dyn ContactStore>,
    /// The attachments bucket, for download and upload URLs.
    pub blobs: Arc<dyn BlobStore>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub comments: Arc<dyn CommentStore>,
    pub attachments: Arc<dyn AttachmentStore>,
    pub quick_replies: Arc<dyn QuickReplyStore>,
    /// The outbound queue: staff replies for the sender.
    pub outbound: Arc<dyn MessageQueue>,
    /// Integrations, staff and the task workflow.
    pub admin: admin::Admin,
}

/// Every store port an adapter serves at once (the DynamoDB store, the in-memory store).
pub trait ApiStore:
    StaffStore + TaskStore + ContactStore + IntegrationStore + CommentStore + AttachmentStore + QuickReplyStore + 'static
{
}

impl<S> ApiStore for S where
    S: StaffStore
        + TaskStore
        + ContactStore
        + IntegrationStore
        + CommentStore
        + AttachmentStore
        + QuickReplyStore
        + 'static
{
}

impl Api {
    /// The API with every store port served by `store`.
    pub fn new<S: ApiStore>(
        store: Arc<S>,
        blobs: Arc<dyn BlobStore>,
        outbound: Arc<dyn MessageQueue>,
        admin: admin::Admin,
    ) -> Self {
        Self {
            staff: store.clone(),
            tasks: store.clone(),
            contacts: store.clone(),
            integrations: store.clone(),
            comments: store.clone(),
            attachments: store.clone(),
            quick_replies: store,
            blobs,
            outbound,
            admin,
        }
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
        static GET_PATCH_DELETE: [Method; 3] = [Method::GET, Method::PATCH, Method::DELETE];
        match self {
            Endpoint::TaskComments(_) | Endpoint::QuickReplies | Endpoint::Integrations | Endpoint::Staff => &GET_POST,
            Endpoint::Attachments => &POST,
            Endpoint::Task(_) | Endpoint::QuickReply(_) | Endpoint::Integration(_) | Endpoint::StaffMember(_) => {
                &GET_PATCH_DELETE
            }
            _ => &GET,
        }
    }
}

/// A refused request: becomes the JSON error answer.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(&'static str),
    NotFound(&'static str),
    MethodNotAllowed(&'static [Method]),
    BadRequest(QueryError),
    /// The store or the bucket failed (already logged).
    Unavailable,
    /// A stored item does not decode (already logged).
    Internal,
    /// Any other refusal: status, error code, message.
    Refused(StatusCode, &'static str, String),
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        ApiError::BadRequest(error)
    }
}

impl ApiError {
    pub fn into_response(self) -> Response<Body> {
        match self {
            ApiError::Unauthorized(message) => {
                let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            ApiError::NotFound(message) => error(StatusCode::NOT_FOUND, "not_found", message),
            ApiError::MethodNotAllowed(allowed) => {
                let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                let mut response = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    &format!("this route answers {allow}"),
                );
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                response
            }
            ApiError::BadRequest(QueryError { code, message }) => error(StatusCode::BAD_REQUEST, code, &message),
            ApiError::Unavailable => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "try again later"),
            ApiError::Internal => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "a stored record could not be read",
            ),
            ApiError::Refused(status, code, message) => error(status, code, &message),
        }
    }
}

/// Logs a store failure (never with request details) and turns it into its answer.
pub(crate) fn store_failure(operation: &'static str, store_error: StoreError) -> ApiError {
    match store_error {
        StoreError::Corrupt(_) | StoreError::InvalidCursor => {
            tracing::error!(operation, error = %store_error, "stored item unreadable");
            ApiError::Internal
        }
        StoreError::Unavailable(_) | StoreError::Conflict(_) => {
            tracing::error!(operation, error = %store_error, "store request failed");
            ApiError::Unavailable
        }
    }
}

/// As `store_failure`, but a cursor the list never handed out is the client's mistake.
fn list_failure(operation: &'static str, store_error: StoreError) -> ApiError {
    match &store_error {
        StoreError::InvalidCursor => ApiError::BadRequest(query::invalid_cursor()),
        _ => store_failure(operation, store_error),
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
        if let Some(response) = web::serve(&request) {
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
        match self.staff.staff_by_token_hash(&token_hash(token)).await {
            Ok(Some(member)) => Ok(member),
            Ok(None) => Err(ApiError::Unauthorized("the bearer token is not valid")),
            Err(store_error) => Err(store_failure("authenticate", store_error)),
        }
    }

    async fn route(&self, request: &Request, caller: &StaffMember) -> Result<Response<Body>, ApiError> {
        let endpoint = Endpoint::parse(request.uri().path()).ok_or(ApiError::NotFound("no such route"))?;
        let allowed = endpoint.allowed_methods();
        if !allowed.contains(request.method()) {
            return Err(ApiError::MethodNotAllowed(allowed));
        }
        let params = Params::new(request.query_string_parameters_ref());
        let method = request.method();
        match endpoint {
            Endpoint::Me => Ok(ok(&StaffView::from(caller))),
            Endpoint::Tasks => self.list_tasks(&params).await,
            Endpoint::Task(id) if method == Method::PATCH => self.update_task(id, request).await,
            Endpoint::Task(id) if method == Method::DELETE => self.delete_task(id).await,
            Endpoint::Task(id) => self.get_task(id).await,
            Endpoint::TaskComments(id) if request.method() == Method::POST => {
                self.create_comment(id, request, caller).await
            }
            Endpoint::TaskComments(id) => self.list_comments(id, &params).await,
            Endpoint::Contacts => self.list_contacts(&params).await,
            Endpoint::Contact(id) => self.get_contact(id).await,
            Endpoint::Attachments => self.create_attachment(request).await,
            Endpoint::Attachment(id) => self.get_attachment(id).await,
            Endpoint::QuickReplies if request.method() == Method::POST => self.create_quick_reply(request).await,
            Endpoint::QuickReplies => self.list_quick_replies(&params).await,
            Endpoint::QuickReply(id) => match *request.method() {
                Method::PATCH => self.change_quick_reply(id, request).await,
                Method::DELETE => self.delete_quick_reply(id).await,
                _ => self
                    .get_quick_reply(id)
                    .await
                    .map(|reply| ok(&QuickReplyView::from(&reply))),
            },
            Endpoint::Integrations if method == Method::POST => self.create_integration(request, caller).await,
            Endpoint::Integrations => self.list_integrations(&params).await,
            Endpoint::Integration(id) if method == Method::PATCH => self.update_integration(id, request, caller).await,
            Endpoint::Integration(id) if method == Method::DELETE => self.delete_integration(id, caller).await,
            Endpoint::Integration(id) => self.get_integration(id).await,
            Endpoint::Staff if method == Method::POST => self.add_member(request, caller).await,
            Endpoint::Staff => self.list_staff(&params).await,
            Endpoint::StaffMember(id) if method == Method::PATCH => self.update_member(id, request, caller).await,
            Endpoint::StaffMember(id) if method == Method::DELETE => self.delete_member(id, caller).await,
            Endpoint::StaffMember(id) => self.get_member(id).await,
        }
    }

    async fn create_comment(
        &self,
        raw_task_id: &str,
        request: &Request,
        caller: &StaffMember,
    ) -> Result<Response<Body>, ApiError> {
        let new: replies::NewComment = body::json_body(request)?;
        let task = self.live_task(raw_task_id).await?;
        let checked = replies::check_comment(new)?;
        let comment = self.post_comment(&task, caller, checked).await?;
        tracing::info!(task_id = %task.id, comment_id = %comment.id, status = ?comment.status, "staff comment posted");
        if comment.notify_client {
            #[derive(Serialize)]
            struct Queued<'a> {
                id: &'a shared::ids::CommentId,
                status: shared::model::CommentStatus,
            }
            return Ok(json(
                StatusCode::ACCEPTED,
                to_json(&Queued {
                    id: &comment.id,
                    status: comment.status,
                }),
            ));
        }
        let attachments = self.attachments_of(std::slice::from_ref(&comment)).await?;
        let view = CommentView::new(&comment, |id| attachments.get(id));
        Ok(json(StatusCode::CREATED, to_json(&view)))
    }

    async fn create_attachment(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let new: replies::NewAttachment = body::json_body(request)?;
        let (attachment, upload_url) = self.announce_upload(new).await?;
        let expires_at = Timestamp::now().plus_seconds(replies::UPLOAD_URL_TTL_SECONDS);
        let view = replies::UploadView {
            id: &attachment.id,
            upload_url,
            expires_at,
        };
        Ok(json(StatusCode::CREATED, to_json(&view)))
    }

    async fn list_quick_replies(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let replies = self
            .quick_replies
            .list_quick_replies(&page)
            .await
            .map_err(|e| list_failure("list quick replies", e))?;
        Ok(ok(&PageView::of(&replies, QuickReplyView::from)))
    }

    async fn get_quick_reply(&self, raw_id: &str) -> Result<QuickReply, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such quick reply");
        let id = QuickReplyId::parse(raw_id).map_err(|_| UNKNOWN)?;
        match self.quick_replies.get_quick_reply(&id).await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(UNKNOWN),
            Err(store_error) => Err(store_failure("get quick reply", store_error)),
        }
    }

    async fn create_quick_reply(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let new: quick_replies::NewQuickReply = body::json_body(request)?;
        let reply = quick_replies::create(new, Timestamp::now())?;
        self.quick_replies
            .put_quick_reply(&reply)
            .await
            .map_err(|e| store_failure("put quick reply", e))?;
        Ok(json(StatusCode::CREATED, to_json(&QuickReplyView::from(&reply))))
    }

    async fn change_quick_reply(&self, raw_id: &str, request: &Request) -> Result<Response<Body>, ApiError> {
        let change: quick_replies::QuickReplyChange = body::json_body(request)?;
        let reply = self.get_quick_reply(raw_id).await?;
        let changed = quick_replies::apply(reply, change, Timestamp::now())?;
        self.quick_replies
            .put_quick_reply(&changed)
            .await
            .map_err(|e| store_failure("put quick reply", e))?;
        Ok(ok(&QuickReplyView::from(&changed)))
    }

    async fn delete_quick_reply(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such quick reply");
        let id = QuickReplyId::parse(raw_id).map_err(|_| UNKNOWN)?;
        match self.quick_replies.delete_quick_reply(&id).await {
            Ok(true) => Ok(no_content()),
            Ok(false) => Err(UNKNOWN),
            Err(store_error) => Err(store_failure("delete quick reply", store_error)),
        }
    }

    async fn list_tasks(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let filter = query::task_filter(params)?;
        let page = query::page(params)?;
        let tasks = self
            .tasks
            .list_tasks(&filter, &page)
            .await
            .map_err(|e| list_failure("list tasks", e))?;
        Ok(ok(&PageView::of(&tasks, TaskView::from)))
    }

    async fn get_task(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        let task = self.live_task(raw_id).await?;
        let requester = self
            .contacts
            .get_contact(&task.requester_id)
            .await
            .map_err(|e| store_failure("get requester", e))?;
        Ok(ok(&TaskDetailView {
            task: TaskView::from(&task),
            requester: requester.as_ref().map(ContactView::from),
        }))
    }

    /// A task that exists and is not deleted.
    async fn live_task(&self, raw_id: &str) -> Result<Task, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such task");
        let id = TaskId::parse(raw_id).map_err(|_| UNKNOWN)?;
        match self.tasks.get_task(&id).await {
            Ok(Some(task)) if !task.deleted => Ok(task),
            Ok(_) => Err(UNKNOWN),
            Err(store_error) => Err(store_failure("get task", store_error)),
        }
    }

    async fn list_comments(&self, raw_id: &str, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let task = self.live_task(raw_id).await?;
        let comments = self
            .tasks
            .list_comments(&task.id, &page)
            .await
            .map_err(|e| list_failure("list comments", e))?;
        let attachments = self.attachments_of(&comments.items).await?;
        Ok(ok(&PageView::of(&comments, |comment| {
            CommentView::new(comment, |id| attachments.get(id))
        })))
    }

    /// The attachments of a page of comments, read concurrently, each once.
    async fn attachments_of(&self, comments: &[Comment]) -> Result<HashMap<AttachmentId, Attachment>, ApiError> {
        let mut ids: Vec<&AttachmentId> = comments.iter().flat_map(|c| &c.attachment_ids).collect();
        ids.sort();
        ids.dedup();
        let reads = join_all(ids.iter().map(|id| self.tasks.get_attachment(id))).await;
        let mut found = HashMap::with_capacity(ids.len());
        for (id, read) in ids.into_iter().zip(reads) {
            match read.map_err(|e| store_failure("get attachment", e))? {
                Some(attachment) => {
                    found.insert(id.clone(), attachment);
                }
                None => tracing::warn!(attachment_id = %id, "a comment names an attachment that is not stored"),
            }
        }
        Ok(found)
    }

    async fn list_contacts(&self, params: &Params<'_>) -> Result<Response<Body>, ApiError> {
        let page = query::page(params)?;
        let contacts = self
            .contacts
            .list_contacts(&page)
            .await
            .map_err(|e| list_failure("list contacts", e))?;
        Ok(ok(&PageView::of(&contacts, ContactView::from)))
    }

    async fn get_contact(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such contact");
        let id = ContactId::parse(raw_id).map_err(|_| UNKNOWN)?;
        match self.contacts.get_contact(&id).await {
            Ok(Some(contact)) => Ok(ok(&ContactView::from(&contact))),
            Ok(None) => Err(UNKNOWN),
            Err(store_error) => Err(store_failure("get contact", store_error)),
        }
    }

    /// The attachment and, while the file is available, a URL that downloads it for
    /// `DOWNLOAD_URL_TTL_SECONDS`. An unavailable file still answers 200, with `available: false`
    /// and `download_url` / `expires_at` null.
    async fn get_attachment(&self, raw_id: &str) -> Result<Response<Body>, ApiError> {
        const UNKNOWN: ApiError = ApiError::NotFound("no such attachment");
        let id = AttachmentId::parse(raw_id).map_err(|_| UNKNOWN)?;
        let mut attachment = match self.tasks.get_attachment(&id).await {
            Ok(Some(attachment)) => attachment,
            Ok(None) => return Err(UNKNOWN),
            Err(store_error) => return Err(store_failure("get attachment", store_error)),
        };
        if !attachment.available && attachment.awaiting_upload {
            self.confirm_upload(&mut attachment).await?;
        }
        let mut view = AttachmentDownloadView {
            attachment: AttachmentView::from(&attachment),
            download_url: None,
            expires_at: None,
        };
        if attachment.available {
            let expires_at = Timestamp::now().plus_seconds(DOWNLOAD_URL_TTL_SECONDS);
            match self
                .blobs
                .presign_get(&attachment.blob_key, &attachment.file_name, expires_at)
                .await
            {
                Ok(url) => {
                    view.download_url = Some(url);
                    view.expires_at = Some(expires_at);
                }
                Err(BlobError::NotFound(_)) => {
                    tracing::warn!(attachment_id = %id, "the attachment's file is missing from the bucket");
                    view.attachment.available = false;
                    view.attachment.unavailable_reason = Some("the file is no longer stored");
                }
                Err(blob_error @ BlobError::Unavailable(_)) => {
                    tracing::error!(attachment_id = %id, error = %blob_error, "download URL not signed");
                    return Err(ApiError::Unavailable);
                }
            }
        }
        Ok(ok(&view))
    }
}

impl Api {
    /// A staff upload not seen in the bucket yet: once its bytes are there with the announced
    /// size it is recorded as available (so later reads need no `HeadObject`); until then it
    /// stays unavailable and its reason says why (not uploaded yet, or another size).
    async fn confirm_upload(&self, attachment: &mut Attachment) -> Result<(), ApiError> {
        match self.check_upload_landed(attachment).await? {
            replies::UploadCheck::Landed => {
                attachment.available = true;
                attachment.unavailable_reason = None;
                attachment.awaiting_upload = false;
                self.attachments
                    .put_attachment(attachment)
                    .await
                    .map_err(|e| store_failure("put attachment", e))?;
                tracing::info!(attachment_id = %attachment.id, "upload landed");
            }
            replies::UploadCheck::Missing(reason) => attachment.unavailable_reason = Some(reason),
        }
        Ok(())
    }
}

fn ok(value: &impl Serialize) -> Response<Body> {
    json(StatusCode::OK, to_json(value))
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("views always serialise")
}

/// 204: a change or removal that has nothing to show.
pub(crate) fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("a static response is valid")
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        // Answers carry personal data and signed URLs: no shared or browser caches.
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("a static response is valid")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, error_json(code, message))
}

#[cfg(test)]
mod tests {
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
