//! One token request (RFC 6749 §4.4) and the reading of its answer (§5.1, §5.2).
//!
//! The client authenticates with HTTP Basic (`client_secret_basic`), the method §2.3.1 says
//! every authorization server MUST support, with the id and secret form-encoded first as the RFC
//! asks. The answer must be JSON with an `access_token` of `token_type` `bearer` (a missing
//! `token_type` is tolerated: several servers leave it out). Everything a token endpoint may get
//! wrong (garbage, a huge body, an error, no answer) becomes a [`TokenError`] whose message
//! carries the token server's `error`, `error_description` and status, never the client secret.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use url::form_urlencoded;

use crate::domain::oauth2::ClientCredentials;
use crate::egress::{EgressError, OutboundRequest, OutboundResponse};

#[cfg(test)]
mod props;

/// A token answer larger than this is refused (tokens are a few KiB at most).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Characters of the token server's own words kept in an error.
const SHOWN_MAX: usize = 200;

/// A token ready to send: `Bearer <access_token>`, marked sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub header: HeaderValue,
    /// `expires_in` as the token endpoint gave it, in seconds.
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(***, expires_in: {:?})", self.expires_in)
    }
}

/// Why no token came back. `Display` is the sentence recorded on the attempt or call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// No answer: the egress policy refused the token URL, it timed out, or the connection failed.
    #[error("could not get an OAuth2 token from {url}: {cause}")]
    Unreachable { url: String, cause: EgressError },
    /// The token endpoint answered with an error status.
    #[error("could not get an OAuth2 token from {url}: the token endpoint answered {status}{}", detail(.error, .description))]
    Refused {
        url: String,
        status: u16,
        /// The `error` code of an RFC 6749 §5.2 answer (`invalid_client`, …).
        error: Option<String>,
        /// Its `error_description`, or the start of a body that is not an RFC 6749 error.
        description: Option<String>,
    },
    /// A success status, but no usable token in the answer.
    #[error("could not get an OAuth2 token from {url}: {reason}")]
    Invalid { url: String, reason: String },
}

fn detail(error: &Option<String>, description: &Option<String>) -> String {
    match (error, description) {
        (Some(e), Some(d)) => format!(" ({e}: {d})"),
        (Some(e), None) => format!(" ({e})"),
        (None, Some(d)) => format!(" ({d})"),
        (None, None) => String::new(),
    }
}

impl TokenError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Unreachable { cause, .. } if cause.is_timeout())
    }

    pub fn is_refused_by_policy(&self) -> bool {
        matches!(self, Self::Unreachable { cause, .. } if cause.is_refused())
    }
}

/// The token URL as errors show it: without its query, which could hold something private.
pub fn shown_url(credentials: &ClientCredentials) -> String {
    match credentials.url() {
        Ok(mut url) => {
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "the token URL".to_string(),
    }
}

/// The token request: `POST tokenUrl` with `grant_type=client_credentials` (plus `scope` and
/// `audience` when configured) and the client's Basic credentials.
pub fn request(
    credentials: &ClientCredentials,
    timeout: Duration,
) -> Result<OutboundRequest, TokenError> {
    let url = credentials.url().map_err(|e| TokenError::Invalid {
        url: shown_url(credentials),
        reason: format!("the token URL is invalid ({e})"),
    })?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = &credentials.scope {
        form.append_pair("scope", scope);
    }
    if let Some(audience) = &credentials.audience {
        form.append_pair("audience", audience);
    }
    let encode = |raw: &str| form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    let pair = format!(
        "{}:{}",
        encode(&credentials.client_id),
        encode(&credentials.client_secret)
    );
    let mut basic = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
    .map_err(|_| TokenError::Invalid {
        url: shown_url(credentials),
        reason: "the client credentials cannot be sent in a header".to_string(),
    })?;
    basic.set_sensitive(true);
    let mut request = OutboundRequest::new(reqwest::Method::POST, url);
    request.headers.insert(AUTHORIZATION, basic);
    request.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    request
        .headers
        .insert(ACCEPT, HeaderValue::from_static("application/json"));
    request.body = Bytes::from(form.finish());
    request.timeout = timeout;
    request.max_response_bytes = MAX_ANSWER_BYTES;
    Ok(request)
}

/// Reads the token endpoint's answer.
pub fn read(
    credentials: &ClientCredentials,
    answer: &OutboundResponse,
) -> Result<Token, TokenError> {
    let url = shown_url(credentials);
    let scrub = |raw: &str| shown(raw, &credentials.client_secret);
    if !(200..300).contains(&answer.status) {
        let json = serde_json::from_slice::<Value>(&answer.body).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(scrub)
        };
        let error = field("error");
        // Without an RFC 6749 error, the start of whatever the server said.
        let description = field("error_description").or_else(|| {
            (error.is_none() && !answer.body.is_empty())
                .then(|| scrub(&String::from_utf8_lossy(&answer.body)))
        });
        return Err(TokenError::Refused {
            url,
            status: answer.status,
            error,
            description,
        });
    }
    let invalid = |reason: &str| TokenError::Invalid {
        url: url.clone(),
        reason: format!("the token endpoint answered {} but {reason}", answer.status),
    };
    if answer.truncated {
        return Err(invalid(&format!(
            "its answer is larger than {} KiB",
            MAX_ANSWER_BYTES / 1024
        )));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&answer.body) else {
        return Err(invalid("its answer is not a JSON object"));
    };
    let access_token = match body.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token,
        _ => return Err(invalid("its answer has no access_token")),
    };
    match body.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(other) => {
            // A token_type that is not a string is shown as JSON, scrubbed and bounded like
            // any other text of the server's: it may echo the secret (found by a property test).
            let kind = scrub(
                &other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string),
            );
            return Err(invalid(&format!(
                "its token_type {kind:?} is not bearer, the only type hookd can send"
            )));
        }
    }
    if access_token.len() > crate::domain::oauth2::TOKEN_MAX {
        return Err(invalid("its access_token is unreasonably long"));
    }
    let mut header = HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| invalid("its access_token contains characters a header cannot carry"))?;
    header.set_sensitive(true);
    let expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))
                .unwrap_or(0),
        ),
        // Some servers send the number as a string.
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
        Some(_) => return Err(invalid("its expires_in is not a number of seconds")),
    };
    Ok(Token { header, expires_in })
}

/// A token server's text as shown in an error: one line, bounded, and with the client secret
/// blanked should a server echo it.
fn shown(raw: &str, secret: &str) -> String {
    let text = if secret.is_empty() {
        raw.to_string()
    } else {
        raw.replace(secret, "***")
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SHOWN_MAX)
        .collect();
    if text.chars().count() > SHOWN_MAX {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use serde_json::json;

    fn credentials() -> ClientCredentials {
        ClientCredentials {
            token_url: "https://auth.example.com/oauth/token?tenant=x".into(),
            client_id: "hookd:prod".into(),
            client_secret: "s3cret&=value".into(),
            scope: Some("a b".into()),
            audience: Some("https://api.example.com".into()),
        }
    }

    fn answer(status: u16, body: &[u8]) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(body),
            truncated: false,
            duration: Duration::ZERO,
        }
    }

    fn ok(body: Value) -> Result<Token, TokenError> {
        read(&credentials(), &answer(200, body.to_string().as_bytes()))
    }

    #[test]
    fn the_request_follows_rfc_6749() {
        let request = request(&credentials(), Duration::from_secs(3)).unwrap();
        assert_eq!(request.method, reqwest::Method::POST);
        assert_eq!(
            request.url.as_str(),
            "https://auth.example.com/oauth/token?tenant=x"
        );
        assert_eq!(
            &request.body[..],
            b"grant_type=client_credentials&scope=a+b&audience=https%3A%2F%2Fapi.example.com"
        );
        let basic = &request.headers[AUTHORIZATION];
        assert!(basic.is_sensitive());
        let encoded = basic.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"hookd%3Aprod:s3cret%26%3Dvalue");
        assert_eq!(
            request.headers[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.timeout, Duration::from_secs(3));
        assert!(!format!("{request:?}").contains("s3cret"));
    }

    #[test]
    fn good_answers() {
        let token =
            ok(json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})).unwrap();
        assert_eq!(token.header, "Bearer tok");
        assert!(token.header.is_sensitive());
        assert_eq!(token.expires_in, Some(3600));
        assert_eq!(
            ok(json!({"access_token": "t", "expires_in": "60"}))
                .unwrap()
                .expires_in,
            Some(60)
        );
        assert_eq!(
            ok(json!({"access_token": "t", "token_type": "bearer"}))
                .unwrap()
                .expires_in,
            None
        );
        assert_eq!(
            ok(json!({"access_token": "t", "expires_in": -5}))
                .unwrap()
                .expires_in,
            Some(0)
        );
        assert!(!format!("{token:?}").contains("tok\""));
    }

    #[test]
    fn garbage_is_an_error_that_says_why() {
        let reason = |r: Result<Token, TokenError>| r.unwrap_err().to_string();
        assert!(
            reason(read(&credentials(), &answer(200, b"<html>hi"))).contains("not a JSON object")
        );
        assert!(reason(ok(json!({"token_type": "bearer"}))).contains("no access_token"));
        assert!(reason(ok(json!({"access_token": ""}))).contains("no access_token"));
        assert!(reason(ok(json!({"access_token": 5}))).contains("no access_token"));
        assert!(reason(ok(json!({"access_token": "t", "token_type": "mac"}))).contains("mac"));
        assert!(reason(ok(json!({"access_token": "a\nb"}))).contains("header"));
        assert!(
            reason(ok(json!({"access_token": "t", "expires_in": "soon"}))).contains("expires_in")
        );
        let mut big = answer(200, b"{");
        big.truncated = true;
        assert!(reason(read(&credentials(), &big)).contains("larger"));
    }

    #[test]
    fn errors_carry_the_servers_words_but_never_the_secret() {
        let err = read(
            &credentials(),
            &answer(
                401,
                json!({"error": "invalid_client", "error_description": "bad secret s3cret&=value"})
                    .to_string()
                    .as_bytes(),
            ),
        )
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(
            text,
            "could not get an OAuth2 token from https://auth.example.com/oauth/token: the token \
             endpoint answered 401 (invalid_client: bad secret ***)"
        );
        let echoed = ok(json!({"access_token": "t", "token_type": ["s3cret&=value"]})).unwrap_err();
        assert!(
            echoed
                .to_string()
                .contains(r#"token_type "[\"***\"]" is not bearer"#),
            "{echoed}"
        );
        let plain = read(&credentials(), &answer(503, b"upstream\r\nbusy")).unwrap_err();
        assert!(
            plain.to_string().ends_with("answered 503 (upstream  busy)"),
            "{plain}"
        );
        let long = read(&credentials(), &answer(500, "x".repeat(5000).as_bytes())).unwrap_err();
        assert!(long.to_string().len() < 400);
    }
}
