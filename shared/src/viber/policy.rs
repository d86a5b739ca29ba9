//! The one retry policy for Viber's answers: what a failed call means for a staff reply, as the
//! staff member should read it, and whether a later attempt may succeed. The numeric `status`
//! decides, never the message (docs/viber-api.md §7); an answer with no `status` (timeout, refused
//! connection, HTTP 5xx) is always worth another attempt.

use super::client::ViberError;

/// A failed `send_message` as the staff member should read it, and whether a later attempt may
/// succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reason: String,
    pub retryable: bool,
}

impl Problem {
    pub fn of(error: &ViberError) -> Problem {
        let (status, message) = match error {
            ViberError::Transport(failure) => {
                let reason = match failure.http_status {
                    Some(http_status) => format!("Viber answered HTTP {http_status}"),
                    None => format!("Viber could not be reached ({failure})"),
                };
                return Problem {
                    reason,
                    retryable: true,
                };
            }
            ViberError::Api { status, message } => (*status, message.as_str()),
        };
        let permanent = |text: &str| Problem {
            reason: text.to_owned(),
            retryable: false,
        };
        match status {
            2 => permanent("Viber refused the bot's token (invalid auth token); reconnect the integration"),
            3 | 4 | 14 | 16 | 17 | 18 | 20 | 22 => Problem {
                reason: format!("Viber refused the message as invalid (status {status}: {message})"),
                retryable: false,
            },
            5 => permanent("the client is not a Viber user (receiver not registered)"),
            6 => permanent("the client is not subscribed to the bot (they must write to it again)"),
            7 => permanent("the bot is blocked by Viber"),
            8 => permanent("the bot's Viber account was not found"),
            9 => permanent("the bot is suspended by Viber"),
            10 => permanent("the bot has no webhook set in Viber; reconnect the integration"),
            11 => permanent("the client's device or Viber version does not support bots"),
            12 => Problem {
                reason: "Viber rate limit (too many messages without a reply from the client)".to_owned(),
                retryable: true,
            },
            13 => permanent("the client's Viber version is too old for this message"),
            15 => permanent("the bot is not authorized by Viber"),
            19 => Problem {
                reason: format!("Viber could not send the message (status 19: {message})"),
                retryable: true,
            },
            21 => permanent("Viber does not deliver bot messages to the client's country"),
            23 => permanent("the bot has used up its free Viber messages for this month"),
            24 => permanent("the bot's Viber account has no balance left"),
            _ => Problem {
                reason: format!("Viber answered an unknown error (status {status}: {message})"),
                retryable: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viber::client::TransportError;

    fn api(status: i64) -> ViberError {
        ViberError::Api {
            status,
            message: "x".into(),
        }
    }

    #[test]
    fn the_numeric_status_decides_whether_to_retry() {
        for status in [12, 19, 25, 999, -1] {
            assert!(Problem::of(&api(status)).retryable, "{status}");
        }
        for status in [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 21, 23, 24] {
            assert!(!Problem::of(&api(status)).retryable, "{status}");
        }
        assert!(Problem::of(&ViberError::Transport("HTTP 503".into())).retryable);
        assert!(Problem::of(&api(6)).reason.contains("not subscribed"));
    }

    #[test]
    fn a_transport_failure_names_the_http_status_when_there_is_one() {
        let http = ViberError::Transport(TransportError::http(
            "send_message",
            reqwest::StatusCode::INTERNAL_SERVER_ERROR,
        ));
        assert_eq!(
            Problem::of(&http),
            Problem {
                reason: "Viber answered HTTP 500".into(),
                retryable: true
            }
        );
        let timeout = Problem::of(&ViberError::Transport("timed out: operation timed out".into()));
        assert_eq!(
            timeout.reason,
            "Viber could not be reached (timed out: operation timed out)"
        );
        assert!(timeout.retryable);
    }
}
