//! Secrets that must never reach a log line, an error message or an API answer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Viber bot's auth token. `Debug` and `Display` print a placeholder; the value is reachable
/// only through [`AuthToken::expose`], at the places that sign or call Viber.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthToken(String);

impl AuthToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let token = AuthToken::new("445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9");
        assert!(!format!("{token:?}").contains("445da6"));
    }
}
