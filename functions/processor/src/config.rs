//! The processor Lambda's settings, read once at INIT.

use shared::config::{
    ConfigError, Environment, INBOUND_QUEUE_URL, MEDIA_QUEUE_URL, RUST_LOG, TABLE_NAME, Variable, process_env,
};

/// The inbound queue's `maxReceiveCount`, as its redrive policy sets it.
pub const INBOUND_MAX_RECEIVES: Variable = Variable::optional("INBOUND_MAX_RECEIVES");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Where it queues the copies of clients' media files and avatars (the media worker's queue).
    pub media_queue_url: String,
    /// The queue it consumes, for the back-off of a retried record.
    pub inbound_queue_url: String,
    /// `INBOUND_MAX_RECEIVES`, else [`crate::DEFAULT_MAX_RECEIVES`].
    pub max_receives: u32,
    /// `RUST_LOG`, for `shared::telemetry`.
    pub log_filter: Option<String>,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads.
    pub const VARIABLES: &[Variable] = &[
        TABLE_NAME,
        MEDIA_QUEUE_URL,
        INBOUND_QUEUE_URL,
        INBOUND_MAX_RECEIVES,
        RUST_LOG,
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        Ok(Self {
            table_name: env.required(TABLE_NAME)?,
            media_queue_url: env.required(MEDIA_QUEUE_URL)?,
            inbound_queue_url: env.required(INBOUND_QUEUE_URL)?,
            max_receives: env.max_receives(INBOUND_MAX_RECEIVES, crate::DEFAULT_MAX_RECEIVES)?,
            log_filter: env.log_filter(),
        })
    }
}

#[cfg(test)]
mod tests {
    use testkit::config::{check_variables, lookup};

    use super::*;

    const COMPLETE: &[(&str, &str)] = &[
        ("TABLE_NAME", "viberdesk"),
        ("MEDIA_QUEUE_URL", "https://sqs.example/media"),
        ("INBOUND_QUEUE_URL", "https://sqs.example/inbound.fifo"),
        ("INBOUND_MAX_RECEIVES", "7"),
        ("RUST_LOG", "info"),
    ];

    #[test]
    fn reads_exactly_its_variables() {
        let config = check_variables(Config::VARIABLES, COMPLETE, |env| Config::from_lookup(env));
        assert_eq!(
            config,
            Config {
                table_name: "viberdesk".into(),
                media_queue_url: "https://sqs.example/media".into(),
                inbound_queue_url: "https://sqs.example/inbound.fifo".into(),
                max_receives: 7,
                log_filter: Some("info".into()),
            }
        );
    }

    #[test]
    fn max_receives_defaults_and_refuses_zero() {
        let unset = &[
            ("TABLE_NAME", "viberdesk"),
            ("MEDIA_QUEUE_URL", "https://sqs.example/media"),
            ("INBOUND_QUEUE_URL", "https://sqs.example/inbound.fifo"),
        ];
        let config = Config::from_lookup(lookup(unset)).unwrap();
        assert_eq!(config.max_receives, crate::DEFAULT_MAX_RECEIVES);

        let zero = &[
            ("TABLE_NAME", "viberdesk"),
            ("MEDIA_QUEUE_URL", "https://sqs.example/media"),
            ("INBOUND_QUEUE_URL", "https://sqs.example/inbound.fifo"),
            ("INBOUND_MAX_RECEIVES", "0"),
        ];
        assert!(matches!(
            Config::from_lookup(lookup(zero)),
            Err(ConfigError::Invalid {
                name: "INBOUND_MAX_RECEIVES",
                ..
            })
        ));
    }
}
