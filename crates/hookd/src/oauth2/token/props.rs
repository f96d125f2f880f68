//! Property tests of reading a token endpoint's answer (upstream input hookd does not
//! control): a success with a usable `access_token` becomes exactly `Bearer <token>`, anything
//! else is an error, and no error message ever carries the client secret, wherever the server
//! echoes it, nor grows with the answer.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::*;

const SECRET: &str = "s3cret-Xq9";

fn credentials() -> ClientCredentials {
    ClientCredentials {
        token_url: "https://auth.example.com/oauth/token".into(),
        client_id: "hookd".into(),
        client_secret: SECRET.into(),
        scope: None,
        audience: None,
    }
}

fn answer(status: u16, body: Vec<u8>) -> OutboundResponse {
    OutboundResponse {
        status,
        headers: HeaderMap::new(),
        body: Bytes::from(body),
        truncated: false,
        duration: Duration::ZERO,
    }
}

/// A JSON value that may carry the secret anywhere: as a string, inside one, in an array or an
/// object, as a key.
fn leaky() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just(SECRET.to_string()),
        "\\PC{0,8}".prop_map(|s| format!("{s}{SECRET}{s}")),
        "\\PC{0,12}",
    ];
    let leaf = prop_oneof![
        text.clone().prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            (text.clone(), inner).prop_map(|(k, v)| json!({ k: v })),
        ]
    })
}

fn token_answer() -> impl Strategy<Value = Value> {
    let field = |name: &'static str| proptest::option::of(leaky()).prop_map(move |v| (name, v));
    (
        field("access_token"),
        field("token_type"),
        field("expires_in"),
        field("error"),
        field("error_description"),
    )
        .prop_map(|fields| {
            let (a, b, c, d, e) = fields;
            let map: serde_json::Map<String, Value> = [a, b, c, d, e]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect();
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn answers_never_leak_the_secret_and_tokens_are_exact(
        body in prop_oneof![
            token_answer().prop_map(|v| v.to_string().into_bytes()),
            leaky().prop_map(|v| v.to_string().into_bytes()),
            "\\PC{0,300}".prop_map(|s| format!("{s}{SECRET}{s}").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ],
        status in prop_oneof![Just(200u16), Just(201), 100u16..600],
    ) {
        let parsed = serde_json::from_slice::<Value>(&body).ok();
        match read(&credentials(), &answer(status, body)) {
            Ok(token) => {
                prop_assert!((200..300).contains(&status));
                let access = parsed.as_ref().and_then(|v| v["access_token"].as_str()).unwrap();
                let expected = format!("Bearer {access}");
                prop_assert_eq!(token.header.as_bytes(), expected.as_bytes());
                prop_assert!(token.header.is_sensitive());
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!message.contains(SECRET), "{}", message);
                prop_assert!(message.chars().count() < 700, "{} characters", message.chars().count());
            }
        }
    }

    /// Each field but the token itself, with a usable token beside it, so the field's own
    /// check is what answers.
    #[test]
    fn a_bad_field_beside_a_good_token_never_leaks_the_secret(
        name in proptest::sample::select(vec!["token_type", "expires_in"]),
        value in leaky(),
    ) {
        let body = json!({"access_token": "tok", name: value}).to_string();
        if let Err(err) = read(&credentials(), &answer(200, body.into_bytes())) {
            let message = err.to_string();
            prop_assert!(!message.contains(SECRET), "{}", message);
            prop_assert!(message.chars().count() < 700, "{} characters", message.chars().count());
        }
    }

    #[test]
    fn expires_in_is_a_number_of_seconds_or_an_error(expires in leaky()) {
        let body = json!({"access_token": "tok", "expires_in": expires}).to_string();
        // The value as the reader sees it: serde_json may read a printed double back one unit
        // in the last place off.
        let expires = serde_json::from_str::<Value>(&body).unwrap()["expires_in"].clone();
        let result = read(&credentials(), &answer(200, body.into_bytes()));
        match (&expires, result) {
            (Value::Null, Ok(token)) => prop_assert_eq!(token.expires_in, None),
            (Value::Number(n), Ok(token)) => {
                let expected = n.as_u64().unwrap_or_else(|| n.as_f64().map_or(0, |f| f.max(0.0) as u64));
                prop_assert_eq!(token.expires_in, Some(expected));
            }
            (Value::String(s), Ok(token)) => prop_assert_eq!(token.expires_in, s.trim().parse().ok()),
            (_, Ok(token)) => prop_assert!(false, "{:?} accepted as {:?}", expires, token.expires_in),
            (_, Err(err)) => prop_assert!(err.to_string().contains("expires_in")),
        }
    }
}
