//! What a caller may change about a call: the integration's call policy.
//!
//! An integration is configured once by a person; the callers (scripts, the CLI, agents over
//! MCP, the dashboard) only fill in the payload. Three settings widen that, and the one check
//! here ([`CallPolicy::check`]) is applied to every call by `integrations::call::prepare`, the
//! one place every caller goes through:
//! - `allowedMethods`: the methods a call may use. Unset means "the configured method only", and
//!   follows the method when it is changed later.
//! - `allowedPathPrefixes`: the `path`s a call may append, each matched by whole segments
//!   (`/reports` admits `/reports` and `/reports/daily`, not `/reportsx`). Empty (the default)
//!   means no path at all.
//! - `allowCallerHeaders`: whether a call may add its own headers (default false).
//!
//! A refusal names the rule it broke (`param`), so the 403 `call_not_allowed` says what to ask
//! the integration's owner to change.

use serde::{Deserialize, Serialize};

use super::fields::HttpMethod;
use crate::domain::FieldError;

/// At most this many path prefixes per integration.
pub const MAX_PATH_PREFIXES: usize = 32;
/// Each path prefix is at most this long.
pub const PATH_PREFIX_MAX: usize = 256;

/// The call policy of an integration, as stored and shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallPolicy {
    /// `None`: only the integration's configured method.
    pub allowed_methods: Option<Vec<HttpMethod>>,
    pub allowed_path_prefixes: Vec<String>,
    pub allow_caller_headers: bool,
}

/// A call the policy does not allow: `rule` is the setting's API name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
}

/// What a call asks for, in the terms the policy judges.
#[derive(Clone, Copy, Debug)]
pub struct CallShape<'a> {
    pub method: HttpMethod,
    /// The call's `path`, already checked not to leave the integration's URL.
    pub path: Option<&'a str>,
    pub has_headers: bool,
}

impl CallPolicy {
    /// The methods calls may use, with the configured one when none are set.
    pub fn effective_methods(&self, configured: HttpMethod) -> Vec<HttpMethod> {
        self.allowed_methods
            .clone()
            .unwrap_or_else(|| vec![configured])
    }

    /// Whether a call of this shape is allowed for an integration whose method is `configured`.
    pub fn check(&self, configured: HttpMethod, call: CallShape<'_>) -> Result<(), Refusal> {
        let methods = self.effective_methods(configured);
        if !methods.contains(&call.method) {
            return Err(Refusal {
                rule: "allowedMethods",
                message: format!(
                    "This integration does not allow {} calls (allowedMethods: {}).",
                    call.method.as_str(),
                    methods
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let Some(path) = call.path.filter(|p| !p.trim_matches('/').is_empty()) {
            if !self
                .allowed_path_prefixes
                .iter()
                .any(|prefix| under_prefix(path, prefix))
            {
                let allowed = if self.allowed_path_prefixes.is_empty() {
                    "none: calls may not set a path".to_string()
                } else {
                    self.allowed_path_prefixes.join(", ")
                };
                return Err(Refusal {
                    rule: "allowedPathPrefixes",
                    message: format!(
                        "This integration does not allow the path {:?} (allowedPathPrefixes: \
                         {allowed}).",
                        path.chars().take(128).collect::<String>()
                    ),
                });
            }
        }
        if call.has_headers && !self.allow_caller_headers {
            return Err(Refusal {
                rule: "allowCallerHeaders",
                message: "This integration does not allow callers to add headers \
                          (allowCallerHeaders: false)."
                    .into(),
            });
        }
        Ok(())
    }
}

/// Whether `path` is `prefix` or below it, by whole segments.
fn under_prefix(path: &str, prefix: &str) -> bool {
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let prefix: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    path.len() >= prefix.len() && path.iter().zip(&prefix).all(|(a, b)| a == b)
}

/// A list of methods (`allowedMethods`): at least one, duplicates removed.
pub fn parse_methods(param: &str, raw: &[String]) -> Result<Vec<HttpMethod>, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(
            param,
            format!("{param} must list at least one method; leave it out for the configured one."),
        ));
    }
    let mut methods = Vec::new();
    for (i, m) in raw.iter().enumerate() {
        let method = HttpMethod::parse(&format!("{param}[{i}]"), m)?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}

/// A list of path prefixes (`allowedPathPrefixes`): each starts with `/`, has no query,
/// fragment, backslash, control character or `.`/`..` segment; duplicates removed.
pub fn parse_path_prefixes(param: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_PATH_PREFIXES {
        return Err(FieldError::new(
            param,
            format!("{param} may list at most {MAX_PATH_PREFIXES} prefixes."),
        ));
    }
    let mut prefixes: Vec<String> = Vec::new();
    for (i, prefix) in raw.iter().enumerate() {
        let item = format!("{param}[{i}]");
        let bad_segment = prefix
            .split('/')
            .any(|s| s == "." || s == ".." || s.to_ascii_lowercase().contains("%2e"));
        if !prefix.starts_with('/')
            || prefix.starts_with("//")
            || prefix.len() > PATH_PREFIX_MAX
            || prefix
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || "?#\\@".contains(c))
            || bad_segment
        {
            return Err(FieldError::new(
                item,
                format!(
                    "Each path prefix must start with a single `/`, be at most {PATH_PREFIX_MAX} \
                     characters, and contain no `?`, `#`, `\\`, `@`, spaces or `.`/`..` segments."
                ),
            ));
        }
        let normal = format!("/{}", prefix.trim_matches('/'));
        if !prefixes.contains(&normal) {
            prefixes.push(normal);
        }
    }
    Ok(prefixes)
}

/// An integration's description: up to [`DESCRIPTION_MAX`] characters; control characters other
/// than newlines and tabs are refused. Empty means none.
pub fn parse_description(param: &str, raw: &str) -> Result<Option<String>, FieldError> {
    if raw.chars().count() > DESCRIPTION_MAX {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {DESCRIPTION_MAX} characters."),
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain control characters other than newlines and tabs."),
        ));
    }
    let trimmed = raw.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// Long enough for a paragraph written for a model, short enough to list many tools.
pub const DESCRIPTION_MAX: usize = 2000;

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(method: HttpMethod, path: Option<&str>, has_headers: bool) -> CallShape<'_> {
        CallShape {
            method,
            path,
            has_headers,
        }
    }

    #[test]
    fn the_default_allows_the_configured_method_only_without_path_or_headers() {
        let policy = CallPolicy::default();
        assert!(policy
            .check(HttpMethod::Post, shape(HttpMethod::Post, None, false))
            .is_ok());
        assert!(policy
            .check(HttpMethod::Post, shape(HttpMethod::Post, Some("/"), false))
            .is_ok());
        let refused = policy
            .check(HttpMethod::Post, shape(HttpMethod::Get, None, false))
            .unwrap_err();
        assert_eq!(refused.rule, "allowedMethods");
        assert!(refused.message.contains("GET") && refused.message.contains("POST"));
        let refused = policy
            .check(HttpMethod::Post, shape(HttpMethod::Post, Some("/x"), false))
            .unwrap_err();
        assert_eq!(refused.rule, "allowedPathPrefixes");
        let refused = policy
            .check(HttpMethod::Post, shape(HttpMethod::Post, None, true))
            .unwrap_err();
        assert_eq!(refused.rule, "allowCallerHeaders");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let policy = CallPolicy {
            allowed_methods: Some(vec![HttpMethod::Get, HttpMethod::Post]),
            allowed_path_prefixes: vec!["/reports".into()],
            allow_caller_headers: true,
        };
        let ok = |p| {
            policy
                .check(HttpMethod::Post, shape(HttpMethod::Get, Some(p), true))
                .is_ok()
        };
        assert!(ok("/reports"));
        assert!(ok("reports/daily"));
        assert!(ok("/reports/daily/"));
        assert!(!ok("/reportsx"));
        assert!(!ok("/other/reports"));
        assert!(policy
            .check(HttpMethod::Post, shape(HttpMethod::Delete, None, false))
            .is_err());
    }

    #[test]
    fn parses_settings() {
        assert_eq!(
            parse_methods("m", &["get".into(), "GET".into(), "post".into()]).unwrap(),
            vec![HttpMethod::Get, HttpMethod::Post]
        );
        assert_eq!(parse_methods("m", &[]).unwrap_err().param, "m");
        assert_eq!(
            parse_methods("m", &["TRACE".into()]).unwrap_err().param,
            "m[0]"
        );
        assert_eq!(
            parse_path_prefixes("p", &["/a/".into(), "/a".into(), "/b/c".into()]).unwrap(),
            vec!["/a".to_string(), "/b/c".to_string()]
        );
        for bad in [
            "a", "//host", "/a?b", "/a#b", "/a\\b", "/../x", "/%2e%2e", "/a b", "/@x",
        ] {
            assert!(parse_path_prefixes("p", &[bad.into()]).is_err(), "{bad}");
        }
        assert!(parse_path_prefixes("p", &vec!["/a".to_string(); 33]).is_err());
        assert_eq!(parse_description("d", "  ").unwrap(), None);
        assert_eq!(
            parse_description("d", "Posts\nsummaries")
                .unwrap()
                .as_deref(),
            Some("Posts\nsummaries")
        );
        assert!(parse_description("d", "a\u{0}b").is_err());
        assert!(parse_description("d", &"x".repeat(2001)).is_err());
    }
}
