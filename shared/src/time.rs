//! Timestamps: RFC 3339 UTC with milliseconds on the wire, milliseconds since the epoch inside.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0 + seconds * 1000)
    }

    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let text = at.format(&Rfc3339).expect("a UTC time always formats as RFC 3339");
        // Always three fractional digits, so the strings also sort as times.
        match text.find('.') {
            Some(dot) => format!("{}.{:03}Z", &text[..dot], self.0.rem_euclid(1000)),
            None => format!("{}.{:03}Z", text.trim_end_matches('Z'), self.0.rem_euclid(1000)),
        }
    }

    pub fn parse_rfc3339(text: &str) -> Result<Self, time::error::Parse> {
        let at = OffsetDateTime::parse(text, &Rfc3339)?;
        Ok(Self((at.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds_and_parses_back() {
        let at = Timestamp::from_millis(1_732_528_955_210);
        assert_eq!(at.to_rfc3339(), "2024-11-25T10:02:35.210Z");
        assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()).unwrap(), at);
        assert_eq!(
            Timestamp::from_millis(1_732_528_955_000).to_rfc3339(),
            "2024-11-25T10:02:35.000Z"
        );
    }
}
