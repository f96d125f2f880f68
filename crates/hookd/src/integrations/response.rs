//! Handing the upstream's answer back faithfully: status, headers minus hop-by-hop ones, and the
//! body as JSON when the upstream said JSON (and it parses), else text, else base64.
//!
//! A JSON body is embedded as the raw text the upstream sent (validated, never re-encoded), so
//! key order and number precision (`12345678901234567890`, `1.10`) survive the trip.

use std::collections::BTreeMap;

use base64::Engine as _;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::domain::ids::CallId;
use crate::domain::integration::fields::is_json;
use crate::domain::integration::headers::is_hop_by_hop;
use crate::egress::OutboundResponse;

/// How `body` encodes the upstream's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    /// The upstream declared a JSON content type and the whole body parsed: `body` is that JSON.
    Json,
    /// `body` is the body as a string (valid UTF-8; an empty body is `""`).
    Text,
    /// The body is not UTF-8 (an image, a PDF, …): `body` is its standard base64 encoding.
    Base64,
}

/// The answer to `POST /v1/integrations/{id}/calls` (`CallResult`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallResult {
    /// The call-log entry of this call.
    pub id: CallId,
    /// The upstream's status code, whatever it is (a 500 from the upstream is still a 200 here).
    #[schema(example = 200)]
    pub status: u16,
    /// Response headers with lowercase names; repeated headers are joined with ", ".
    #[schema(example = json!({"content-type": "application/json"}))]
    pub headers: BTreeMap<String, String>,
    /// JSON, a string, or base64 text; see `bodyEncoding`.
    #[schema(value_type = Object, example = json!({"ok": true}))]
    pub body: Box<RawValue>,
    pub body_encoding: BodyEncoding,
    pub duration_ms: i64,
    /// The body was longer than 1 MiB and was cut off there.
    pub truncated: bool,
}

impl CallResult {
    pub fn from_response(id: CallId, response: &OutboundResponse) -> Self {
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let (body, body_encoding) = render_body(content_type, &response.body, response.truncated);
        Self {
            id,
            status: response.status,
            headers: render_headers(&response.headers),
            body,
            body_encoding,
            duration_ms: i64::try_from(response.duration.as_millis()).unwrap_or(i64::MAX),
            truncated: response.truncated,
        }
    }
}

fn render_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        if is_hop_by_hop(name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_string())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

fn render_body(
    content_type: Option<&str>,
    body: &[u8],
    truncated: bool,
) -> (Box<RawValue>, BodyEncoding) {
    // A truncated JSON document cannot parse; it is returned as text instead.
    if !truncated && content_type.is_some_and(is_json) {
        let raw = std::str::from_utf8(body)
            .ok()
            .and_then(|text| RawValue::from_string(text.trim().to_string()).ok());
        if let Some(raw) = raw {
            return (raw, BodyEncoding::Json);
        }
    }
    let (value, encoding) = render_non_json(body, truncated);
    let raw = serde_json::value::to_raw_value(&value).expect("a JSON string always serialises");
    (raw, encoding)
}

fn render_non_json(body: &[u8], truncated: bool) -> (Value, BodyEncoding) {
    match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_string()), BodyEncoding::Text),
        // The cut at 1 MiB may split a multi-byte character: keep the text up to it.
        Err(e) if truncated && e.error_len().is_none() => {
            let text = String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned();
            (Value::String(text), BodyEncoding::Text)
        }
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            BodyEncoding::Base64,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_body(ct: Option<&str>, body: &[u8], truncated: bool) -> (Value, BodyEncoding) {
        let (raw, encoding) = super::render_body(ct, body, truncated);
        (serde_json::from_str(raw.get()).unwrap(), encoding)
    }

    #[test]
    fn json_bodies_are_passed_through_verbatim() {
        let body = br#"{"z": 1, "a": 12345678901234567890123, "p": 1.10}"#;
        let (raw, encoding) = super::render_body(Some("application/json"), body, false);
        assert_eq!(encoding, BodyEncoding::Json);
        assert_eq!(raw.get().as_bytes(), body);
    }

    #[test]
    fn bodies_keep_their_kind() {
        let json_ct = Some("application/json; charset=utf-8");
        assert_eq!(
            render_body(json_ct, br#"{"a":1}"#, false),
            (json!({"a": 1}), BodyEncoding::Json)
        );
        assert_eq!(
            render_body(json_ct, b"not json", false),
            (json!("not json"), BodyEncoding::Text)
        );
        assert_eq!(
            render_body(Some("text/plain"), br#"{"a":1}"#, false),
            (json!(r#"{"a":1}"#), BodyEncoding::Text)
        );
        assert_eq!(
            render_body(None, b"", false),
            (json!(""), BodyEncoding::Text)
        );
        assert_eq!(
            render_body(Some("image/png"), &[0x89, b'P', b'N', b'G', 0xff], false),
            (json!("iVBOR/8="), BodyEncoding::Base64)
        );
        // "é" is two bytes; a cut between them still yields text.
        assert_eq!(
            render_body(Some("text/plain"), &[b'a', 0xc3], true),
            (json!("a"), BodyEncoding::Text)
        );
        assert_eq!(
            render_body(json_ct, br#"{"a":"#, true),
            (json!(r#"{"a":"#), BodyEncoding::Text)
        );
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_repeats_joined() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", "keep-alive".parse().unwrap());
        headers.insert("transfer-encoding", "chunked".parse().unwrap());
        headers.insert("x-request-id", "r1".parse().unwrap());
        headers.append("set-cookie", "a=1".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        let shown = render_headers(&headers);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown["x-request-id"], "r1");
        assert_eq!(shown["set-cookie"], "a=1, b=2");
    }
}
