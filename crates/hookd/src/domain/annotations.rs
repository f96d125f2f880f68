//! An endpoint's `description` and `metadata`: free text and a small string map for the people
//! and systems that manage endpoints (a customer's own ids, a team name). hookd stores and
//! returns them and never reads them to decide anything.
//!
//! The bounds follow Stripe's metadata (50 keys, keys up to 40 characters, values up to 500),
//! which Svix's users also recognise: small enough that a listing of 100 endpoints stays a
//! small answer, large enough for ids and labels.

use std::collections::BTreeMap;

use super::FieldError;

pub const DESCRIPTION_MAX: usize = 1024;
pub const METADATA_MAX_KEYS: usize = 50;
pub const METADATA_KEY_MAX: usize = 40;
pub const METADATA_VALUE_MAX: usize = 500;

/// String → string, kept sorted so an endpoint always reads back the same.
pub type Metadata = BTreeMap<String, String>;

/// A description: up to [`DESCRIPTION_MAX`] characters; line breaks and tabs are allowed, other
/// control characters are not. The empty string means "no description".
pub fn parse_description(param: &str, raw: &str) -> Result<String, FieldError> {
    let count = raw.chars().count();
    if count > DESCRIPTION_MAX {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {DESCRIPTION_MAX} characters (got {count})"),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain control characters other than line breaks and tabs"),
        ));
    }
    Ok(raw.to_string())
}

/// Metadata: at most [`METADATA_MAX_KEYS`] entries; keys 1–[`METADATA_KEY_MAX`] printable
/// characters, values up to [`METADATA_VALUE_MAX`] characters without control characters.
/// The error names the offending entry (`metadata.<key>`) where there is one.
pub fn parse_metadata(param: &str, raw: &BTreeMap<String, String>) -> Result<Metadata, FieldError> {
    if raw.len() > METADATA_MAX_KEYS {
        return Err(FieldError::new(
            param,
            format!(
                "{param} may have at most {METADATA_MAX_KEYS} keys (got {})",
                raw.len()
            ),
        ));
    }
    for (key, value) in raw {
        let shown: String = key.chars().take(METADATA_KEY_MAX).collect();
        let key_count = key.chars().count();
        if key.trim().is_empty()
            || key_count > METADATA_KEY_MAX
            || key.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                param,
                format!(
                    "{param} keys must be 1–{METADATA_KEY_MAX} printable characters (got {shown:?}, {key_count} characters)"
                ),
            ));
        }
        let value_count = value.chars().count();
        if value_count > METADATA_VALUE_MAX || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                format!("{param}.{key}"),
                format!(
                    "{param}.{key} must be at most {METADATA_VALUE_MAX} characters without control characters (got {value_count})"
                ),
            ));
        }
    }
    Ok(raw.clone())
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn descriptions() {
        assert_eq!(parse_description("description", "").unwrap(), "");
        assert!(parse_description("description", "Line one\nline two\ttab").is_ok());
        assert!(parse_description("description", &"é".repeat(DESCRIPTION_MAX)).is_ok());
        let err = parse_description("description", &"a".repeat(DESCRIPTION_MAX + 1)).unwrap_err();
        assert_eq!(err.param, "description");
        assert!(parse_description("description", "bell\u{7}").is_err());
    }

    #[test]
    fn metadata_bounds() {
        assert!(parse_metadata("metadata", &map(&[])).unwrap().is_empty());
        assert!(parse_metadata("metadata", &map(&[("team", "billing"), ("empty", "")])).is_ok());
        let many: BTreeMap<String, String> = (0..=METADATA_MAX_KEYS)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(
            parse_metadata("metadata", &many).unwrap_err().param,
            "metadata"
        );
        let long_key = "k".repeat(METADATA_KEY_MAX + 1);
        assert!(parse_metadata("metadata", &map(&[(&long_key, "v")])).is_err());
        assert!(parse_metadata("metadata", &map(&[("", "v")])).is_err());
        assert!(parse_metadata("metadata", &map(&[("a\nb", "v")])).is_err());
        let long_value = "v".repeat(METADATA_VALUE_MAX + 1);
        let err = parse_metadata("metadata", &map(&[("team", &long_value)])).unwrap_err();
        assert_eq!(err.param, "metadata.team");
        assert!(parse_metadata("metadata", &map(&[("team", "a\u{0}b")])).is_err());
    }
}
