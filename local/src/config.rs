//! What `viberdesk-local` reads from the environment besides its flags, with the functions' own
//! variable names: the log filter, and which adapters to run on. (Flags with an environment
//! fallback, such as `--viber-api-url` / `VIBER_API_URL`, are read by clap.)

use shared::config::{
    ATTACHMENTS_BUCKET, ConfigError, Environment, INBOUND_QUEUE_URL, MEDIA_QUEUE_URL, OUTBOUND_QUEUE_URL, TABLE_NAME,
    Variable, process_env,
};

/// The AWS SDK's endpoint override (the SDK reads it too): set, with `TABLE_NAME`, the stack runs
/// on AWS or an emulator.
pub const AWS_ENDPOINT_URL: Variable = Variable::optional("AWS_ENDPOINT_URL");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `RUST_LOG`, for `shared::telemetry`.
    pub log_filter: Option<String>,
    pub backend: BackendConfig,
}

/// The adapters: in memory, unless an endpoint and a table are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendConfig {
    Memory,
    Aws(AwsResources),
}

/// The resources the Lambdas are given, by the same variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    pub table_name: String,
    pub attachments_bucket: String,
    pub inbound_queue_url: String,
    pub outbound_queue_url: String,
    pub media_queue_url: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        let backend = match (env.get(AWS_ENDPOINT_URL), env.get(TABLE_NAME)) {
            (Some(_), Some(table_name)) => BackendConfig::Aws(AwsResources {
                table_name,
                attachments_bucket: env.required(ATTACHMENTS_BUCKET)?,
                inbound_queue_url: env.required(INBOUND_QUEUE_URL)?,
                outbound_queue_url: env.required(OUTBOUND_QUEUE_URL)?,
                media_queue_url: env.required(MEDIA_QUEUE_URL)?,
            }),
            _ => BackendConfig::Memory,
        };
        Ok(Self {
            log_filter: env.log_filter(),
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use testkit::config::lookup;

    use super::*;

    const AWS: &[(&str, &str)] = &[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ("TABLE_NAME", "viberdesk"),
        ("ATTACHMENTS_BUCKET", "attachments"),
        ("INBOUND_QUEUE_URL", "http://127.0.0.1:5000/inbound.fifo"),
        ("OUTBOUND_QUEUE_URL", "http://127.0.0.1:5000/outbound"),
        ("MEDIA_QUEUE_URL", "http://127.0.0.1:5000/media"),
        ("RUST_LOG", "debug"),
    ];

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        AWS.iter().copied().filter(|(n, _)| *n != name).collect()
    }

    #[test]
    fn an_endpoint_and_a_table_select_aws_with_the_functions_variables() {
        assert_eq!(
            Config::from_lookup(lookup(AWS)),
            Ok(Config {
                log_filter: Some("debug".into()),
                backend: BackendConfig::Aws(AwsResources {
                    table_name: "viberdesk".into(),
                    attachments_bucket: "attachments".into(),
                    inbound_queue_url: "http://127.0.0.1:5000/inbound.fifo".into(),
                    outbound_queue_url: "http://127.0.0.1:5000/outbound".into(),
                    media_queue_url: "http://127.0.0.1:5000/media".into(),
                }),
            })
        );
        for required in [
            "ATTACHMENTS_BUCKET",
            "INBOUND_QUEUE_URL",
            "OUTBOUND_QUEUE_URL",
            "MEDIA_QUEUE_URL",
        ] {
            assert_eq!(
                Config::from_lookup(lookup(&without(required))),
                Err(ConfigError::Missing(required))
            );
        }
    }

    #[test]
    fn without_an_endpoint_or_a_table_the_stack_runs_in_memory() {
        for missing in ["AWS_ENDPOINT_URL", "TABLE_NAME"] {
            let config = Config::from_lookup(lookup(&without(missing))).unwrap();
            assert_eq!(config.backend, BackendConfig::Memory, "without {missing}");
        }
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Ok(Config {
                log_filter: None,
                backend: BackendConfig::Memory
            })
        );
    }
}
