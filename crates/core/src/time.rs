//! Time as stored and compared everywhere: microseconds since the Unix epoch, UTC.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with microsecond precision (what Prefect's API exchanges).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Micros(pub i64);

/// A timestamp string that is not RFC 3339 / ISO 8601.
#[derive(Debug, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected ISO 8601 like 2026-01-31T12:00:00Z")]
pub struct TimeError {
    input: String,
}

impl Micros {
    /// Converts from a jiff timestamp, truncating below a microsecond.
    pub fn from_timestamp(ts: jiff::Timestamp) -> Self {
        Micros(ts.as_microsecond())
    }

    /// The same instant as a jiff timestamp.
    pub fn to_timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Parses ISO 8601 with an offset (`Z`, `+00:00`) or, failing that, a naive time taken as UTC.
    pub fn parse(input: &str) -> Result<Self, TimeError> {
        let err = || TimeError {
            input: input.to_owned(),
        };
        if let Ok(ts) = input.parse::<jiff::Timestamp>() {
            return Ok(Self::from_timestamp(ts));
        }
        let civil: jiff::civil::DateTime = input.parse().map_err(|_| err())?;
        let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| err())?;
        Ok(Self::from_timestamp(ts.timestamp()))
    }

    /// This instant moved by `seconds` (which may be fractional or negative).
    pub fn plus_seconds(self, seconds: f64) -> Self {
        Micros(self.0.saturating_add((seconds * 1e6).round() as i64))
    }

    /// Seconds from `earlier` to `self`.
    pub fn seconds_since(self, earlier: Micros) -> f64 {
        (self.0 - earlier.0) as f64 / 1e6
    }
}

impl fmt::Display for Micros {
    /// Prefect's format: `2026-11-27T03:07:47.165391Z`, always six fractional digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ts = self.to_timestamp();
        write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// On the wire an instant is an RFC 3339 string (`date-time`).
impl schemars::JsonSchema for Micros {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An instant in RFC 3339, e.g. 2026-01-31T12:00:00.000000Z (a time without an offset is taken as UTC)",
        })
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Micros::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_prefect_and_round_trips() {
        let t = Micros::parse("2026-11-27T03:07:47.165391Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-27T03:07:47.165391Z");
        assert_eq!(
            Micros::parse("2026-11-27T03:07:47.165391+00:00").unwrap(),
            t
        );
        assert_eq!(
            Micros::parse("2026-11-27T04:07:47.165391+01:00").unwrap(),
            t
        );
        assert_eq!(Micros::parse("2026-11-27T03:07:47.165391").unwrap(), t);
        assert_eq!(Micros(0).to_string(), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn rejects_garbage_with_a_helpful_message() {
        let e = Micros::parse("yesterday").unwrap_err().to_string();
        assert!(e.contains("yesterday") && e.contains("ISO 8601"), "{e}");
    }

    #[test]
    fn arithmetic() {
        let t = Micros(1_000_000);
        assert_eq!(t.plus_seconds(1.5), Micros(2_500_000));
        assert_eq!(Micros(2_500_000).seconds_since(t), 1.5);
    }
}
