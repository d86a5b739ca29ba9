//! Every refusal of the staff API, and the one place that turns it into an answer: an HTTP
//! status and `{"error": {"code", "message"}}` (docs/staff-api.md, "Errors"). Handlers return an
//! [`ApiError`]; none of them picks a status.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};
use shared::http::error_json;
use shared::ports::{Conflict, StoreError};

use crate::response::json;

/// The message of a cursor no page handed out (or too long to be one).
const INVALID_CURSOR: &str = "cursor: not a cursor from a previous page of this list";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`, with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: the caller's role does not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404 `not_found`: "no such {what}".
    #[error("no such {0}")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`, with `Allow`.
    #[error("this route answers {}", allow(.0))]
    MethodNotAllowed(&'static [Method]),
    /// 400 `invalid_parameter`: a query parameter (`{parameter}: {why}`).
    #[error("{0}")]
    InvalidParameter(String),
    /// 400 `invalid_cursor`: a cursor no page of this list handed out.
    #[error("{}", INVALID_CURSOR)]
    InvalidCursor,
    /// 400 `invalid_body`: the JSON body, or one of its fields.
    #[error("{0}")]
    InvalidBody(String),
    /// 400 with its own code: a request the API cannot carry out as asked (a reply Viber would
    /// refuse, an upload not there…).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 409: the resource's state does not allow it (the last owner, a bot connected twice…).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 422: the request names something that does not exist, or Viber refused it.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 502: Viber could not be reached.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// A store operation failed: 503 `store_unavailable`, or 500 `internal_error` for an item
    /// that does not decode (logged with the operation when answered, never with the request).
    #[error("{}", store_answer(.source).2)]
    Store {
        operation: &'static str,
        source: StoreError,
    },
    /// 503 `store_unavailable`: the bucket or the queue failed (already logged where it did).
    #[error("try again later")]
    Unavailable,
    /// 500 `configuration_error`.
    #[error("{0}")]
    Misconfigured(&'static str),
}

impl ApiError {
    pub fn invalid_body(message: impl Into<String>) -> Self {
        ApiError::InvalidBody(message.into())
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// The status and error code of this refusal: the API's whole mapping.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            ApiError::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            ApiError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::BadGateway { code, .. } => (StatusCode::BAD_GATEWAY, code),
            ApiError::Store { source, .. } => {
                let (status, code, _) = store_answer(source);
                (status, code)
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            ApiError::Misconfigured(_) => (StatusCode::INTERNAL_SERVER_ERROR, "configuration_error"),
        }
    }

    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// The JSON error answer (and its log line, for a store failure).
    pub fn into_response(self) -> Response<Body> {
        let (status, code) = self.status_and_code();
        if let ApiError::Store { operation, source } = &self {
            match code {
                "internal_error" => tracing::error!(operation, error = %source, "stored item unreadable"),
                "store_unavailable" => tracing::error!(operation, error = %source, "store request failed"),
                _ => {}
            }
        }
        let mut response = json(status, error_json(code, &self.to_string()));
        match self {
            ApiError::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed(allowed) => {
                if let Ok(value) = HeaderValue::from_str(&allow(allowed)) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// A store result whose failure answers as [`ApiError::Store`], naming the operation for the log.
pub trait StoreContext<T> {
    fn context(self, operation: &'static str) -> Result<T, ApiError>;
}

impl<T> StoreContext<T> for Result<T, StoreError> {
    fn context(self, operation: &'static str) -> Result<T, ApiError> {
        self.map_err(|source| ApiError::Store { operation, source })
    }
}

/// How a store failure answers: a cursor no list handed out is the caller's mistake (400); a
/// write to a task deleted meanwhile finds no such task (404); an item that does not decode is
/// our bug (500); anything else may pass on a retry (503).
fn store_answer(error: &StoreError) -> (StatusCode, &'static str, &'static str) {
    match error {
        StoreError::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor", INVALID_CURSOR),
        StoreError::Conflict(Conflict::TaskGone(_)) => (StatusCode::NOT_FOUND, "not_found", "no such task"),
        StoreError::Corrupt(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "a stored record could not be read",
        ),
        StoreError::Unavailable(_) | StoreError::Conflict(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "try again later")
        }
    }
}

fn allow(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let json = match response.into_body() {
            Body::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("not JSON: {other:?}"),
        };
        (status, json)
    }

    #[test]
    fn each_refusal_answers_its_status_code_and_message() {
        let cases = [
            (ApiError::NotFound("task"), 404, "not_found", "no such task"),
            (
                ApiError::Forbidden("only an owner may do this"),
                403,
                "forbidden",
                "only an owner may do this",
            ),
            (
                ApiError::invalid_body("name is required"),
                400,
                "invalid_body",
                "name is required",
            ),
            (ApiError::InvalidCursor, 400, "invalid_cursor", INVALID_CURSOR),
            (
                ApiError::conflict("last_owner", "keep one"),
                409,
                "last_owner",
                "keep one",
            ),
            (
                ApiError::unprocessable("unknown_staff", "no staff member with id x"),
                422,
                "unknown_staff",
                "no staff member with id x",
            ),
            (ApiError::Unavailable, 503, "store_unavailable", "try again later"),
            (
                ApiError::Store {
                    operation: "get task",
                    source: StoreError::Unavailable("down".into()),
                },
                503,
                "store_unavailable",
                "try again later",
            ),
            (
                ApiError::Store {
                    operation: "get task",
                    source: StoreError::Corrupt("no status".into()),
                },
                500,
                "internal_error",
                "a stored record could not be read",
            ),
        ];
        for (error, status, code, message) in cases {
            let (answered, json) = answer(error);
            assert_eq!(answered, status, "{json}");
            assert_eq!(json["error"]["code"], code);
            assert_eq!(json["error"]["message"], message);
        }
    }

    #[test]
    fn a_405_names_the_methods_the_route_answers() {
        let response = ApiError::MethodNotAllowed(&[Method::GET, Method::POST]).into_response();
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
        let (_, json) = answer(ApiError::MethodNotAllowed(&[Method::GET]));
        assert_eq!(json["error"]["message"], "this route answers GET");
        let response = ApiError::Unauthorized("the bearer token is not valid").into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
