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
