//! An integration's authentication: `none`, `bearer`, `header` (any header name, e.g.
//! `X-API-Key`), `basic` or `oauth2_client_credentials` (a token fetched from a token endpoint,
//! see [`crate::domain::oauth2`] and [`crate::oauth2`]).
//!
//! The input is parsed from raw JSON by hand rather than by a derived `Deserialize`: serde's
//! internally tagged enums silently accept extra fields on unit variants (`{"type":"none",
//! "token":"x"}`) and report errors at `auth` instead of at the field, while the contract wants
//! every missing or extra field to be a 400 naming exactly that field (`auth.token`).
//!
//! [`AuthConfig`] holds plaintext credentials; it is only ever sealed for storage or turned into
//! a header at call time. Its `Debug` is redacted so it cannot leak into a log line. What the API
//! shows is [`AuthView`]: the type, a header-auth's header name, and `…Last4` hints.

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::headers;
use super::last4;
use crate::domain::oauth2::{
    self, ClientCredentials, ClientCredentialsInput, ClientCredentialsView,
};
use crate::domain::FieldError;

/// Longest credential accepted (a token, a password, a header value).
pub const CREDENTIAL_MAX: usize = 4096;

/// The credentials as sealed at rest. Serialised only into the sealed blob.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AuthConfig {
    None,
    Bearer {
        token: String,
    },
    Header {
        name: String,
        value: String,
    },
    Basic {
        username: String,
        password: String,
    },
    /// The bearer token is fetched from the token endpoint at call time.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials(ClientCredentials),
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthConfig::{}(***)", self.view().type_name())
    }
}

/// The write-only view of the auth, as responses show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AuthView {
    /// No credentials are added.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token's last four characters (`null` for tokens under 8 characters).
        #[serde(rename = "tokenLast4")]
        token_last4: Option<String>,
    },
    /// A custom header, e.g. `X-API-Key: <value>`.
    Header {
        /// The header name as configured.
        name: String,
        #[serde(rename = "valueLast4")]
        value_last4: Option<String>,
    },
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        #[serde(rename = "usernameLast4")]
        username_last4: Option<String>,
        #[serde(rename = "passwordLast4")]
        password_last4: Option<String>,
    },
    /// `Authorization: Bearer <token>`, the token fetched from `tokenUrl` with the client
    /// credentials (RFC 6749 §4.4), cached until shortly before it expires.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials(ClientCredentialsView),
}

impl AuthView {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer { .. } => "bearer",
            Self::Header { .. } => "header",
            Self::Basic { .. } => "basic",
            Self::OAuth2ClientCredentials(_) => oauth2::TYPE,
        }
    }

    /// The header this auth sets, which custom and per-call headers may not also set.
    pub fn header_name(&self) -> Option<HeaderName> {
        match self {
            Self::None => None,
            Self::Bearer { .. } | Self::Basic { .. } | Self::OAuth2ClientCredentials(_) => {
                Some(AUTHORIZATION)
            }
            Self::Header { name, .. } => HeaderName::from_bytes(name.as_bytes()).ok(),
        }
    }

    pub fn has_credentials(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// The accepted input shapes, for the OpenAPI document only (parsing is done by
/// [`AuthConfig::parse`]). Unknown and missing fields are rejected.
#[derive(utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AuthInput {
    None,
    Bearer {
        token: String,
    },
    Header {
        #[schema(example = "X-API-Key")]
        name: String,
        value: String,
    },
    Basic {
        username: String,
        password: String,
    },
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials(ClientCredentialsInput),
}

impl AuthConfig {
    /// Parses the `auth` object of a request body.
    pub fn parse(param: &str, raw: &Value) -> Result<Self, FieldError> {
        let Some(obj) = raw.as_object() else {
            return Err(FieldError::new(
                param,
                format!(
                    "{param} must be an object such as {{\"type\": \"bearer\", \"token\": \"…\"}}."
                ),
            ));
        };
        let type_param = format!("{param}.type");
        let kind = match obj.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) | None => {
                return Err(FieldError::new(
                    type_param,
                    format!(
                        "{param}.type is required: one of none, bearer, header, basic, {}.",
                        oauth2::TYPE
                    ),
                ))
            }
        };
        let fields: &[&str] = match kind {
            "none" => &[],
            "bearer" => &["token"],
            "header" => &["name", "value"],
            "basic" => &["username", "password"],
            oauth2::TYPE => oauth2::FIELDS,
            other => {
                return Err(FieldError::new(
                    type_param,
                    format!(
                    "{param}.type {:?} is not supported; use none, bearer, header, basic or {}.",
                    other.chars().take(32).collect::<String>(),
                    oauth2::TYPE
                ),
                ))
            }
        };
        if let Some(extra) = obj
            .keys()
            .find(|k| *k != "type" && !fields.contains(&k.as_str()))
        {
            let expected = std::iter::once("type")
                .chain(fields.iter().copied())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(FieldError::new(
                format!("{param}.{}", extra.chars().take(64).collect::<String>()),
                format!("{extra:?} is not a field of {kind} auth (expected: {expected})."),
            ));
        }
        let field = |name: &str| string_field(obj, param, kind, name);
        let config = match kind {
            "none" => Self::None,
            "bearer" => Self::Bearer {
                token: credential(&format!("{param}.token"), field("token")?, false)?,
            },
            oauth2::TYPE => Self::OAuth2ClientCredentials(ClientCredentials::parse(param, obj)?),
            "header" => {
                let name_param = format!("{param}.name");
                let name = field("name")?;
                // `Authorization` is allowed: `Authorization: <custom scheme> …` is a
                // legitimate header auth.
                headers::parse_name(&name_param, name)?;
                Self::Header {
                    name: name.to_string(),
                    value: credential(&format!("{param}.value"), field("value")?, false)?,
                }
            }
            _ => {
                let username = credential(&format!("{param}.username"), field("username")?, false)?;
                if username.contains(':') {
                    return Err(FieldError::new(
                        format!("{param}.username"),
                        "A basic-auth username cannot contain a colon (RFC 7617).",
                    ));
                }
                Self::Basic {
                    username,
                    // An empty password is legitimate (API keys sent as the username).
                    password: credential(&format!("{param}.password"), field("password")?, true)?,
                }
            }
        };
        // Whatever the shape, the header we will send must be a valid header.
        if let Err(e) = config.header_value() {
            return Err(FieldError::new(param, e.message));
        }
        Ok(config)
    }

    /// The OAuth2 client credentials, when this auth fetches tokens.
    pub fn oauth2(&self) -> Option<&ClientCredentials> {
        match self {
            Self::OAuth2ClientCredentials(credentials) => Some(credentials),
            _ => None,
        }
    }

    pub fn view(&self) -> AuthView {
        match self {
            Self::None => AuthView::None,
            Self::Bearer { token } => AuthView::Bearer {
                token_last4: last4(token),
            },
            Self::Header { name, value } => AuthView::Header {
                name: name.clone(),
                value_last4: last4(value),
            },
            Self::Basic { username, password } => AuthView::Basic {
                username_last4: last4(username),
                password_last4: last4(password),
            },
            Self::OAuth2ClientCredentials(credentials) => {
                AuthView::OAuth2ClientCredentials(credentials.view())
            }
        }
    }

    /// The header to add to every call, marked sensitive so HTTP tooling never prints it. OAuth2
    /// has none here: its token is fetched and added when the call is sent.
    pub fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, FieldError> {
        let Some(value) = self.header_value()? else {
            return Ok(None);
        };
        let name = match self {
            Self::Header { name, .. } => headers::parse_name("auth.name", name)?,
            _ => AUTHORIZATION,
        };
        Ok(Some((name, value)))
    }

    fn header_value(&self) -> Result<Option<HeaderValue>, FieldError> {
        let raw = match self {
            Self::None | Self::OAuth2ClientCredentials(_) => return Ok(None),
            Self::Bearer { token } => format!("Bearer {token}"),
            Self::Header { value, .. } => value.clone(),
            Self::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                format!("Basic {encoded}")
            }
        };
        let mut value = headers::parse_value("auth", &raw)?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    param: &str,
    kind: &str,
    name: &str,
) -> Result<&'a str, FieldError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(FieldError::new(
            format!("{param}.{name}"),
            format!("{param}.{name} must be a string."),
        )),
        None => Err(FieldError::new(
            format!("{param}.{name}"),
            format!("{param}.{name} is required for {kind} auth."),
        )),
    }
}

/// A credential: bounded, no control characters (they could never be sent in a header), and
/// non-empty unless `may_be_empty`.
fn credential(param: &str, raw: &str, may_be_empty: bool) -> Result<String, FieldError> {
    if raw.is_empty() && !may_be_empty {
        return Err(FieldError::new(
            param,
            format!("{param} must not be empty."),
        ));
    }
    if raw.len() > CREDENTIAL_MAX {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {CREDENTIAL_MAX} bytes."),
        ));
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain control characters such as CR, LF or NUL."),
        ));
    }
    Ok(raw.to_string())
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(raw: Value) -> FieldError {
        AuthConfig::parse("auth", &raw).unwrap_err()
    }

    #[test]
    fn each_type_parses_and_builds_its_header() {
        let bearer =
            AuthConfig::parse("auth", &json!({"type": "bearer", "token": "tok_123456789"}))
                .unwrap();
        let (name, value) = bearer.header().unwrap().unwrap();
        assert_eq!(name, AUTHORIZATION);
        assert_eq!(value, "Bearer tok_123456789");
        assert!(value.is_sensitive());

        let basic = AuthConfig::parse(
            "auth",
            &json!({"type": "basic", "username": "Aladdin", "password": "open sesame"}),
        )
        .unwrap();
        assert_eq!(
            basic.header().unwrap().unwrap().1,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );

        let header = AuthConfig::parse(
            "auth",
            &json!({"type": "header", "name": "X-API-Key", "value": "k-123456789"}),
        )
        .unwrap();
        let (name, value) = header.header().unwrap().unwrap();
        assert_eq!(name.as_str(), "x-api-key");
        assert_eq!(value, "k-123456789");
        assert_eq!(
            AuthConfig::parse("auth", &json!({"type": "none"})).unwrap(),
            AuthConfig::None
        );
    }

    #[test]
    fn missing_and_extra_fields_are_named() {
        assert_eq!(err(json!({"type": "bearer"})).param, "auth.token");
        assert_eq!(
            err(json!({"type": "bearer", "token": "t", "extra": 1})).param,
            "auth.extra"
        );
        assert_eq!(
            err(json!({"type": "none", "token": "x"})).param,
            "auth.token"
        );
        assert_eq!(
            err(json!({"type": "basic", "username": "u"})).param,
            "auth.password"
        );
        assert_eq!(
            err(json!({"type": "header", "value": "v"})).param,
            "auth.name"
        );
        assert_eq!(err(json!({"token": "t"})).param, "auth.type");
        assert_eq!(err(json!({"type": "oauth"})).param, "auth.type");
        assert_eq!(
            err(json!({"type": "bearer", "token": 5})).param,
            "auth.token"
        );
        assert_eq!(err(json!("bearer")).param, "auth");
    }

    #[test]
    fn credentials_cannot_inject_headers() {
        assert_eq!(
            err(json!({"type": "bearer", "token": "a\r\nX-Evil: 1"})).param,
            "auth.token"
        );
        assert_eq!(
            err(json!({"type": "header", "name": "X-Key\r\nX-Evil", "value": "v"})).param,
            "auth.name"
        );
        assert_eq!(
            err(json!({"type": "header", "name": "Host", "value": "v"})).param,
            "auth.name"
        );
        assert_eq!(
            err(json!({"type": "basic", "username": "a:b", "password": ""})).param,
            "auth.username"
        );
        assert_eq!(
            err(json!({"type": "bearer", "token": ""})).param,
            "auth.token"
        );
    }

    #[test]
    fn oauth2_client_credentials_parse_like_the_others() {
        let raw = json!({"type": "oauth2_client_credentials", "tokenUrl": "https://auth.example.com/token",
                         "clientId": "hookd", "clientSecret": "cs_12345678", "scope": "a b"});
        let config = AuthConfig::parse("auth", &raw).unwrap();
        assert!(config.header().unwrap().is_none());
        assert_eq!(config.oauth2().unwrap().client_secret, "cs_12345678");
        let shown = serde_json::to_value(config.view()).unwrap();
        assert_eq!(shown["type"], "oauth2_client_credentials");
        assert_eq!(shown["clientSecretLast4"], "5678");
        assert!(!shown.to_string().contains("cs_12345678"));
        assert_eq!(config.view().header_name(), Some(AUTHORIZATION));
        // The sealed form round-trips.
        let sealed: AuthConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(sealed, config);
        assert_eq!(
            err(json!({"type": "oauth2_client_credentials", "tokenUrl": "https://a/t", "clientId": "x"})).param,
            "auth.clientSecret"
        );
        assert_eq!(
            err(json!({"type": "oauth2_client_credentials", "token": "t"})).param,
            "auth.token"
        );
    }

    #[test]
    fn views_hide_the_credentials() {
        let config = AuthConfig::Basic {
            username: "reporting-bot".into(),
            password: "hunter2hunter2".into(),
        };
        let shown = serde_json::to_value(config.view()).unwrap();
        assert_eq!(
            shown,
            json!({"type": "basic", "usernameLast4": "-bot", "passwordLast4": "ter2"})
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        let short = AuthConfig::Bearer {
            token: "abc".into(),
        };
        assert_eq!(
            serde_json::to_value(short.view()).unwrap(),
            json!({"type": "bearer", "tokenLast4": null})
        );
    }
}
