//! Webhook endpoints: the record and the parsing of its fields.

use serde::{Deserialize, Serialize};
use url::Url;

use super::annotations::Metadata;
use super::ids::EndpointId;
use super::integration::Sealed;
use super::oauth2::EndpointAuth;
use super::time::Timestamp;
use super::FieldError;

pub const NAME_MAX: usize = 128;
pub const URL_MAX: usize = 1024;
pub const PROJECT_ID_MAX: usize = 128;

/// Why an endpoint stopped receiving deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DisabledReason {
    /// Set through the API (`isActive: false`).
    Manual,
    /// Deliveries failed continuously for the auto-disable window.
    Failing,
    /// The endpoint answered `410 Gone`.
    Gone,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Failing => "failing",
            DisabledReason::Gone => "gone",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "manual" => Some(Self::Manual),
            "failing" => Some(Self::Failing),
            "gone" => Some(Self::Gone),
            _ => None,
        }
    }
}

/// A webhook endpoint as the API shows it (`WebhookEndpoint`): never carries the secret.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: EndpointId,
    /// Where deliveries go. A password in it, and the values of `secretQueryParams`, are
    /// write-only: sealed at rest and shown as `****`.
    pub url: String,
    /// The query parameters of `url` whose values are secret (sealed, shown as `****`); left
    /// out when there are none, so an endpoint without any reads exactly as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_query_params: Vec<String>,
    pub name: String,
    pub events: Vec<String>,
    pub is_active: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub project_id: Option<String>,
    /// A CEL expression over the event (`type`, `projectId`, `data`): only events for which it
    /// is true are delivered here. Absent: every matching event. (Left out when unset, so
    /// the reference API's answers keep exactly their documented fields.)
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "data.amount > 100 && data.currency == \"EUR\"")]
    pub filter: Option<String>,
    /// Attempts to this endpoint are paced to at most this many per second, evenly spaced.
    /// Absent: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 10, minimum = 1, maximum = 1000)]
    pub rate_limit_per_sec: Option<u32>,
    pub secret_last4: String,
    /// Free text for the people managing the endpoint (`""`: none); at most 1024 characters.
    pub description: String,
    /// String → string pairs for the systems managing the endpoint: at most 50 keys of up to 40
    /// characters, values up to 500 characters. Never used for delivery.
    #[schema(value_type = std::collections::HashMap<String, String>)]
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// How deliveries authenticate besides the signature (OAuth2 client credentials: a bearer
    /// token); the client secret is write-only. Absent when none is configured, so the
    /// reference document's shape is unchanged for endpoints without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<EndpointAuth>,
}

impl Endpoint {
    /// Whether an event of this type and project is delivered here (the fan-out rule).
    pub fn matches(&self, event_type: &str, project_id: Option<&str>) -> bool {
        self.is_active
            && self.events.iter().any(|e| e == event_type)
            && match self.project_id.as_deref() {
                None => true,
                Some(mine) => Some(mine) == project_id,
            }
    }
}

/// The validated fields of a new endpoint.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub name: String,
    pub url: Url,
    pub events: Vec<String>,
    pub project_id: Option<String>,
    /// The checked filter's source.
    pub filter: Option<String>,
    pub rate_limit_per_sec: Option<u32>,
    pub description: String,
    pub metadata: Metadata,
}

/// The validated fields of a PATCH: `None` leaves a field unchanged.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    pub name: Option<String>,
    pub url: Option<Url>,
    pub events: Option<Vec<String>>,
    pub project_id: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub description: Option<String>,
    /// Replaces the whole map (`{}` empties it).
    pub metadata: Option<Metadata>,
    /// `Some(None)` removes the auth; `Some(Some(_))` replaces it (sealed configuration and view).
    pub auth: Option<Option<Sealed<EndpointAuth>>>,
    /// `Some(None)` removes the filter.
    pub filter: Option<Option<String>>,
    /// `Some(None)` removes the limit.
    pub rate_limit_per_sec: Option<Option<u32>>,
}

impl EndpointPatch {
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.metadata.is_none()
            && self.name.is_none()
            && self.url.is_none()
            && self.events.is_none()
            && self.project_id.is_none()
            && self.is_active.is_none()
            && self.auth.is_none()
            && self.filter.is_none()
            && self.rate_limit_per_sec.is_none()
    }
}

/// Syntax of an outbound URL: absolute, http(s), with a host, at most `URL_MAX` characters.
/// Whether plain http and the destination are allowed is the egress policy's call.
pub fn parse_url(param: &str, raw: &str) -> Result<Url, FieldError> {
    if raw.len() > URL_MAX {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {URL_MAX} characters"),
        ));
    }
    let url = Url::parse(raw)
        .map_err(|e| FieldError::new(param, format!("{param} is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FieldError::new(
            param,
            format!("{param} must be an https URL"),
        ));
    }
    if url.host().is_none() {
        return Err(FieldError::new(param, format!("{param} must name a host")));
    }
    if url.fragment().is_some() {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain a #fragment"),
        ));
    }
    if super::url_credentials::looks_sealed(&url) {
        return Err(FieldError::new(
            param,
            format!(
                "{param} must not have a password or query value starting with `sealed.v1.`, \
                 which marks credentials hookd has sealed"
            ),
        ));
    }
    Ok(url)
}

/// An optional project scope: `null` means every project.
/// An endpoint's deliveries carry one `Authorization` header: basic auth from a URL with
/// credentials, or a bearer token from its OAuth2 `auth`, never both. Refused rather than
/// silently dropping the URL's password.
pub fn check_one_authorization(url: &Url, has_auth: bool) -> Result<(), FieldError> {
    let url_has_credentials = !url.username().is_empty() || url.password().is_some();
    if url_has_credentials && has_auth {
        return Err(FieldError::new(
            "auth",
            "an endpoint URL with credentials (user:password@) sends them as basic auth, so it \
             can't also use OAuth2: remove the credentials from the URL or the auth",
        ));
    }
    Ok(())
}

pub fn parse_project_id(param: &str, raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw {
        None => Ok(None),
        Some(p) if p.is_empty() || p.len() > PROJECT_ID_MAX || p.chars().any(char::is_control) => {
            Err(FieldError::new(
                param,
                format!("{param} must be 1–{PROJECT_ID_MAX} printable characters, or null"),
            ))
        }
        Some(p) => Ok(Some(p.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(events: &[&str], project: Option<&str>) -> Endpoint {
        Endpoint {
            id: EndpointId::generate(),
            url: "https://example.com".into(),
            secret_query_params: Vec::new(),
            name: "x".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            is_active: true,
            disabled_reason: None,
            project_id: project.map(str::to_string),
            filter: None,
            rate_limit_per_sec: None,
            secret_last4: "abcd".into(),
            description: String::new(),
            metadata: Metadata::new(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
            auth: None,
        }
    }

    #[test]
    fn fan_out_matches_type_and_project() {
        let all = endpoint(&["post.created"], None);
        assert!(all.matches("post.created", Some("p1")));
        assert!(all.matches("post.created", None));
        assert!(!all.matches("job.failed", None));
        let scoped = endpoint(&["post.created"], Some("p1"));
        assert!(scoped.matches("post.created", Some("p1")));
        assert!(!scoped.matches("post.created", Some("p2")));
        assert!(!scoped.matches("post.created", None));
        let mut off = endpoint(&["post.created"], None);
        off.is_active = false;
        assert!(!off.matches("post.created", None));
    }

    #[test]
    fn url_syntax() {
        assert!(parse_url("url", "https://hooks.example.com/scripe").is_ok());
        assert!(parse_url("url", "ftp://example.com").is_err());
        assert!(parse_url("url", "/relative").is_err());
        assert!(parse_url("url", "https://example.com/#frag").is_err());
        // Would be stored as if sealed, in plaintext (found by a property test).
        for sealed_looking in [
            "https://user:sealed.v1.Cr3d0aA0aA@hooks.example.com/",
            "https://hooks.example.com/?a=1&token=sealed.v1.x",
        ] {
            let err = parse_url("url", sealed_looking).unwrap_err();
            assert!(err.message.contains("sealed.v1."), "{}", err.message);
        }
        assert!(parse_url("url", "https://hooks.example.com/?note=is.sealed.v1.").is_ok());
        let long = format!("https://example.com/{}", "a".repeat(1100));
        assert_eq!(parse_url("url", &long).unwrap_err().param, "url");
    }

    #[test]
    fn project_ids() {
        assert_eq!(parse_project_id("projectId", None).unwrap(), None);
        assert!(parse_project_id("projectId", Some("")).is_err());
        assert!(parse_project_id("projectId", Some(&"p".repeat(129))).is_err());
        assert_eq!(
            parse_project_id("projectId", Some("proj_1"))
                .unwrap()
                .as_deref(),
            Some("proj_1")
        );
    }
}
