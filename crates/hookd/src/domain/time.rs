//! Timestamps as the API shows them and the database stores them.
//!
//! Stored as integer milliseconds since the Unix epoch (the same column type on SQLite and
//! PostgreSQL, cheap to index and compare); shown as RFC 3339 UTC with second precision
//! (`2023-11-07T05:31:56Z`), as the contract requires.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(test)]
mod props;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn as_unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Accepts any RFC 3339 timestamp (clients may send offsets or fractions).
    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| Self(t.with_timezone(&Utc).timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&raw).ok_or_else(|| {
            serde::de::Error::custom("expected an RFC 3339 timestamp such as 2026-08-01T12:00:00Z")
        })
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .examples([serde_json::json!("2023-11-07T05:31:56Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_second_precision_in_utc() {
        let t = Timestamp::from_millis(1_699_335_116_789);
        assert_eq!(t.to_rfc3339(), "2023-11-07T05:31:56Z");
    }

    #[test]
    fn parses_offsets_into_utc() {
        let t = Timestamp::parse_rfc3339("2023-11-07T06:31:56+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-11-07T05:31:56Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
    }
}
