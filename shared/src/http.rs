//! What every HTTP answer of viberdesk has in common.

use serde::Serialize;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// `{"error": {"code": "...", "message": "..."}}`.
pub fn error_json(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody {
        error: ErrorDetail { code, message },
    })
    .expect("strings always serialise")
}
