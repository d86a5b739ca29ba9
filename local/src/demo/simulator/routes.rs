//! The simulator's HTTP surface, all under `/simulator` and served only in demo mode
//! (docs/demo.md):
//!
//! | route | what |
//! | --- | --- |
//! | `POST /simulator/pa/{endpoint}` | the Viber Bot API the stack's Viber client is pointed at |
//! | `GET /simulator` | the client simulator page; its files under `/simulator/assets/{version}/` |
//! | `GET /simulator/api/state` | bots, clients, one chat, faults and log, for the page |
//! | `POST /simulator/api/clients` | a new simulated client |
//! | `POST /simulator/api/clients/{key}/messages` | the client writes text, a sticker, a contact, a location, a link |
//! | `POST /simulator/api/clients/{key}/files` | the client sends a picture, video or file (raw body, `X-File-Name`) |
//! | `POST /simulator/api/clients/{key}/conversation` | the client opens the chat (`conversation_started`) |
//! | `POST /simulator/api/clients/{key}/subscription` | `{"subscribed": bool}` |
//! | `POST /simulator/api/clients/{key}/seen` | the client's chat is on screen: `seen` receipts |
//! | `POST`/`DELETE /simulator/api/faults` | misbehave on the next calls / stop |
//! | `POST /simulator/api/duplicate` | re-send the last callback |
//! | `GET /simulator/media/{id}/{name}?Expires=…` | a file, behind a signed link that expires |
//! | `GET /simulator/avatars/{name}.svg`, `GET /simulator/stickers/{id}.png` | generated pictures |
//!
//! The page's POSTs need a JSON body (or the `X-File-Name` header), which a form on another site
//! cannot send without the browser asking first: the simulator answers no such preflight.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::http::error_json;

use super::state::{DeliveryFault, NewClient, Refused, SendFault};
use super::{ApiAnswer, ClientAction, ClientFile, Simulator, images, media, page};

/// JSON bodies of the page's requests are small.
const MAX_JSON_BYTES: usize = 64 * 1024;
/// The most faults asked for at once.
const MAX_FAULTS_AT_ONCE: usize = 20;

pub fn router(simulator: Arc<Simulator>) -> Router {
    Router::new()
        .route("/simulator", get(page_index))
        .route("/simulator/", get(page_index))
        .route("/simulator/assets/{version}/{*path}", get(page_asset))
        .route("/simulator/pa/{endpoint}", post(viber_api))
        .route("/simulator/api/state", get(view))
        .route("/simulator/api/clients", post(create_client))
        .route("/simulator/api/clients/{key}/messages", post(client_message))
        .route("/simulator/api/clients/{key}/files", post(client_file))
        .route("/simulator/api/clients/{key}/conversation", post(conversation))
        .route("/simulator/api/clients/{key}/subscription", post(subscription))
        .route("/simulator/api/clients/{key}/seen", post(seen))
        .route("/simulator/api/faults", post(add_faults).delete(clear_faults))
        .route("/simulator/api/duplicate", post(duplicate))
        .route("/simulator/media/{id}/{name}", get(media_file))
        .route("/simulator/avatars/{file}", get(avatar))
        .route("/simulator/stickers/{file}", get(sticker))
        .layer(axum::middleware::map_response(secured))
        .with_state(simulator)
}

/// Every answer: the inbox's CSP (only this origin, no inline script or style, no framing),
/// `nosniff` and no referrer.
async fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(api::web::CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        error_json(code, message),
    )
        .into_response()
}

fn refused(refusal: Refused) -> Response {
    let (status, code) = match &refusal {
        Refused::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        Refused::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Refused::Full => (StatusCode::CONFLICT, "full"),
    };
    error(status, code, &refusal.to_string())
}

fn json_answer(status: StatusCode, value: impl serde::Serialize) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string(&value).expect("answers serialise"),
    )
        .into_response()
}

/// Why a body of the page was refused.
struct BadBody {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for BadBody {
    fn into_response(self) -> Response {
        error(self.status, self.code, &self.message)
    }
}

/// A JSON body of the page, refused unless it says it is JSON (see the module's note).
fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, BadBody> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(BadBody {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "not_json",
            message: "send JSON with Content-Type: application/json".to_owned(),
        });
    }
    if body.len() > MAX_JSON_BYTES {
        return Err(BadBody {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: "the body is over 64 KB".to_owned(),
        });
    }
    serde_json::from_slice(body).map_err(|e| BadBody {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_json",
        message: e.to_string(),
    })
}

async fn page_index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, api::web::REVALIDATE),
        ],
        page::SITE.index.clone(),
    )
        .into_response()
}

async fn page_asset(Path((version, path)): Path<(String, String)>) -> Response {
    match page::asset(&version, &path) {
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, api::web::IMMUTABLE),
            ],
            bytes,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}

/// `POST /simulator/pa/{endpoint}`: the Viber API, with the answer Viber would give (or none).
async fn viber_api(
    State(simulator): State<Arc<Simulator>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // Viber's limit is 30 KB; read a little more to be able to say so.
    let body = match axum::body::to_bytes(request.into_body(), super::rules::MAX_REQUEST_BYTES * 4).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let auth = headers
        .get(shared::viber::client::AUTH_HEADER)
        .and_then(|v| v.to_str().ok());
    match simulator.api(&endpoint, auth, &body).await {
        ApiAnswer::Json(value) => json_answer(StatusCode::OK, value),
        ApiAnswer::Http(status) => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        ApiAnswer::Drop => dropped_connection(),
    }
}

/// An answer whose body fails before its first byte: the server closes the connection, and the
/// caller sees a transport error, not an answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the simulator drops the connection, as asked",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "64")
        .body(Body::from_stream(failing))
        .expect("a valid response")
}

#[derive(Deserialize)]
struct ViewQuery {
    client: Option<String>,
    clients_version: Option<u64>,
    #[serde(default)]
    log_after: u64,
}

async fn view(State(simulator): State<Arc<Simulator>>, Query(query): Query<ViewQuery>) -> Response {
    json_answer(
        StatusCode::OK,
        simulator.view(query.client.as_deref(), query.clients_version, query.log_after),
    )
}

async fn create_client(State(simulator): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    let new: NewClient = match json_body(&headers, &body) {
        Ok(new) => new,
        Err(bad) => return bad.into_response(),
    };
    match simulator.create_client(new) {
        Ok(client) => json_answer(StatusCode::CREATED, client),
        Err(refusal) => refused(refusal),
    }
}

async fn client_message(
    State(simulator): State<Arc<Simulator>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action: ClientAction = match json_body(&headers, &body) {
        Ok(action) => action,
        Err(bad) => return bad.into_response(),
    };
    match simulator.client_acts(&key, action).await {
        Ok(outcome) => json_answer(StatusCode::OK, outcome),
        Err(refusal) => refused(refusal),
    }
}

/// The raw file as the body; its name (percent-encoded) in `X-File-Name`, an optional caption
/// (percent-encoded) in `X-Caption`.
async fn client_file(State(simulator): State<Arc<Simulator>>, Path(key): Path<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header_text = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| urlencoding::decode(v).map(|s| s.into_owned()).unwrap_or_default())
    };
    let Some(file_name) = header_text("x-file-name") else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing_file_name",
            "name the file in X-File-Name",
        );
    };
    let caption = header_text("x-caption").unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = match axum::body::to_bytes(body, media::MAX_FILE_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "Viber carries files up to 50 MB",
            );
        }
    };
    let file = ClientFile {
        file_name,
        content_type,
        bytes,
        caption,
    };
    match simulator.client_sends_file(&key, file).await {
        Ok(outcome) => json_answer(StatusCode::OK, outcome),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConversationRequest {
    context: Option<String>,
}

async fn conversation(
    State(simulator): State<Arc<Simulator>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: ConversationRequest = match json_body(&headers, &body) {
        Ok(request) => request,
        Err(bad) => return bad.into_response(),
    };
    match simulator.start_conversation(&key, request.context).await {
        Ok(outcome) => json_answer(StatusCode::OK, outcome),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionRequest {
    subscribed: bool,
}

async fn subscription(
    State(simulator): State<Arc<Simulator>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: SubscriptionRequest = match json_body(&headers, &body) {
        Ok(request) => request,
        Err(bad) => return bad.into_response(),
    };
    match simulator.set_subscription(&key, request.subscribed).await {
        Ok(outcome) => json_answer(StatusCode::OK, outcome),
        Err(refusal) => refused(refusal),
    }
}

async fn seen(
    State(simulator): State<Arc<Simulator>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(bad) = json_body::<serde_json::Value>(&headers, &body) {
        return bad.into_response();
    }
    match simulator.chat_open(&key) {
        Ok(count) => json_answer(StatusCode::OK, serde_json::json!({"seen": count})),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", untagged)]
enum Fault {
    Send { send: SendFault, count: usize },
    Delivery { delivery: DeliveryFault, count: usize },
}

async fn add_faults(State(simulator): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault: Fault = match json_body(&headers, &body) {
        Ok(fault) => fault,
        Err(bad) => return bad.into_response(),
    };
    let added = match fault {
        Fault::Send { send, count } => simulator.add_send_faults(send, count.min(MAX_FAULTS_AT_ONCE)),
        Fault::Delivery { delivery, count } => simulator.add_delivery_faults(delivery, count.min(MAX_FAULTS_AT_ONCE)),
    };
    json_answer(StatusCode::OK, serde_json::json!({"added": added}))
}

async fn clear_faults(State(simulator): State<Arc<Simulator>>) -> Response {
    simulator.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn duplicate(State(simulator): State<Arc<Simulator>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(bad) = json_body::<serde_json::Value>(&headers, &body) {
        return bad.into_response();
    }
    match simulator.resend_last().await {
        Ok(outcome) => json_answer(StatusCode::OK, outcome),
        Err(refusal) => refused(refusal),
    }
}

/// A file behind a signed link: pictures shown inline, anything else downloaded, never run.
async fn media_file(
    State(simulator): State<Arc<Simulator>>,
    Path((id, name)): Path<(u64, String)>,
    request: Request,
) -> Response {
    let query = request.uri().query().unwrap_or_default();
    match simulator.media_file(id, &name, query) {
        Ok(file) => {
            let inline = matches!(
                file.content_type.split(';').next().unwrap_or("").trim(),
                "image/jpeg" | "image/png" | "image/gif" | "video/mp4"
            );
            let disposition = format!(
                "{}; filename*=UTF-8''{}",
                if inline { "inline" } else { "attachment" },
                urlencoding::encode(&file.file_name)
            );
            (
                [
                    (header::CONTENT_TYPE, file.content_type.clone()),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
                ],
                file.bytes,
            )
                .into_response()
        }
        Err(403) => error(
            StatusCode::FORBIDDEN,
            "expired_or_invalid",
            "this link has expired or is not valid",
        ),
        Err(_) => error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}

async fn avatar(State(simulator): State<Arc<Simulator>>, Path(file): Path<String>) -> Response {
    let Some(svg) = file.strip_suffix(".svg").and_then(|name| simulator.avatar(name)) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such avatar");
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        svg,
    )
        .into_response()
}

async fn sticker(Path(file): Path<String>) -> Response {
    let png = match file.strip_suffix(".png") {
        Some("video") => images::video_thumbnail_png(),
        Some(id) => match id.parse::<u64>() {
            Ok(id) if images::STICKERS.iter().any(|(known, _)| *known == id) => images::sticker_png(id),
            _ => return error(StatusCode::NOT_FOUND, "not_found", "no such sticker"),
        },
        None => return error(StatusCode::NOT_FOUND, "not_found", "no such sticker"),
    };
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        png,
    )
        .into_response()
}
