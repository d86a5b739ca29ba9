//! The media worker Lambda's settings, read once at INIT.

use shared::config::{
    ATTACHMENTS_BUCKET, ConfigError, Environment, MEDIA_QUEUE_URL, RUST_LOG, TABLE_NAME, Variable, process_env,
};

/// The media queue's `maxReceiveCount`, as its redrive policy sets it.
pub const MEDIA_MAX_RECEIVES: Variable = Variable::optional("MEDIA_MAX_RECEIVES");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Where clients' media files and contacts' avatars are copied.
    pub attachments_bucket: String,
    /// The queue it consumes, for the back-off of a retried job.
    pub media_queue_url: String,
    /// `MEDIA_MAX_RECEIVES`, else [`super::DEFAULT_MAX_RECEIVES`].
    pub max_receives: u32,
    /// `RUST_LOG`, for `shared::telemetry`.
    pub log_filter: Option<String>,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads.
    pub const VARIABLES: &[Variable] = &[
        TABLE_NAME,
        ATTACHMENTS_BUCKET,
        MEDIA_QUEUE_URL,
        MEDIA_MAX_RECEIVES,
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
            media_queue_url: env.required(MEDIA_QUEUE_URL)?,
            max_receives: env.max_receives(MEDIA_MAX_RECEIVES, super::DEFAULT_MAX_RECEIVES)?,
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
        ("ATTACHMENTS_BUCKET", "attachments"),
        ("MEDIA_QUEUE_URL", "https://sqs.example/media"),
        ("MEDIA_MAX_RECEIVES", "7"),
        ("RUST_LOG", "info"),
    ];

    #[test]
    fn reads_exactly_its_variables() {
        let config = check_variables(Config::VARIABLES, COMPLETE, |env| Config::from_lookup(env));
        assert_eq!(
            config,
            Config {
                table_name: "viberdesk".into(),
                attachments_bucket: "attachments".into(),
                media_queue_url: "https://sqs.example/media".into(),
                max_receives: 7,
                log_filter: Some("info".into()),
            }
        );
    }

    #[test]
    fn max_receives_defaults() {
        let unset = &[
            ("TABLE_NAME", "viberdesk"),
            ("ATTACHMENTS_BUCKET", "attachments"),
            ("MEDIA_QUEUE_URL", "https://sqs.example/media"),
        ];
        let config = Config::from_lookup(lookup(unset)).unwrap();
        assert_eq!(config.max_receives, super::super::DEFAULT_MAX_RECEIVES);
    }
}
