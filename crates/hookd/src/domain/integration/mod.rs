//! Custom webhook integrations: a named outbound HTTP connection (URL, method, headers, auth,
//! content type, timeout) that scripts, the CLI and agents call by name.
//!
//! This module owns the records and the parsing of client input into them. Credentials (custom
//! header values and the auth) are write-only: they exist in plaintext only between parsing and
//! sealing, and again inside a call; everything the API shows is a view with `…Last4` hints.

pub mod auth;
pub mod fields;
pub mod headers;
pub mod policy;
pub mod tool_name;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use auth::{AuthConfig, AuthView};
pub use fields::HttpMethod;
pub use policy::CallPolicy;

use super::ids::{ApiKeyId, CallId, IntegrationId};
use super::time::Timestamp;

/// The last four characters of a secret, or `None` when it is shorter than 8 characters (four
/// characters of a short secret would give away too much of it).
pub fn last4(secret: &str) -> Option<String> {
    let count = secret.chars().count();
    (count >= 8).then(|| secret.chars().skip(count - 4).collect())
}

/// What a custom header looks like in responses: its value is write-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    /// The value's last four characters (`null` for values under 8 characters).
    pub value_last4: Option<String>,
}

/// The sealed custom headers: name (as configured) → value.
pub type HeaderSecrets = BTreeMap<String, String>;

/// The public view of custom headers: name → `{valueLast4}`.
pub type HeaderViews = BTreeMap<String, HeaderView>;

pub fn header_views(secrets: &HeaderSecrets) -> HeaderViews {
    secrets
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                HeaderView {
                    value_last4: last4(value),
                },
            )
        })
        .collect()
}

/// An integration as the API shows it (`Integration`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: IntegrationId,
    #[schema(example = "Internal reporting API")]
    pub name: String,
    /// What the upstream does, written for people and for AI agents (the MCP tool's
    /// description); `null` when none was given.
    #[schema(example = "Logs a summary of each automation run for compliance.")]
    pub description: Option<String>,
    /// The values of the query parameters named in `secretQueryParams` read as `****`.
    #[schema(example = "https://reports.internal.example.com/v1/runs")]
    pub url: String,
    /// Query parameters of `url` whose values are credentials (`?token=…`): sealed at rest,
    /// shown as `****`, sent as configured.
    /// Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["token"]))]
    pub secret_query_params: Vec<String>,
    /// Default method of calls.
    pub method: HttpMethod,
    /// The methods a call may use; when not set, the configured `method` only.
    pub allowed_methods: Vec<HttpMethod>,
    /// The `path`s a call may append (whole segments: `/reports` admits `/reports/daily`);
    /// empty: calls may not set a path.
    #[schema(example = json!(["/reports"]))]
    pub allowed_path_prefixes: Vec<String>,
    /// Whether a call may add its own headers.
    pub allow_caller_headers: bool,
    /// Custom headers sent on every call; values are write-only.
    #[schema(example = json!({"X-Api-Version": {"valueLast4": "0801"}}))]
    pub headers: HeaderViews,
    pub auth: AuthView,
    #[schema(example = "application/json")]
    pub content_type: String,
    #[schema(example = 10000)]
    pub timeout_ms: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When DELETE disconnected it; `null` while connected. Disconnected integrations only show
    /// up in lists with `includeDisconnected=true`.
    pub disconnected_at: Option<Timestamp>,
}

impl Integration {
    /// The call policy this integration enforces on every call.
    pub fn policy(&self) -> CallPolicy {
        CallPolicy {
            allowed_methods: Some(self.allowed_methods.clone()),
            allowed_path_prefixes: self.allowed_path_prefixes.clone(),
            allow_caller_headers: self.allow_caller_headers,
        }
    }
}

/// An integration with its sealed credentials, as stored.
#[derive(Clone, Debug)]
pub struct StoredIntegration {
    pub integration: Integration,
    /// The URL as stored: the values of its secret query parameters sealed
    /// (`integration.url` is its masked form, see `domain::url_credentials`).
    pub url_sealed: String,
    /// Sealed [`HeaderSecrets`].
    pub headers_sealed: Vec<u8>,
    /// Sealed [`AuthConfig`].
    pub auth_sealed: Vec<u8>,
}

/// A replacement for one sealed part and its view, changed together.
#[derive(Clone, Debug)]
pub struct Sealed<V> {
    pub sealed: Vec<u8>,
    pub view: V,
}

/// A validated PATCH: `None` leaves a field unchanged.
#[derive(Clone, Debug, Default)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    /// The new URL as stored: secret query values sealed.
    pub url: Option<url::Url>,
    pub method: Option<HttpMethod>,
    pub content_type: Option<String>,
    pub timeout_ms: Option<u32>,
    pub headers: Option<Sealed<HeaderViews>>,
    pub auth: Option<Sealed<AuthView>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// `Some(None)` goes back to "the configured method only".
    pub allowed_methods: Option<Option<Vec<HttpMethod>>>,
    pub allowed_path_prefixes: Option<Vec<String>>,
    pub allow_caller_headers: Option<bool>,
}

impl IntegrationPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.url.is_none()
            && self.method.is_none()
            && self.content_type.is_none()
            && self.timeout_ms.is_none()
            && self.headers.is_none()
            && self.auth.is_none()
            && self.description.is_none()
            && self.allowed_methods.is_none()
            && self.allowed_path_prefixes.is_none()
            && self.allow_caller_headers.is_none()
    }
}

/// Why a call produced no upstream response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallErrorCode {
    /// The upstream could not be reached or answered with something that is not HTTP.
    UpstreamError,
    /// No complete answer within the integration's `timeoutMs`.
    UpstreamTimeout,
    /// The egress policy refused the destination.
    UrlNotAllowed,
}

impl CallErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpstreamError => "upstream_error",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UrlNotAllowed => "url_not_allowed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "upstream_error" => Some(Self::UpstreamError),
            "upstream_timeout" => Some(Self::UpstreamTimeout),
            "url_not_allowed" => Some(Self::UrlNotAllowed),
            _ => None,
        }
    }
}

/// Through what a call was made, as the call log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallVia {
    /// The REST API (scripts, the CLI, the dashboard).
    Api,
    /// An MCP client (an AI agent), over `/mcp` or `hookd mcp`.
    Mcp,
}

impl CallVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "api" => Some(Self::Api),
            "mcp" => Some(Self::Mcp),
            _ => None,
        }
    }
}

/// One entry of an integration's call log (`IntegrationCall`). Never holds credentials: the
/// excerpts are the bodies, and the auth and custom headers are not recorded.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationCall {
    pub id: CallId,
    pub integration_id: IntegrationId,
    /// The API key that made the call.
    pub api_key_id: ApiKeyId,
    /// `mcp` when an agent made the call through MCP, else `api`.
    pub via: CallVia,
    pub method: HttpMethod,
    /// The URL requested, with the call's path and query.
    pub url: String,
    /// The upstream's status; `null` when no response came back.
    pub status: Option<u16>,
    pub duration_ms: i64,
    /// Why no response came back.
    pub error_code: Option<CallErrorCode>,
    pub error: Option<String>,
    /// The first 4 KiB of the request body (lossy UTF-8).
    pub request_body: String,
    /// The first 4 KiB of the response body (lossy UTF-8).
    pub response_body: String,
    /// The response was longer than 1 MiB and was cut off.
    pub truncated: bool,
    pub created_at: Timestamp,
}

/// Bytes kept of each body in the call log.
pub const EXCERPT_BYTES: usize = 4 * 1024;

/// The first [`EXCERPT_BYTES`] of a body, as text.
pub fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(EXCERPT_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last4_hides_short_secrets() {
        assert_eq!(last4("sk_live_abcdef1234").as_deref(), Some("1234"));
        assert_eq!(last4("12345678").as_deref(), Some("5678"));
        assert_eq!(last4("1234567"), None);
        assert_eq!(last4(""), None);
        assert_eq!(last4("ünïcödé-ßecret").as_deref(), Some("cret"));
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt(b"hello"), "hello");
        assert_eq!(excerpt(&[b'a'; 10_000]).len(), EXCERPT_BYTES);
        assert_eq!(excerpt(&[0xff, b'a']), "\u{fffd}a");
    }
}
