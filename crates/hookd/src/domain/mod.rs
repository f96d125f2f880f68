//! The domain: typed ids, tenancy, and the parsing of client input into values that are known to
//! be valid ("parse, don't validate"). Nothing here touches the network or the database.

pub mod api_key;
pub mod catalog;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod ids;
pub mod integration;
pub mod oauth2;
pub mod operational;
pub mod ordering;
pub mod payload;
pub mod secret;
pub mod tenant;
pub mod time;

/// A client input that failed validation: which field, and a sentence saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct FieldError {
    pub param: String,
    pub message: String,
}

impl FieldError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
        }
    }
}

/// Checks a display name: 1–`max` characters, no control characters.
pub fn parse_name(param: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let count = raw.chars().count();
    if raw.trim().is_empty() {
        return Err(FieldError::new(param, format!("{param} must not be empty")));
    }
    if count > max {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {max} characters (got {count})"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain control characters"),
        ));
    }
    Ok(raw.to_string())
}
