//! OAuth2 client credentials (RFC 6749 §4.4): the configuration of an
//! `{"type": "oauth2_client_credentials", …}` auth, shared by integrations and webhook endpoints,
//! and how long a fetched token is used. Fetching and caching tokens is `crate::oauth2`'s job.
//!
//! [`ClientCredentials`] holds the client secret in plaintext; like every credential it is only
//! ever sealed for storage (see `crypto.rs`) or used while fetching a token, and its `Debug` is
//! redacted. What the API shows is [`ClientCredentialsView`]: the token URL, the client id, the
//! scope and audience (none of them secret) and `clientSecretLast4`.
//!
//! Whether the token URL's destination is allowed is the egress policy's call, checked by the API
//! at configuration (like every other URL) and by the egress client at connect time.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::endpoint;
use super::integration::last4;
use super::FieldError;

/// The `type` of this auth on the wire.
pub const TYPE: &str = "oauth2_client_credentials";
/// Longest client id, scope or audience accepted.
pub const FIELD_MAX: usize = 1024;
/// Longest client secret accepted.
pub const SECRET_MAX: usize = 4096;
/// The fields of the auth object besides `type`.
pub const FIELDS: &[&str] = &["tokenUrl", "clientId", "clientSecret", "scope", "audience"];

/// How long a token without `expires_in` is used. RFC 6749 §5.1 leaves the lifetime to "other
/// means" then; five minutes is short enough that a revoked or rotated token stops being sent
/// soon, and long enough that a busy endpoint does not fetch a token per request. A 401 from
/// the receiver refreshes it earlier anyway.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Longest lifetime believed, whatever `expires_in` says: a token is fetched at least daily.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A token is replaced this long before it expires (less for short-lived tokens, see
/// [`refresh_after`]), so a request never leaves with a token that expires on the way.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Longest access token accepted from a token endpoint.
pub const TOKEN_MAX: usize = 16 * 1024;

/// The configuration as sealed at rest. Serialised only into the sealed blob.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish()
    }
}

/// The write-only view, as responses show it (beside `"type": "oauth2_client_credentials"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCredentialsView {
    #[schema(example = "https://auth.example.com/oauth/token")]
    pub token_url: String,
    #[schema(example = "hookd-prod")]
    pub client_id: String,
    /// The client secret's last four characters (`null` for secrets under 8 characters).
    pub client_secret_last4: Option<String>,
    #[schema(example = "webhooks:write")]
    pub scope: Option<String>,
    #[schema(example = "https://api.example.com")]
    pub audience: Option<String>,
}

/// The accepted input, for the OpenAPI document only (parsing is [`ClientCredentials::parse`]).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ClientCredentialsInput {
    /// Absolute https URL of the token endpoint (same egress policy as every other URL).
    #[schema(example = "https://auth.example.com/oauth/token")]
    pub token_url: String,
    /// Not blank, no control characters, at most 1024 bytes.
    #[schema(
        example = "hookd-prod",
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub client_id: String,
    /// Write-only: answers show `clientSecretLast4`. Not blank, no control characters, at most
    /// 4096 bytes.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub client_secret: String,
    /// Space-separated scopes to ask for: printable ASCII without `"` or `\`.
    #[schema(max_length = 1024, pattern = r"^ *[!#-\[\]-~]+( +[!#-\[\]-~]+)* *$")]
    pub scope: Option<String>,
    /// Sent as `audience` (Auth0, Okta and others need it to pick the API). Not blank, no
    /// control characters, at most 1024 bytes.
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub audience: Option<String>,
}

/// The `auth` of a webhook endpoint as responses show it (only OAuth2 client credentials).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type")]
pub enum EndpointAuth {
    /// Deliveries carry `Authorization: Bearer <token>` from this token endpoint.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials(ClientCredentialsView),
}

/// The accepted `auth` input of a webhook endpoint, for the OpenAPI document only.
#[derive(utoipa::ToSchema)]
#[serde(tag = "type")]
#[allow(dead_code)]
pub enum EndpointAuthInput {
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials(ClientCredentialsInput),
}

impl ClientCredentials {
    /// Parses the fields of an `oauth2_client_credentials` auth object (`type` already read and
    /// unknown fields already refused by the caller). Checks syntax only: the token URL's
    /// destination is the egress policy's to judge.
    pub fn parse(param: &str, obj: &Map<String, Value>) -> Result<Self, FieldError> {
        let token_url_param = format!("{param}.tokenUrl");
        let raw_url = required(obj, param, "tokenUrl")?;
        let url = endpoint::parse_url(&token_url_param, raw_url)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FieldError::new(
                token_url_param,
                format!("{param}.tokenUrl must not contain a user name or password; use clientId and clientSecret."),
            ));
        }
        let client_id = text(
            &format!("{param}.clientId"),
            required(obj, param, "clientId")?,
            FIELD_MAX,
        )?;
        let client_secret = text(
            &format!("{param}.clientSecret"),
            required(obj, param, "clientSecret")?,
            SECRET_MAX,
        )?;
        let scope = optional(obj, param, "scope")?
            .map(|raw| parse_scope(&format!("{param}.scope"), raw))
            .transpose()?;
        let audience = optional(obj, param, "audience")?
            .map(|raw| text(&format!("{param}.audience"), raw, FIELD_MAX))
            .transpose()?;
        Ok(Self {
            token_url: url.to_string(),
            client_id,
            client_secret,
            scope,
            audience,
        })
    }

    pub fn view(&self) -> ClientCredentialsView {
        ClientCredentialsView {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            client_secret_last4: last4(&self.client_secret),
            scope: self.scope.clone(),
            audience: self.audience.clone(),
        }
    }

    /// The token URL, parsed (it was checked when configured).
    pub fn url(&self) -> Result<Url, url::ParseError> {
        Url::parse(&self.token_url)
    }
}

/// Parses the `auth` of a webhook endpoint: only `oauth2_client_credentials`, every field named
/// in errors like an integration's auth.
pub fn parse_endpoint_auth(param: &str, raw: &Value) -> Result<ClientCredentials, FieldError> {
    let Some(obj) = raw.as_object() else {
        return Err(FieldError::new(
            param,
            format!("{param} must be an object such as {{\"type\": \"{TYPE}\", \"tokenUrl\": \"…\", \"clientId\": \"…\", \"clientSecret\": \"…\"}}, or null."),
        ));
    };
    match obj.get("type") {
        Some(Value::String(kind)) if kind == TYPE => {}
        Some(Value::String(kind)) => {
            return Err(FieldError::new(
                format!("{param}.type"),
                format!(
                    "{param}.type {:?} is not supported for webhook endpoints; use {TYPE}.",
                    kind.chars().take(32).collect::<String>()
                ),
            ))
        }
        _ => {
            return Err(FieldError::new(
                format!("{param}.type"),
                format!("{param}.type is required: {TYPE}."),
            ))
        }
    }
    reject_unknown(param, obj)?;
    ClientCredentials::parse(param, obj)
}

/// Refuses any field of the auth object other than `type` and [`FIELDS`].
pub fn reject_unknown(param: &str, obj: &Map<String, Value>) -> Result<(), FieldError> {
    match obj
        .keys()
        .find(|k| *k != "type" && !FIELDS.contains(&k.as_str()))
    {
        None => Ok(()),
        Some(extra) => Err(FieldError::new(
            format!("{param}.{}", extra.chars().take(64).collect::<String>()),
            format!(
                "{extra:?} is not a field of {TYPE} auth (expected: type, {}).",
                FIELDS.join(", ")
            ),
        )),
    }
}

fn required<'a>(
    obj: &'a Map<String, Value>,
    param: &str,
    name: &str,
) -> Result<&'a str, FieldError> {
    optional(obj, param, name)?.ok_or_else(|| {
        FieldError::new(
            format!("{param}.{name}"),
            format!("{param}.{name} is required for {TYPE} auth."),
        )
    })
}

/// A string field, or `None` when absent or `null`.
fn optional<'a>(
    obj: &'a Map<String, Value>,
    param: &str,
    name: &str,
) -> Result<Option<&'a str>, FieldError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::new(
            format!("{param}.{name}"),
            format!("{param}.{name} must be a string."),
        )),
    }
}

/// Non-empty (not just spaces), at most `max` bytes, no control characters. A byte-order mark
/// counts as blank, as in the OpenAPI pattern (`\s` in ECMAScript includes U+FEFF), so that a
/// value the published schema refuses is refused here too.
fn text(param: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    if raw.chars().all(|c| c.is_whitespace() || c == '\u{feff}') {
        return Err(FieldError::new(
            param,
            format!("{param} must not be empty."),
        ));
    }
    if raw.len() > max {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {max} bytes."),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain control characters."),
        ));
    }
    Ok(raw.to_string())
}

/// RFC 6749 §3.3: space-separated scope tokens of printable ASCII other than `"` and `\`.
fn parse_scope(param: &str, raw: &str) -> Result<String, FieldError> {
    let scope = text(param, raw, FIELD_MAX)?;
    let valid = scope
        .bytes()
        .all(|b| b == b' ' || ((0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\'));
    if !valid {
        return Err(FieldError::new(
            param,
            format!(
                "{param} must be space-separated scope names of printable ASCII without \" or \\ (RFC 6749 §3.3)."
            ),
        ));
    }
    Ok(scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// When a token fetched now, valid for `expires_in` (seconds, as the token endpoint said), is
/// replaced: [`EXPIRY_MARGIN`] before it expires, or halfway through a lifetime shorter than two
/// margins. `None` (no `expires_in`) means [`DEFAULT_LIFETIME`]; lifetimes are capped at
/// [`MAX_LIFETIME`]. Zero means the token is used for the requests waiting now and not kept.
pub fn refresh_after(expires_in: Option<u64>) -> Duration {
    let lifetime = expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    if lifetime >= EXPIRY_MARGIN * 2 {
        lifetime - EXPIRY_MARGIN
    } else {
        lifetime / 2
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(raw: Value) -> Result<ClientCredentials, FieldError> {
        parse_endpoint_auth("auth", &raw)
    }

    fn valid() -> Value {
        json!({"type": TYPE, "tokenUrl": "https://auth.example.com/token",
               "clientId": "hookd", "clientSecret": "s3cr3t-value-1234"})
    }

    #[test]
    fn parses_and_shows_only_the_last_four_of_the_secret() {
        let mut raw = valid();
        raw["scope"] = json!("  a:read  b:write ");
        raw["audience"] = json!("https://api.example.com");
        let creds = parse(raw).unwrap();
        assert_eq!(creds.scope.as_deref(), Some("a:read b:write"));
        let shown =
            serde_json::to_value(EndpointAuth::OAuth2ClientCredentials(creds.view())).unwrap();
        assert_eq!(
            shown,
            json!({"type": TYPE, "tokenUrl": "https://auth.example.com/token",
                   "clientId": "hookd", "clientSecretLast4": "1234",
                   "scope": "a:read b:write", "audience": "https://api.example.com"})
        );
        assert!(!shown.to_string().contains("s3cr3t"));
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_fields_are_named() {
        let with = |field: &str, value: Value| {
            let mut raw = valid();
            raw[field] = value;
            parse(raw).unwrap_err().param
        };
        assert_eq!(with("tokenUrl", json!("not a url")), "auth.tokenUrl");
        assert_eq!(with("tokenUrl", json!("ftp://x/token")), "auth.tokenUrl");
        assert_eq!(
            with("tokenUrl", json!("https://u:p@x/token")),
            "auth.tokenUrl"
        );
        assert_eq!(with("tokenUrl", json!(5)), "auth.tokenUrl");
        assert_eq!(with("clientId", json!("")), "auth.clientId");
        assert_eq!(with("clientId", json!("   ")), "auth.clientId");
        // Found by the property tests: the schema's `\s` includes U+FEFF, `trim` does not.
        assert_eq!(with("clientId", json!("\u{feff}")), "auth.clientId");
        assert_eq!(
            with("audience", json!(" \u{feff}\u{3000}")),
            "auth.audience"
        );
        assert_eq!(with("clientId", json!("a".repeat(1025))), "auth.clientId");
        assert_eq!(with("clientSecret", json!("")), "auth.clientSecret");
        assert_eq!(with("clientSecret", json!("a\r\nb")), "auth.clientSecret");
        assert_eq!(
            with("clientSecret", json!("s".repeat(4097))),
            "auth.clientSecret"
        );
        assert_eq!(with("scope", json!("a\"b")), "auth.scope");
        assert_eq!(with("scope", json!("é")), "auth.scope");
        assert_eq!(with("audience", json!(["x"])), "auth.audience");
        assert_eq!(with("extra", json!(1)), "auth.extra");
        assert_eq!(with("type", json!("bearer")), "auth.type");
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("clientSecret");
        assert_eq!(parse(missing).unwrap_err().param, "auth.clientSecret");
        assert_eq!(parse(json!("oauth2")).unwrap_err().param, "auth");
        assert_eq!(parse(json!({})).unwrap_err().param, "auth.type");
    }

    #[test]
    fn lifetimes() {
        assert_eq!(refresh_after(Some(3600)), Duration::from_secs(3540));
        assert_eq!(refresh_after(Some(120)), Duration::from_secs(60));
        assert_eq!(refresh_after(Some(2)), Duration::from_secs(1));
        assert_eq!(refresh_after(Some(0)), Duration::ZERO);
        assert_eq!(refresh_after(None), Duration::from_secs(240));
        assert_eq!(refresh_after(Some(u64::MAX)), MAX_LIFETIME - EXPIRY_MARGIN);
    }
}
