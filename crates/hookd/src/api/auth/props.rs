//! Property tests of reading the API key from `Authorization`: a key is taken exactly from a
//! `Bearer` header (scheme in any case, the key trimmed), and claims a mode only when shaped
//! like one of hookd's keys; every generated key is read back with its mode; no header value
//! makes it panic.

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::*;
use crate::domain::tenant::Mode;

fn scheme() -> impl Strategy<Value = String> {
    prop_oneof!["[Bb][Ee][Aa][Rr][Ee][Rr]", "Basic", "Token", "\\PC{0,6}"]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "scripe_sk_(live|test)_[A-Za-z0-9]{30,130}",
        "scripe_sk_(live|test|prod)_[A-Za-z0-9._~+/-]{28,40}",
        "\\PC{0,50}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keys_are_read_from_bearer_headers_only(
        scheme in scheme(),
        gap in "[ \t]{1,3}",
        key in key(),
        trailing in "[ \t]{0,2}",
    ) {
        let text = format!("{scheme}{gap}{key}{trailing}");
        let Ok(value) = HeaderValue::from_str(&text) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        let token = bearer_token(&headers);
        // A header that is not visible ASCII is no key at all.
        let expected_scheme =
            scheme.eq_ignore_ascii_case("bearer") && gap.starts_with(' ') && text.is_ascii();
        prop_assert_eq!(token.is_some(), expected_scheme, "{:?}", text);
        if let Some(token) = token {
            prop_assert_eq!(token, text[scheme.len() + 1..].trim());
            let mode = api_key::parse_mode(token);
            let shaped = ["scripe_sk_live_", "scripe_sk_test_"].iter().any(|prefix| {
                token.strip_prefix(prefix).is_some_and(|random| {
                    (32..=128).contains(&random.len())
                        && random.chars().all(|c| c.is_ascii_alphanumeric())
                })
            });
            prop_assert_eq!(mode.is_some(), shaped, "{:?}", token);
        }
    }

    #[test]
    fn generated_keys_are_read_with_their_mode(live in any::<bool>(), lower in any::<bool>()) {
        let mode = if live { Mode::Live } else { Mode::Test };
        let key = api_key::generate(mode);
        let scheme = if lower { "bearer" } else { "Bearer" };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("{scheme} {}", key.plaintext)).unwrap(),
        );
        let token = bearer_token(&headers).unwrap();
        prop_assert_eq!(token, key.plaintext.as_str());
        prop_assert_eq!(api_key::parse_mode(token), Some(mode));
        prop_assert_eq!(api_key::hash(token), key.hash);
    }
}
