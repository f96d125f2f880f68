//! Property tests of `Idempotency-Key` syntax and of what makes a retry "the same request": a
//! key is accepted exactly when it is 1–64 of `[A-Za-z0-9_-]`; two JSON bodies have the same
//! fingerprint exactly when they hold the same parameters, whatever their whitespace or key
//! order; other bodies compare as bytes.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{body_fingerprint, is_valid_key, Fingerprint};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z\"\\\\é]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// `value` as a client might write it: object keys in reverse order and `gap` around every
/// token, so the bytes differ from serde_json's while the parameters are the same.
fn respell(value: &Value, gap: &str) -> String {
    match value {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|v| respell(v, gap)).collect();
            format!("[{gap}{}{gap}]", parts.join(&format!("{gap},{gap}")))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| format!("{}{gap}:{gap}{}", Value::from(k.as_str()), respell(v, gap)))
                .collect();
            format!("{{{gap}{}{gap}}}", parts.join(&format!("{gap},{gap}")))
        }
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keys_are_1_to_64_url_safe_characters(key in prop_oneof!["[A-Za-z0-9_-]{0,70}", "\\PC{0,70}"]) {
        let expected = (1..=64).contains(&key.len())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        prop_assert_eq!(is_valid_key(&key), expected, "{:?}", key);
    }

    #[test]
    fn a_respelled_body_is_the_same_request(value in json(), gap in "[ \t\r\n]{0,3}") {
        let canonical = serde_json::to_vec(&value).unwrap();
        let respelled = respell(&value, &gap);
        prop_assert_eq!(
            body_fingerprint(&canonical),
            body_fingerprint(respelled.as_bytes()),
            "{}", respelled
        );
    }

    #[test]
    fn different_parameters_are_a_different_request(a in json(), b in json()) {
        let fa = serde_json::to_vec(&a).unwrap();
        let fb = serde_json::to_vec(&b).unwrap();
        prop_assert_eq!(body_fingerprint(&fa) == body_fingerprint(&fb), a == b);
    }

    #[test]
    fn other_bodies_compare_as_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        match body_fingerprint(&bytes) {
            Fingerprint::Raw(raw) => {
                prop_assert_eq!(raw, &bytes[..]);
                prop_assert!(serde_json::from_slice::<Value>(&bytes).is_err());
            }
            Fingerprint::Json(text) => {
                let parsed: Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(text, parsed.to_string());
            }
        }
    }
}
