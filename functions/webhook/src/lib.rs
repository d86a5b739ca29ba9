//! The webhook Lambda's handler: Viber POSTs every callback to `/viber/{integration_id}`.
//!
//! Checks run cheapest first and none of them enqueues anything: method (405), body size (413),
//! integration (404), signature (401), JSON (400). A verified callback goes to the inbound FIFO
//! queue, and Viber gets its 200 only once the queue has it, so a failure makes Viber re-send.

pub mod config;

use std::sync::Arc;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::cache::{DEFAULT_TTL, IntegrationCache};
use shared::http::error_json;
use shared::ids::IntegrationId;
use shared::inbound::{EnvelopeError, queue_message};
use shared::model::Integration;
use shared::ports::{MessageQueue, WebhookStore};
use shared::time::Timestamp;
use shared::viber::Callback;
use shared::viber::message::{SenderIdentity, welcome_message};
use shared::viber::signature::{self, SIGNATURE_HEADER};

/// Larger bodies are refused before any work: Viber's callbacks are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The route's path parameter (`/viber/{integration_id}`).
pub const INTEGRATION_ID_PARAMETER: &str = "integration_id";

pub struct Webhook {
    integrations: Arc<IntegrationCache>,
    queue: Arc<dyn MessageQueue>,
}

impl Webhook {
    pub fn new(store: Arc<dyn WebhookStore>, queue: Arc<dyn MessageQueue>) -> Self {
        Self::with_cache(Arc::new(IntegrationCache::new(store, DEFAULT_TTL)), queue)
    }

    /// With a cache shared with code that changes integrations (the local stack's API).
    pub fn with_cache(integrations: Arc<IntegrationCache>, queue: Arc<dyn MessageQueue>) -> Self {
        Self { integrations, queue }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let received_at = Timestamp::now();
        if request.method() != Method::POST {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Viber callbacks are POSTed",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return response;
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is over 1 MiB",
            );
        }
        let Some(id) = request
            .path_parameters_ref()
            .and_then(|parameters| parameters.first(INTEGRATION_ID_PARAMETER))
            .and_then(|raw| IntegrationId::parse(raw).ok())
        else {
            return unknown_integration();
        };
        let signature = request
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok());
        let integration = match self.verified_integration(&id, body, signature).await {
            Ok(integration) => integration,
            Err(response) => return response,
        };
        let callback = match Callback::from_slice(body) {
            Ok(callback) => callback,
            Err(parse_error) => {
                tracing::warn!(integration_id = %id, error = %parse_error, "malformed callback refused");
                return error(
                    StatusCode::BAD_REQUEST,
                    "malformed_callback",
                    "the body is not a Viber callback",
                );
            }
        };
        self.accept(&integration, body, &callback, received_at).await
    }

    /// The integration whose token signed `body`. A signature that fails against a cached copy
    /// is checked once more against the stored one, so a rotated token works at once.
    async fn verified_integration(
        &self,
        id: &IntegrationId,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Arc<Integration>, Response<Body>> {
        let lookup = match self.integrations.get(id).await {
            Ok(Some(lookup)) => lookup,
            Ok(None) => return Err(unknown_integration()),
            Err(store_error) => return Err(unavailable(id, &store_error)),
        };
        let mut verdict = signature::verify(lookup.integration.auth_token.expose(), body, signature);
        let mut integration = lookup.integration;
        if verdict == Err(signature::SignatureError::Mismatch) && lookup.cached {
            match self.integrations.refresh(id).await {
                Ok(Some(fresh)) => {
                    verdict = signature::verify(fresh.auth_token.expose(), body, signature);
                    integration = fresh;
                }
                Ok(None) => return Err(unknown_integration()),
                Err(store_error) => return Err(unavailable(id, &store_error)),
            }
        }
        match verdict {
            Ok(()) => Ok(integration),
            Err(reason) => {
                tracing::warn!(integration_id = %id, %reason, "callback signature refused");
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_signature",
                    "missing or invalid X-Viber-Content-Signature",
                ))
            }
        }
    }

    async fn accept(
        &self,
        integration: &Integration,
        body: &[u8],
        callback: &Callback,
        received_at: Timestamp,
    ) -> Response<Body> {
        let event = callback.event_name();
        let token = callback.message_token();
        if let Callback::Webhook(_) = callback {
            tracing::info!(integration_id = %integration.id, "Viber checked the webhook");
            return ok_empty();
        }
        if let Callback::Unknown(_) = callback {
            tracing::warn!(integration_id = %integration.id, event, message_token = token, "unknown event acknowledged");
        }
        let message = match queue_message(&integration.id, body, callback, received_at) {
            Ok(message) => message,
            Err(EnvelopeError::TooLarge(size)) => {
                tracing::error!(integration_id = %integration.id, event, size, "callback too large for the queue");
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the callback does not fit the queue",
                );
            }
            Err(EnvelopeError::NotJson) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "malformed_callback",
                    "the body is not a Viber callback",
                );
            }
        };
        if let Err(queue_error) = self.queue.send(message).await {
            tracing::error!(integration_id = %integration.id, event, message_token = token, error = %queue_error, "enqueue failed; Viber will re-send");
            return error(StatusCode::SERVICE_UNAVAILABLE, "queue_unavailable", "try again later");
        }
        // Every callback passes here: DEBUG, so that INFO holds only what an operator needs
        // (a line per callback is most of the logs' cost, and of the local stack's time under
        // load: `docs/local-load.md`).
        tracing::debug!(integration_id = %integration.id, event, message_token = token, "callback queued");
        match (callback, &integration.options.welcome_message) {
            (Callback::ConversationStarted(_), Some(text)) if !text.trim().is_empty() => {
                let sender = SenderIdentity::new(&integration.bot.name, integration.bot.icon.clone());
                let body = serde_json::to_string(&welcome_message(sender, text)).expect("messages always serialise");
                json(StatusCode::OK, body)
            }
            _ => ok_empty(),
        }
    }
}

fn ok_empty() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::Empty)
        .expect("a static response is valid")
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("a static response is valid")
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, error_json(code, message))
}

fn unknown_integration() -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "unknown_integration",
        "no integration at this URL",
    )
}

fn unavailable(id: &IntegrationId, store_error: &shared::ports::StoreError) -> Response<Body> {
    tracing::error!(integration_id = %id, error = %store_error, "integration lookup failed; Viber will re-send");
    error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "try again later")
}
