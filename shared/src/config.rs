//! Configuration from the environment: the same variable names in Lambda and locally.

pub const DEFAULT_VIBER_API_URL: &str = "https://chatapi.viber.com/pa";

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingVariable(pub &'static str);

/// A variable the function cannot run without.
pub fn required(name: &'static str) -> Result<String, MissingVariable> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingVariable(name))
}

/// `VIBER_API_URL`, or Viber's own.
pub fn viber_api_url() -> String {
    std::env::var("VIBER_API_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_VIBER_API_URL.to_owned())
}

/// A queue's `maxReceiveCount` as the consumer is told it (`variable`), or `default`.
pub fn max_receives(variable: &'static str, default: u32) -> Result<u32, String> {
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("{variable} must be a whole number of at least 1, not {value:?}")),
        _ => Ok(default),
    }
}

/// `PUBLIC_BASE_URL`: the public base of the HTTP API, for webhook URLs (`None` when unset).
pub fn public_base_url() -> Option<String> {
    std::env::var("PUBLIC_BASE_URL")
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty())
}
