//! The webhook Lambda's settings, read once at INIT.

use shared::config::{ConfigError, Environment, INBOUND_QUEUE_URL, RUST_LOG, TABLE_NAME, Variable, process_env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Where verified callbacks go (the processor's FIFO queue).
    pub inbound_queue_url: String,
    /// `RUST_LOG`, for `shared::telemetry`.
    pub log_filter: Option<String>,
}

impl Config {
    /// Every variable [`Config::from_lookup`] reads.
    pub const VARIABLES: &[Variable] = &[TABLE_NAME, INBOUND_QUEUE_URL, RUST_LOG];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        Ok(Self {
            table_name: env.required(TABLE_NAME)?,
            inbound_queue_url: env.required(INBOUND_QUEUE_URL)?,
            log_filter: env.log_filter(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exactly_its_variables() {
        let config = testkit::config::check_variables(
            Config::VARIABLES,
            &[
                ("TABLE_NAME", "viberdesk"),
                ("INBOUND_QUEUE_URL", "https://sqs.example/inbound.fifo"),
                ("RUST_LOG", "debug"),
            ],
            |lookup| Config::from_lookup(lookup),
        );
        assert_eq!(
            config,
            Config {
                table_name: "viberdesk".into(),
                inbound_queue_url: "https://sqs.example/inbound.fifo".into(),
                log_filter: Some("debug".into()),
            }
        );
    }
}
