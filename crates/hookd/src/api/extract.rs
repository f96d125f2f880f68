//! Strict request extractors.
//!
//! `ApiJson` insists on `Content-Type: application/json` (415), honours the body limit (413),
//! refuses nesting deeper than [`MAX_JSON_DEPTH`], rejects unknown fields and names the
//! offending field of any parse error in `param` (400).
//! `ApiQuery` does the same for query strings; `ApiPath` answers 404 for a path parameter that
//! cannot be decoded. Every client mistake becomes a clear 4xx in the one error shape.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;

#[cfg(test)]
mod props;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json_content_type(req.headers())?;
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(1024 * 1024);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if crate::http_server::is_body_timeout(&rejection) {
                ApiError::RequestTimeout
            } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::InvalidRequest {
                    param: None,
                    message: format!("Could not read the request body: {rejection}"),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The configured body limit, put in request extensions by the router so errors can quote it.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

pub fn require_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Parses a JSON body, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest {
            param: None,
            message: "The request body is empty; send a JSON object.".into(),
        });
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::InvalidRequest {
            param: None,
            message: "The request body is not valid UTF-8.".into(),
        });
    }
    check_depth(bytes)?;
    // Tracking the path to the failing field allocates for every field of every body; so parse
    // without it first, and only a body that fails is parsed again to name the field.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| field_error(e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| field_error(".".into(), &e))?;
    Ok(value)
}

/// How deeply a field's value may nest (`[1]` is one level, `{"a": [1]}` two); the body's own
/// object is not counted. Webhook payloads are records, not trees: 64 is far more than any real
/// one needs, and a bound keeps a 1 MB body of brackets (100,000+ levels) from reaching code that
/// recurses over it — serde_json stops at 128 levels for typed fields, but `RawValue` (an
/// event's `data`) skips over any depth and hands it on, to storage and to every receiver.
pub const MAX_JSON_DEPTH: usize = 64;

/// Refuses a body nested deeper than [`MAX_JSON_DEPTH`], naming the top-level field at fault.
/// A byte scan before parsing, so a refused body is never parsed at all: it counts `[`/`{`
/// outside strings (JSON's structure characters are ASCII and never occur inside a multi-byte
/// UTF-8 sequence). Malformed JSON is left to the parser, which reports it better.
fn check_depth(bytes: &[u8]) -> Result<(), ApiError> {
    let root_is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // Inside the body's object, its fields' values start at depth 2.
    let limit = MAX_JSON_DEPTH + usize::from(root_is_object);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    // The last string closed at depth 1 of an object, and the key it became on `:`.
    let (mut last_string, mut field) = (0..0, None::<std::ops::Range<usize>>);
    let mut string_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    last_string = string_start..i + 1;
                }
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i;
            }
            b':' if depth == 1 && root_is_object => field = Some(last_string.clone()),
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    let param = field
                        .filter(|_| root_is_object)
                        .and_then(|key| serde_json::from_slice::<String>(&bytes[key]).ok());
                    return Err(ApiError::InvalidRequest {
                        message: format!(
                            "{} nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects.",
                            param
                                .as_deref()
                                .map_or("The request body".into(), |p| format!("`{p}`"))
                        ),
                        param,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn field_error(path: String, inner: &serde_json::Error) -> ApiError {
    let message = inner.to_string();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::InvalidRequest {
            param: None,
            message: format!("The request body is not valid JSON: {message}"),
        };
    }
    ApiError::InvalidRequest {
        param: param_for(&path, &message),
        message: humanize(&message),
    }
}

/// `serde_path_to_error` reports missing and unknown fields at the parent; name the field itself.
fn param_for(path: &str, message: &str) -> Option<String> {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let field = quoted("missing field `").or_else(|| quoted("unknown field `"));
    let parent = (path != ".").then(|| path.to_string());
    match (parent, field) {
        (Some(parent), Some(field)) if !parent.ends_with(&field) => {
            Some(format!("{parent}.{field}"))
        }
        (Some(parent), _) => Some(parent),
        (None, field) => field,
    }
}

fn humanize(message: &str) -> String {
    let trimmed = message.split(" at line ").next().unwrap_or(message);
    let mut out = trimmed.to_string();
    if let Some(first) = out.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    out.push('.');
    out
}

/// A JSON integer, also when written with a zero fraction or an exponent (`60.0`, `6e1`): JSON
/// Schema's `integer`, which the OpenAPI document promises for these fields, admits them, so the
/// server does too. Anything else is the usual 400 naming the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole(pub i64);

impl Whole {
    /// The value as a `u64`; a negative one as 0, which every unsigned field refuses by range.
    pub fn unsigned(self) -> u64 {
        u64::try_from(self.0).unwrap_or(0)
    }
}

impl From<u64> for Whole {
    fn from(value: u64) -> Self {
        Whole(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl<'de> serde::Deserialize<'de> for Whole {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        if let Some(whole) = number.as_i64() {
            return Ok(Whole(whole));
        }
        // Within ±2^63 (exclusive), where the cast below is exact for a whole f64.
        const BOUND: f64 = 9_223_372_036_854_775_808.0;
        match number.as_f64() {
            Some(f) if f.fract() == 0.0 && (-BOUND..BOUND).contains(&f) => Ok(Whole(f as i64)),
            _ => Err(serde::de::Error::custom(format!(
                "invalid value: {number}, expected a whole number"
            ))),
        }
    }
}

/// Query-string extractor with the same error shape as `ApiJson`; unknown parameters are errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let message = e.inner().to_string();
                ApiError::InvalidRequest {
                    param: param_for(&e.path().to_string(), &message),
                    message: humanize(&message),
                }
            })
    }
}

/// For PATCH fields that may be left out but not set to `null` (with `#[serde(default)]`):
/// absent → `None`, a value → `Some`, `null` → the usual "invalid type: null" error naming the
/// field. A plain `Option<T>` would read `null` as "unchanged" and answer 200 for a request that
/// changed nothing it asked for.
pub fn non_null<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Path parameters. A segment that cannot be decoded (e.g. `%FF`, not UTF-8) names no object, so
/// it is a 404 `not_found` in the usual shape instead of axum's plain-text 400.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) if rejection.status().is_client_error() => Err(ApiError::NotFound {
                param: rejected_key(&rejection),
                message: format!("No object matches this path ({}).", rejection.body_text()),
            }),
            // Missing or unsupported parameters are mistakes in the route table, not the request.
            Err(rejection) => Err(ApiError::Internal(anyhow::Error::new(rejection))),
        }
    }
}

fn rejected_key(rejection: &PathRejection) -> Option<String> {
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        return None;
    };
    match failed.kind() {
        ErrorKind::InvalidUtf8InPathParam { key }
        | ErrorKind::ParseErrorAtKey { key, .. }
        | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
        _ => None,
    }
}

/// `Option<Option<T>>` for PATCH bodies: absent → `None`, `null` → `Some(None)`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        name: String,
        events: Vec<String>,
    }

    fn param_of(raw: &str) -> Option<String> {
        match parse_json::<Body>(raw.as_bytes()) {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            other => panic!("expected invalid_request, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            param_of(r#"{"name": 5, "events": []}"#).as_deref(),
            Some("name")
        );
        assert_eq!(param_of(r#"{"events": []}"#).as_deref(), Some("name"));
        assert_eq!(
            param_of(r#"{"name": "a", "events": [], "extra": 1}"#).as_deref(),
            Some("extra")
        );
        assert_eq!(
            param_of(r#"{"name": "a", "events": [1]}"#).as_deref(),
            Some("events[0]")
        );
        assert_eq!(param_of(r#"{"name": "a""#), None);
        assert_eq!(param_of(r#"[]"#), None);
        assert_eq!(param_of(""), None);
        assert_eq!(param_of(r#"{"name": "a", "events": []} trailing"#), None);
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        #[serde(default, deserialize_with = "non_null")]
        name: Option<String>,
    }

    #[test]
    fn non_null_fields_may_be_absent_but_not_null() {
        assert_eq!(parse_json::<Patch>(b"{}").unwrap().name, None);
        assert_eq!(
            parse_json::<Patch>(br#"{"name": "a"}"#)
                .unwrap()
                .name
                .as_deref(),
            Some("a")
        );
        match parse_json::<Patch>(br#"{"name": null}"#) {
            Err(ApiError::InvalidRequest { param, .. }) => {
                assert_eq!(param.as_deref(), Some("name"))
            }
            other => panic!("expected invalid_request, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn depth_is_counted_per_field_outside_strings() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let refused = |body: String| match check_depth(body.as_bytes()) {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            Ok(()) => panic!("accepted {body}"),
            Err(other) => panic!("{other:?}"),
        };
        assert!(check_depth(format!(r#"{{"a": 1, "b": {}}}"#, nested(64)).as_bytes()).is_ok());
        assert!(check_depth(nested(64).as_bytes()).is_ok());
        assert_eq!(
            refused(format!(r#"{{"a": 1, "b\u0022": {}}}"#, nested(65))).as_deref(),
            Some("b\"")
        );
        assert_eq!(refused(nested(65)), None);
        // Structure characters and escaped quotes inside strings are not nesting.
        let quoted = format!(r#"{{"s": "[{{\"[", "b": {}}}"#, nested(64));
        assert!(check_depth(quoted.as_bytes()).is_ok());
        let quoted = format!(r#"{{"s": "]}}\"]", "b": {}}}"#, nested(65));
        assert_eq!(refused(quoted).as_deref(), Some("b"));
    }

    #[test]
    fn invalid_utf8_is_a_clear_error() {
        let err = parse_json::<Body>(b"{\"name\": \"\xff\"}").err().unwrap();
        assert!(err.to_string().contains("UTF-8"));
    }
}
