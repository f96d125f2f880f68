//! Property tests of a webhook endpoint's OAuth2 `auth` (`parse_endpoint_auth`, whose fields
//! integrations share through `ClientCredentials::parse`): an object is accepted exactly when
//! every field has the documented shape (an http(s) token URL without userinfo; `clientId`,
//! `clientSecret` and `audience` not blank, no control character, within their byte limits; a
//! scope of RFC 6749 tokens), stored as sent (the scope's spaces collapsed); a refusal names
//! the first bad field; neither the view, `Debug` nor an error carries the client secret.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// Starts every generated client secret and appears nowhere else.
const MARK: char = '\u{2603}';

/// Blank as the OpenAPI pattern's `\s` (ECMAScript: Unicode white space and U+FEFF).
fn is_blank(raw: &str) -> bool {
    raw.chars().all(|c| c.is_whitespace() || c == '\u{feff}')
}

/// The documented shape of `clientId`, `clientSecret` and `audience`.
fn text_ok(raw: &str, max: usize) -> bool {
    !is_blank(raw) && raw.len() <= max && !raw.chars().any(char::is_control)
}

fn scope_ok(raw: &str) -> bool {
    text_ok(raw, FIELD_MAX)
        && raw
            .chars()
            .all(|c| c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\'))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => "[a-zA-Z0-9._:/-]{1,20}",
        2 => "\\PC{0,10}",
        1 => "[ \t\u{a0}\u{3000}\u{feff}]{0,3}",
        1 => "[a-z]{0,3}[\0\r\n\u{7f}\u{85}\u{9f}][a-z]{0,3}",
        1 => "[a-z]{1020,1026}",
        1 => "é{510,514}",
    ]
}

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[ -~]{0,20}".prop_map(|s| format!("{MARK}{s}")),
        1 => "[a-z]{4090,4096}".prop_map(|s| format!("{MARK}{s}")),
        1 => "[a-z]{0,3}[\0\r\n]".prop_map(|s| format!("{MARK}{s}")),
        1 => "[ \t]{0,2}",
    ]
}

fn scope() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "( {0,2}[!#-\\[\\]-~]{1,8}){1,4} {0,2}",
        1 => "[a-z]{1,4}[\"\\\\é\t][a-z]{0,4}",
        1 => "\\PC{0,8}",
    ]
}

/// Token URLs, mostly good ones so that the later fields get checked too.
fn token_url() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z0-9/._-]{0,16}".prop_map(|path| format!("https://auth.example.com/{path}")),
        1 => Just("http://auth.example.com/token".to_string()),
        1 => Just("https://u:p@auth.example.com/token".to_string()),
        1 => Just("https://user@auth.example.com/token".to_string()),
        1 => Just("https://auth.example.com/token#x".to_string()),
        1 => Just("ftp://auth.example.com/token".to_string()),
        1 => Just("/token".to_string()),
        1 => "\\PC{0,12}",
    ]
}

/// An optional field: absent, `null`, a string, or (refused) another JSON type.
fn field<S: Strategy<Value = String>>(s: S) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        12 => s.prop_map(|v| Some(json!(v))),
        1 => Just(Some(json!(42))),
    ]
}

fn object() -> impl Strategy<Value = (Value, Option<String>)> {
    (
        field(token_url()),
        field(text()),
        field(secret()),
        field(scope()),
        field(text()),
        proptest::option::weighted(0.1, "[a-zA-Z]{1,8}"),
    )
        .prop_map(|(url, id, secret, scope, audience, extra)| {
            let mut obj = Map::new();
            obj.insert("type".into(), json!(TYPE));
            let fields = [
                ("tokenUrl", url),
                ("clientId", id),
                ("clientSecret", secret),
                ("scope", scope),
                ("audience", audience),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    obj.insert(name.into(), value);
                }
            }
            if let Some(extra) = &extra {
                obj.insert(extra.clone(), json!("x"));
            }
            (Value::Object(obj), extra)
        })
}

/// The field the parser must name, or `None` when the object is valid.
fn first_bad(obj: &Map<String, Value>, extra: Option<&str>) -> Option<String> {
    if let Some(extra) = extra.filter(|e| *e != "type" && !FIELDS.contains(e)) {
        return Some(extra.to_string());
    }
    let string = |name: &str| match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(name.to_string()),
    };
    let url_ok = |raw: &str| {
        Url::parse(raw).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        })
    };
    match string("tokenUrl") {
        Ok(Some(u)) if url_ok(&u) => {}
        _ => return Some("tokenUrl".into()),
    }
    for (name, max) in [("clientId", FIELD_MAX), ("clientSecret", SECRET_MAX)] {
        match string(name) {
            Ok(Some(v)) if text_ok(&v, max) => {}
            _ => return Some(name.into()),
        }
    }
    match string("scope") {
        Ok(None) => {}
        Ok(Some(v)) if scope_ok(&v) => {}
        _ => return Some("scope".into()),
    }
    match string("audience") {
        Ok(None) => {}
        Ok(Some(v)) if text_ok(&v, FIELD_MAX) => {}
        _ => return Some("audience".into()),
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn accepted_exactly_for_the_documented_shape((raw, extra) in object()) {
        let obj = raw.as_object().unwrap();
        let expected = first_bad(obj, extra.as_deref());
        match (parse_endpoint_auth("auth", &raw), expected) {
            (Ok(creds), None) => {
                let get = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_string);
                prop_assert_eq!(&creds.token_url, &Url::parse(&get("tokenUrl").unwrap()).unwrap().to_string());
                prop_assert_eq!(Some(creds.client_id.clone()), get("clientId"));
                prop_assert_eq!(Some(creds.client_secret.clone()), get("clientSecret"));
                prop_assert_eq!(creds.audience.clone(), get("audience"));
                let scope = get("scope").map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
                prop_assert_eq!(creds.scope.clone(), scope);
                let shown = serde_json::to_string(&EndpointAuth::OAuth2ClientCredentials(creds.view())).unwrap();
                prop_assert!(!shown.contains(MARK), "{}", shown);
                prop_assert!(!shown.contains(&creds.client_secret), "{}", shown);
                let debug = format!("{creds:?}");
                prop_assert!(!debug.contains(MARK), "{}", debug);
                let sealed: ClientCredentials = serde_json::from_value(serde_json::to_value(&creds).unwrap()).unwrap();
                prop_assert_eq!(sealed, creds);
            }
            (Ok(_), Some(field)) => prop_assert!(false, "{} accepted; {} is bad", raw, field),
            (Err(err), None) => prop_assert!(false, "{} refused: {} {}", raw, err.param, err.message),
            (Err(err), Some(field)) => {
                prop_assert_eq!(err.param, format!("auth.{field}"), "{}: {}", raw, err.message);
                prop_assert!(!err.message.contains(MARK), "{}", err.message);
                prop_assert!(err.message.len() < 400, "{}", err.message);
            }
        }
    }

    #[test]
    fn other_types_and_shapes_are_refused(kind in prop_oneof![
        Just(json!(null)),
        Just(json!(5)),
        "\\PC{0,40}".prop_map(Value::String),
        Just(json!("bearer")),
        Just(json!("OAUTH2_CLIENT_CREDENTIALS")),
    ], wrap in any::<bool>()) {
        prop_assume!(kind != json!(TYPE));
        let raw = json!({"type": kind, "tokenUrl": "https://auth.example.com/t",
                         "clientId": "id", "clientSecret": "secret-12345678"});
        let (raw, param) = if wrap { (json!([raw]), "auth") } else { (raw, "auth.type") };
        let err = parse_endpoint_auth("auth", &raw).unwrap_err();
        prop_assert_eq!(err.param, param);
        prop_assert!(err.message.len() < 400, "{}", err.message);
    }
}
