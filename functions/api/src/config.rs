//! The staff API Lambda's settings, read once at INIT.

use shared::config::{
    ATTACHMENTS_BUCKET, ConfigError, Environment, OUTBOUND_QUEUE_URL, PUBLIC_BASE_URL, RUST_LOG, TABLE_NAME,
    VIBER_API_URL, Variable, process_env,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Where attachments are uploaded and downloaded (presigned URLs).
    pub attachments_bucket: String,
    /// Where staff replies go (the sender's queue).
    pub outbound_queue_url: String,
    /// For connecting bots (account info, set_webhook).
    pub viber_api_url: String,
    /// The base of webhook URLs; without it, `https://{Host}` of the request.
    pub public_base_url: Option<String>,
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
        PUBLIC_BASE_URL,
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
            public_base_url: env.public_base_url(),
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
                ("PUBLIC_BASE_URL", "https://api.example/"),
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
                public_base_url: Some("https://api.example".into()),
                log_filter: Some("info".into()),
            }
        );
    }

    #[test]
    fn defaults_to_vibers_api_and_the_request_host() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "viberdesk"),
            ("ATTACHMENTS_BUCKET", "attachments"),
            ("OUTBOUND_QUEUE_URL", "https://sqs.example/outbound"),
        ]))
        .unwrap();
        assert_eq!(config.viber_api_url, DEFAULT_VIBER_API_URL);
        assert_eq!(config.public_base_url, None);
    }
}
