//! The scalar fields of an integration: name, method, content type and timeout.

use serde::{Deserialize, Serialize};

use super::headers;
use crate::domain::FieldError;

#[cfg(test)]
mod props;

pub const NAME_MAX: usize = 128;
pub const CONTENT_TYPE_MAX: usize = 255;
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const MAX_TIMEOUT_MS: u32 = 60_000;

/// The methods an integration (or one call) may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl HttpMethod {
    pub const DEFAULT: Self = Self::Post;

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }

    /// Case-insensitive, so `"post"` works as well as `"POST"`.
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        match raw.to_ascii_uppercase().as_str() {
            "GET" => Ok(Self::Get),
            "POST" => Ok(Self::Post),
            "PUT" => Ok(Self::Put),
            "PATCH" => Ok(Self::Patch),
            "DELETE" => Ok(Self::Delete),
            "HEAD" => Ok(Self::Head),
            _ => Err(FieldError::new(
                param,
                format!(
                    "{param} {:?} is not supported; use GET, POST, PUT, PATCH, DELETE or HEAD.",
                    raw.chars().take(16).collect::<String>()
                ),
            )),
        }
    }

    pub fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
            Self::Head => reqwest::Method::HEAD,
        }
    }
}

/// 1–128 characters, no control characters. Uniqueness (per workspace and mode, ignoring case)
/// is the store's to enforce, against [`name_key`].
pub fn parse_name(param: &str, raw: &str) -> Result<String, FieldError> {
    crate::domain::parse_name(param, raw, NAME_MAX)
}

/// The form names are compared in: Unicode lowercase.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A media type such as `application/json` or `text/plain; charset=utf-8`.
pub fn parse_content_type(param: &str, raw: &str) -> Result<String, FieldError> {
    let essence = raw.split(';').next().unwrap_or("").trim();
    let valid_essence = essence.split_once('/').is_some_and(|(kind, sub)| {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        token(kind) && token(sub)
    });
    if raw.len() > CONTENT_TYPE_MAX || !valid_essence {
        return Err(FieldError::new(
            param,
            format!(
                "{param} must be a media type such as application/json or text/plain \
                 (at most {CONTENT_TYPE_MAX} characters)."
            ),
        ));
    }
    headers::parse_value(param, raw)?;
    Ok(raw.trim().to_string())
}

/// Whether bodies of this media type are JSON (`application/json`, `application/*+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn parse_timeout(param: &str, raw: i64) -> Result<u32, FieldError> {
    u32::try_from(raw)
        .ok()
        .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
        .ok_or_else(|| {
            FieldError::new(
                param,
                format!(
                    "{param} must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}."
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(HttpMethod::parse("m", "post").unwrap(), HttpMethod::Post);
        assert_eq!(HttpMethod::parse("m", "HEAD").unwrap(), HttpMethod::Head);
        assert!(HttpMethod::parse("m", "TRACE").is_err());
        assert!(HttpMethod::parse("m", "CONNECT").is_err());
        assert!(HttpMethod::parse("m", "").is_err());
    }

    #[test]
    fn names() {
        assert!(parse_name("name", "").is_err());
        assert!(parse_name("name", "   ").is_err());
        assert!(parse_name("name", &"a".repeat(128)).is_ok());
        assert!(parse_name("name", &"a".repeat(129)).is_err());
        assert!(parse_name("name", "a\nb").is_err());
        assert_eq!(name_key("Internal REPORTING Api"), "internal reporting api");
        assert_eq!(name_key("ÉTÉ"), name_key("été"));
    }

    #[test]
    fn content_types() {
        assert_eq!(
            parse_content_type("c", "text/plain; charset=utf-8").unwrap(),
            "text/plain; charset=utf-8"
        );
        for bad in [
            "",
            "json",
            "text/",
            "/plain",
            "text/plain\r\nX-Evil: 1",
            "a b/c",
        ] {
            assert!(parse_content_type("c", bad).is_err(), "{bad:?}");
        }
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonp"));
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("t", 1).unwrap(), 1);
        assert_eq!(parse_timeout("t", 60_000).unwrap(), 60_000);
        for bad in [0, -1, 60_001, i64::MAX] {
            assert!(parse_timeout("t", bad).is_err(), "{bad}");
        }
    }
}
