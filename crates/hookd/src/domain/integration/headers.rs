//! HTTP header names and values supplied by clients: the integration's custom headers, the name
//! of a `header` auth, and per-call headers.
//!
//! Header injection must be impossible, so names are checked against the RFC 9110 `token`
//! grammar (no CR, LF, colon, space or anything else that could end a header line) and values
//! may not contain CR, LF, NUL or other control characters. Headers that belong to the
//! connection rather than the message (hop-by-hop), and those hookd computes itself (`Host`,
//! `Content-Length`), are refused: letting a client set them would allow request smuggling or
//! routing tricks. `Content-Type` has its own field (`contentType`), so it is refused here with
//! a pointer to that field rather than having two sources of truth.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::FieldError;

#[cfg(test)]
mod props;

/// At most this many custom headers per integration or per call.
pub const MAX_HEADERS: usize = 50;
pub const NAME_MAX: usize = 256;
pub const VALUE_MAX: usize = 8 * 1024;

/// Names (lowercase) a client may never set: hop-by-hop headers (RFC 9110 §7.6.1 and the
/// de-facto ones), and headers derived from the request itself.
const FORBIDDEN: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
];

/// Hop-by-hop response headers: they describe the connection to hookd's client, not the message,
/// so they are not passed back to the caller.
pub fn is_hop_by_hop(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "te" | "trailer" | "upgrade"
    ) || name.starts_with("proxy-")
}

/// `param` naming one header, with the name shortened so an absurd name can't flood the error.
pub fn header_param(param: &str, name: &str) -> String {
    let shown: String = name.chars().take(64).collect();
    format!("{param}.{shown}")
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header name a client may set.
pub fn parse_name(param: &str, raw: &str) -> Result<HeaderName, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(param, "A header name must not be empty."));
    }
    if raw.len() > NAME_MAX {
        return Err(FieldError::new(
            param,
            format!("A header name must be at most {NAME_MAX} characters."),
        ));
    }
    if let Some(bad) = raw.bytes().find(|b| !is_token_byte(*b)) {
        return Err(FieldError::new(
            param,
            format!(
                "The header name {:?} contains {}, which is not allowed in a header name \
                 (use letters, digits and !#$%&'*+-.^_`|~).",
                raw.chars().take(64).collect::<String>(),
                describe_byte(bad)
            ),
        ));
    }
    let lower = raw.to_ascii_lowercase();
    if FORBIDDEN.contains(&lower.as_str()) {
        return Err(FieldError::new(
            param,
            format!("The {raw} header is managed by hookd and cannot be set."),
        ));
    }
    if lower == "content-type" {
        return Err(FieldError::new(
            param,
            "Set the content type with the integration's contentType field, not as a header.",
        ));
    }
    HeaderName::from_bytes(raw.as_bytes())
        .map_err(|_| FieldError::new(param, format!("{raw:?} is not a valid header name.")))
}

/// A header value: no CR, LF, NUL or other control characters (tab is allowed).
pub fn parse_value(param: &str, raw: &str) -> Result<HeaderValue, FieldError> {
    if raw.len() > VALUE_MAX {
        return Err(FieldError::new(
            param,
            format!("A header value must be at most {VALUE_MAX} bytes."),
        ));
    }
    if let Some(bad) = raw.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(FieldError::new(
            param,
            format!(
                "The header value contains {}, which is not allowed in a header value.",
                describe_byte(u8::try_from(u32::from(bad)).unwrap_or(0x7f))
            ),
        ));
    }
    HeaderValue::from_str(raw)
        .map_err(|_| FieldError::new(param, "The header value is not a valid HTTP header value."))
}

fn describe_byte(b: u8) -> String {
    match b {
        b'\r' => "a carriage return (CR)".into(),
        b'\n' => "a line feed (LF)".into(),
        0 => "a NUL byte".into(),
        b' ' => "a space".into(),
        b':' => "a colon".into(),
        b if b.is_ascii_graphic() => format!("the character {:?}", b as char),
        b if b >= 0x80 => "a non-ASCII character".into(),
        b => format!("the control byte 0x{b:02x}"),
    }
}

/// Validated headers, in the order of their names, each with its name as the client wrote it
/// (for error messages).
#[derive(Clone, Debug, Default)]
pub struct HeaderList(Vec<(String, HeaderName, HeaderValue)>);

impl HeaderList {
    /// Parses a JSON object of name → value under `param` (`headers`). Two names that differ only
    /// in case are one header in HTTP, so that is an error rather than a silent overwrite.
    pub fn parse(param: &str, raw: &BTreeMap<String, String>) -> Result<Self, FieldError> {
        if raw.len() > MAX_HEADERS {
            return Err(FieldError::new(
                param,
                format!("At most {MAX_HEADERS} headers are allowed."),
            ));
        }
        let mut out: Vec<(String, HeaderName, HeaderValue)> = Vec::with_capacity(raw.len());
        for (name, value) in raw {
            let field = header_param(param, name);
            let parsed = parse_name(&field, name)?;
            if out.iter().any(|(_, n, _)| *n == parsed) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "The header {name} is given twice (header names are case-insensitive)."
                    ),
                ));
            }
            let value = parse_value(&field, value)?;
            out.push((name.clone(), parsed, value));
        }
        Ok(Self(out))
    }

    /// Each header's name as given, and parsed.
    pub fn names(&self) -> impl Iterator<Item = (&str, &HeaderName)> {
        self.0.iter().map(|(given, n, _)| (given.as_str(), n))
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|(_, n, _)| n == name)
    }

    /// Marks every value sensitive, so `Debug` output and HTTP tooling never print it: the
    /// integration's configured header values are write-only credentials.
    pub fn into_sensitive(mut self) -> Self {
        for (_, _, value) in &mut self.0 {
            value.set_sensitive(true);
        }
        self
    }

    /// Sets every header on `map`, replacing what was there under the same name.
    pub fn apply(&self, map: &mut HeaderMap) {
        for (_, name, value) in &self.0 {
            map.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_token_grammar() {
        assert!(parse_name("h", "X-Api-Key").is_ok());
        assert!(parse_name("h", "x_custom.v2").is_ok());
        for bad in [
            "",
            "X-A\r\nEvil: 1",
            "X-A\n",
            "X-A:",
            "X A",
            "Ünï",
            "X(A)",
            "X-A\0",
        ] {
            assert!(parse_name("h", bad).is_err(), "{bad:?}");
        }
        let err = parse_name("h", "X-A\r\nB").unwrap_err();
        assert!(err.message.contains("carriage return"), "{}", err.message);
    }

    #[test]
    fn managed_and_hop_by_hop_names_are_refused() {
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Upgrade",
            "Proxy-Authorization",
            "TE",
        ] {
            assert!(parse_name("h", name).is_err(), "{name}");
        }
        let err = parse_name("h", "Content-Type").unwrap_err();
        assert!(err.message.contains("contentType"));
    }

    #[test]
    fn values_cannot_break_the_line() {
        assert!(parse_value("h", "Bearer abc\tdef").is_ok());
        assert!(parse_value("h", "ünïcode").is_ok());
        for bad in ["a\r\nX-Evil: 1", "a\nb", "a\rb", "a\0b", "a\u{7f}"] {
            assert!(parse_value("h", bad).is_err(), "{bad:?}");
        }
        assert!(parse_value("h", &"a".repeat(VALUE_MAX + 1)).is_err());
    }

    #[test]
    fn lists_reject_case_duplicates_and_name_the_header() {
        let mut raw = BTreeMap::new();
        raw.insert("X-A".to_string(), "1".to_string());
        raw.insert("x-a".to_string(), "2".to_string());
        let err = HeaderList::parse("headers", &raw).unwrap_err();
        assert!(err.param.starts_with("headers.") && err.message.contains("twice"));
        let mut raw = BTreeMap::new();
        raw.insert("X OK".to_string(), "1".to_string());
        assert_eq!(
            HeaderList::parse("headers", &raw).unwrap_err().param,
            "headers.X OK"
        );
    }

    #[test]
    fn hop_by_hop_response_headers() {
        for name in [
            "Connection",
            "transfer-encoding",
            "proxy-authenticate",
            "TE",
        ] {
            assert!(is_hop_by_hop(name), "{name}");
        }
        assert!(!is_hop_by_hop("content-type"));
    }
}
