//! Configuration from the environment: the same variable names in Lambda and locally.
//!
//! Each function has one typed `Config` (`functions/<f>/src/config.rs`), read once in `main` at
//! INIT. It is parsed over a lookup function, so that tests give it a map instead of changing the
//! process's environment, and it lists the [`Variable`]s it reads (`Config::VARIABLES`), which
//! `tests/tests/template.rs` checks against `infra/template.yaml`.

use std::fmt;

pub const DEFAULT_VIBER_API_URL: &str = "https://chatapi.viber.com/pa";

/// The DynamoDB table.
pub const TABLE_NAME: Variable = Variable::required("TABLE_NAME");
/// The inbound FIFO queue (webhook → processor).
pub const INBOUND_QUEUE_URL: Variable = Variable::required("INBOUND_QUEUE_URL");
/// The outbound queue (staff API → sender).
pub const OUTBOUND_QUEUE_URL: Variable = Variable::required("OUTBOUND_QUEUE_URL");
/// The media queue (SQS standard): the processor queues media copies, the media worker consumes them.
pub const MEDIA_QUEUE_URL: Variable = Variable::required("MEDIA_QUEUE_URL");
/// The S3 bucket of attachments.
pub const ATTACHMENTS_BUCKET: Variable = Variable::required("ATTACHMENTS_BUCKET");
/// Viber's Bot API base URL; [`DEFAULT_VIBER_API_URL`] when unset.
pub const VIBER_API_URL: Variable = Variable::optional("VIBER_API_URL");
/// The public base of the HTTP API, for webhook URLs; unset, the API uses the request's Host.
pub const PUBLIC_BASE_URL: Variable = Variable::optional("PUBLIC_BASE_URL");
/// Log filter directives (`info`, `info,shared=debug`); `info` when unset or unparseable.
pub const RUST_LOG: Variable = Variable::optional("RUST_LOG");

/// An environment variable a configuration reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Variable {
    pub name: &'static str,
    /// Without it the function does not start; an optional one has a default in the code.
    pub required: bool,
}

impl Variable {
    pub const fn required(name: &'static str) -> Self {
        Self { name, required: true }
    }

    pub const fn optional(name: &'static str) -> Self {
        Self { name, required: false }
    }
}

/// Why a configuration cannot be read; it names the variable.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The message itself: `main` returns this error at INIT, and Rust prints a returned error with
/// `Debug`, so this is what the Lambda's log shows.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The process's environment, as the lookup of `Config::from_env`. A value that is not Unicode
/// counts as unset. The only place outside the AWS SDK that reads the environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads [`Variable`]s through a lookup (the process environment, or a map in tests). A blank
/// value counts as unset.
pub struct Environment<L> {
    lookup: L,
}

impl<L: Fn(&str) -> Option<String>> Environment<L> {
    pub fn new(lookup: L) -> Self {
        Self { lookup }
    }

    /// The value as set, or `None` when unset or blank.
    pub fn get(&self, variable: Variable) -> Option<String> {
        (self.lookup)(variable.name).filter(|value| !value.trim().is_empty())
    }

    /// A variable the function cannot run without.
    pub fn required(&self, variable: Variable) -> Result<String, ConfigError> {
        debug_assert!(variable.required, "{} is declared optional", variable.name);
        self.get(variable).ok_or(ConfigError::Missing(variable.name))
    }

    /// A queue's `maxReceiveCount` as its consumer is told it (`variable`), or `default`.
    pub fn max_receives(&self, variable: Variable, default: u32) -> Result<u32, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(default);
        };
        value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ConfigError::Invalid {
                name: variable.name,
                reason: format!("must be a whole number of at least 1, not {value:?}"),
            })
    }

    /// `VIBER_API_URL`, or Viber's own.
    pub fn viber_api_url(&self) -> String {
        self.get(VIBER_API_URL)
            .unwrap_or_else(|| DEFAULT_VIBER_API_URL.to_owned())
    }

    /// `PUBLIC_BASE_URL` without a trailing `/` (`None` when unset).
    pub fn public_base_url(&self) -> Option<String> {
        self.get(PUBLIC_BASE_URL)
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
    }

    /// `RUST_LOG` as set, for `shared::telemetry` (which falls back to `info`).
    pub fn log_filter(&self) -> Option<String> {
        (self.lookup)(RUST_LOG.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> Environment<impl Fn(&str) -> Option<String>> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Environment::new(move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn a_required_variable_is_missing_when_unset_or_blank() {
        assert_eq!(
            environment(&[]).required(TABLE_NAME),
            Err(ConfigError::Missing("TABLE_NAME"))
        );
        assert_eq!(
            environment(&[("TABLE_NAME", "  ")]).required(TABLE_NAME),
            Err(ConfigError::Missing("TABLE_NAME"))
        );
        assert_eq!(
            environment(&[("TABLE_NAME", "viberdesk")]).required(TABLE_NAME),
            Ok("viberdesk".to_owned())
        );
    }

    #[test]
    fn max_receives_is_a_whole_number_of_at_least_one_or_the_default() {
        const RECEIVES: Variable = Variable::optional("X_MAX_RECEIVES");
        assert_eq!(environment(&[]).max_receives(RECEIVES, 5), Ok(5));
        assert_eq!(environment(&[("X_MAX_RECEIVES", "")]).max_receives(RECEIVES, 5), Ok(5));
        assert_eq!(
            environment(&[("X_MAX_RECEIVES", " 3 ")]).max_receives(RECEIVES, 5),
            Ok(3)
        );
        for wrong in ["0", "-1", "three", "2.5"] {
            let error = environment(&[("X_MAX_RECEIVES", wrong)])
                .max_receives(RECEIVES, 5)
                .unwrap_err();
            assert!(
                matches!(&error, ConfigError::Invalid { name: "X_MAX_RECEIVES", reason } if reason.contains(wrong)),
                "{error}"
            );
        }
    }

    #[test]
    fn urls_have_their_defaults_and_no_trailing_slash() {
        assert_eq!(environment(&[]).viber_api_url(), DEFAULT_VIBER_API_URL);
        assert_eq!(
            environment(&[("VIBER_API_URL", "http://127.0.0.1:9/pa")]).viber_api_url(),
            "http://127.0.0.1:9/pa"
        );
        assert_eq!(environment(&[]).public_base_url(), None);
        assert_eq!(environment(&[("PUBLIC_BASE_URL", " ")]).public_base_url(), None);
        assert_eq!(
            environment(&[("PUBLIC_BASE_URL", "https://x.example/")]).public_base_url(),
            Some("https://x.example".to_owned())
        );
    }

    #[test]
    fn the_error_names_the_variable_in_both_forms() {
        let missing = ConfigError::Missing("TABLE_NAME");
        assert_eq!(missing.to_string(), "environment variable TABLE_NAME must be set");
        assert_eq!(format!("{missing:?}"), missing.to_string());
        let invalid = ConfigError::Invalid {
            name: "INBOUND_MAX_RECEIVES",
            reason: "must be a whole number of at least 1, not \"0\"".into(),
        };
        assert_eq!(
            format!("{invalid:?}"),
            "environment variable INBOUND_MAX_RECEIVES is invalid: must be a whole number of at least 1, not \"0\""
        );
    }
}
