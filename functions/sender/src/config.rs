//! The sender Lambda's settings, read once at INIT.

use shared::config::{
    ATTACHMENTS_BUCKET, ConfigError, Environment, OUTBOUND_QUEUE_URL, RUST_LOG, TABLE_NAME, VIBER_API_URL, Variable,
    process_env,
};

/// The outbound queue's `maxReceiveCount`, as its redrive policy sets it.
pub const OUTBOUND_MAX_RECEIVES: Variable = Variable::optional("OUTBOUND_MAX_RECEIVES");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Where staff attachments are read from.
    pub attachments_bucket: String,
    /// The queue it consumes, for the back-off of a retried record.
    pub outbound_queue_url: String,
    pub viber_api_url: String,
    /// `OUTBOUND_MAX_RECEIVES`, else [`crate::DEFAULT_MAX_RECEIVES`].
    pub max_receives: u32,
    /// `RUST_LOG`, for `shared::telemetry`.
    pub log_filter: Option<String>,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads.
    pub const VARIABLES: &[Variable] = &[
        TABLE_NAME,
        ATTACHMENTS_BUCKET,
        OUTBOUND_QUEUE_URL,
        VIBER_API_URL,
        OUTBOUND_MAX_RECEIVES,
        RUST_LOG,
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        Ok(Self {
            table_name: env.required(TABLE_NAME)?,
            attachments_bucket: env.required(ATTACHMENTS_BUCKET)?,
            outbound_queue_url: env.required(OUTBOUND_QUEUE_URL)?,
            viber_api_url: env.viber_api_url(),
            max_receives: env.max_receives(OUTBOUND_MAX_RECEIVES, crate::DEFAULT_MAX_RECEIVES)?,
            log_filter: env.log_filter(),
        })
    }
}

#[cfg(test)]
mod tests {
    use shared::config::DEFAULT_VIBER_API_URL;
    use testkit::config::{check_variables, lookup};

    use super::*;

    #[test]
    fn reads_exactly_its_variables() {
        let config = check_variables(
            Config::VARIABLES,
            &[
                ("TABLE_NAME", "viberdesk"),
                ("ATTACHMENTS_BUCKET", "attachments"),
                ("OUTBOUND_QUEUE_URL", "https://sqs.example/outbound"),
                ("VIBER_API_URL", "http://127.0.0.1:9/pa"),
                ("OUTBOUND_MAX_RECEIVES", "3"),
                ("RUST_LOG", "info"),
            ],
            |env| Config::from_lookup(env),
        );
        assert_eq!(
            config,
            Config {
                table_name: "viberdesk".into(),
                attachments_bucket: "attachments".into(),
                outbound_queue_url: "https://sqs.example/outbound".into(),
                viber_api_url: "http://127.0.0.1:9/pa".into(),
                max_receives: 3,
                log_filter: Some("info".into()),
            }
        );
    }

    #[test]
    fn defaults_to_vibers_api_and_five_receives_and_refuses_a_bad_count() {
        let required = [
            ("TABLE_NAME", "viberdesk"),
            ("ATTACHMENTS_BUCKET", "attachments"),
            ("OUTBOUND_QUEUE_URL", "https://sqs.example/outbound"),
        ];
        let config = Config::from_lookup(lookup(&required)).unwrap();
        assert_eq!(config.viber_api_url, DEFAULT_VIBER_API_URL);
        assert_eq!(config.max_receives, crate::DEFAULT_MAX_RECEIVES);

        let bad = [required.as_slice(), &[("OUTBOUND_MAX_RECEIVES", "many")]].concat();
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid {
                name: "OUTBOUND_MAX_RECEIVES",
                ..
            })
        ));
    }
}
