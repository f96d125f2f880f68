//! Property tests of Standard Webhooks signing and verification: what [`sign`] produces,
//! [`verify`] and [`verify_headers`] accept; changing the body, the timestamp, the message id
//! or any character of the signature makes it fail; no header text makes them panic.

use axum::http::HeaderMap;
use proptest::prelude::*;

use super::*;
use crate::domain::secret::SigningSecret;

fn secret() -> impl Strategy<Value = SigningSecret> {
    proptest::collection::vec(any::<u8>(), 1..48)
        .prop_map(|key| SigningSecret::parse(&format!("whsec_{}", STANDARD.encode(key))).unwrap())
}

/// Message ids as senders write them, including ones with dots (the signed content's
/// separator).
fn msg_id() -> impl Strategy<Value = String> {
    prop_oneof!["msg_[a-zA-Z0-9]{1,30}", "[ -~]{1,40}"]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..256)
}

/// Timestamps anywhere in the `i64` range, so formatting and tolerance arithmetic see extremes.
fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![1_500_000_000i64..2_500_000_000, any::<i64>()]
}

fn check(
    secret: &SigningSecret,
    id: &str,
    ts: i64,
    body: &[u8],
    header: &str,
) -> Result<(), VerifyError> {
    verify(secret, id, ts, body, header, ts, DEFAULT_TOLERANCE_SECS)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_is_signed_verifies(
        secrets in proptest::collection::vec(secret(), 1..4),
        id in msg_id(),
        ts in timestamp(),
        body in body(),
    ) {
        let header = sign(&secrets, &id, ts, &body);
        for secret in &secrets {
            prop_assert_eq!(check(secret, &id, ts, &body, &header), Ok(()));
        }
        // Through real headers, as a receiver reads them.
        if let Ok(headers) = signature_headers(&secrets, &id, ts, &body) {
            prop_assert_eq!(
                verify_headers(&secrets[0], &headers, &body, ts, DEFAULT_TOLERANCE_SECS),
                Ok(())
            );
        }
    }

    /// Any change to a signed part, the timestamp staying within the tolerance, is a mismatch.
    #[test]
    fn any_mutation_of_body_timestamp_or_id_fails(
        secret in secret(),
        id in msg_id(),
        ts in 1_500_000_000i64..2_500_000_000,
        body in body(),
        other_body in body(),
        other_id in msg_id(),
        shift in (-DEFAULT_TOLERANCE_SECS..=DEFAULT_TOLERANCE_SECS).prop_filter("a change", |s| *s != 0),
        flip in (any::<prop::sample::Index>(), 1..=255u8),
    ) {
        let header = sign(std::slice::from_ref(&secret), &id, ts, &body);
        let now = ts;
        let verify_at = |id: &str, ts: i64, body: &[u8]| {
            verify(&secret, id, ts, body, &header, now, DEFAULT_TOLERANCE_SECS)
        };
        if other_body != body {
            prop_assert_eq!(verify_at(&id, ts, &other_body), Err(VerifyError::Mismatch));
        }
        if !body.is_empty() {
            let mut flipped = body.clone();
            flipped[flip.0.index(body.len())] ^= flip.1;
            prop_assert_eq!(verify_at(&id, ts, &flipped), Err(VerifyError::Mismatch));
        }
        if other_id != id {
            prop_assert_eq!(verify_at(&other_id, ts, &body), Err(VerifyError::Mismatch));
        }
        prop_assert_eq!(verify_at(&id, ts + shift, &body), Err(VerifyError::Mismatch));
        let wrong = SigningSecret::generate();
        prop_assert_eq!(
            verify(&wrong, &id, ts, &body, &header, now, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::Mismatch)
        );
    }

    /// Changing any one character of the `v1,` entry makes it fail; surrounding it with other
    /// entries (other versions, garbage) does not stop it verifying.
    #[test]
    fn the_signature_entry_must_match_exactly(
        secret in secret(),
        body in body(),
        at in any::<prop::sample::Index>(),
        replacement in "[ -~]",
        noise in proptest::collection::vec("[!-~]{1,50}", 0..4),
    ) {
        let header = sign(std::slice::from_ref(&secret), "msg_1", 1_700_000_000, &body);
        let i = at.index(header.len());
        let mut changed = header.clone();
        changed.replace_range(i..=i, &replacement);
        if changed != header {
            prop_assert!(check(&secret, "msg_1", 1_700_000_000, &body, &changed).is_err(), "{}", changed);
        }
        let mut entries = noise.clone();
        entries.insert(noise.len() / 2, header.clone());
        let crowded = entries.join(" ");
        prop_assert_eq!(check(&secret, "msg_1", 1_700_000_000, &body, &crowded), Ok(()));
    }

    /// A timestamp outside the tolerance fails as too old or too new, never as a mismatch, and
    /// extreme values do not overflow.
    #[test]
    fn timestamps_outside_the_tolerance_fail_as_such(
        secret in secret(),
        ts in any::<i64>(),
        now in any::<i64>(),
        tolerance in 0i64..1_000_000,
    ) {
        let header = sign(std::slice::from_ref(&secret), "msg_1", ts, b"{}");
        let result = verify(&secret, "msg_1", ts, b"{}", &header, now, tolerance);
        let distance = i128::from(now) - i128::from(ts);
        if distance > i128::from(tolerance) {
            prop_assert!(matches!(result, Err(VerifyError::TimestampTooOld { .. })), "{:?}", result);
        } else if -distance > i128::from(tolerance) {
            prop_assert!(matches!(result, Err(VerifyError::TimestampTooNew { .. })), "{:?}", result);
        } else {
            prop_assert_eq!(result, Ok(()));
        }
    }

    /// Arbitrary header values are an error, never a panic, and never a success.
    #[test]
    fn garbage_headers_never_verify(
        secret in secret(),
        id in "\\PC{0,40}",
        ts in "\\PC{0,24}",
        signature in prop_oneof!["\\PC{0,120}", "(v1,[A-Za-z0-9+/=]{0,50} ?){0,4}"],
    ) {
        let refused = check(&secret, "msg_1", 1_700_000_000, b"{}", &signature).is_err();
        prop_assert!(refused, "{:?} verified", signature);
        let mut headers = HeaderMap::new();
        for (name, value) in [(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, ts), (WEBHOOK_SIGNATURE, signature)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let refused = verify_headers(&secret, &headers, b"{}", 1_700_000_000, DEFAULT_TOLERANCE_SECS).is_err();
        prop_assert!(refused, "{:?} verified", headers);
    }

    /// A secret is `whsec_` and non-empty standard base64; whatever else is refused, and what
    /// parses keeps its text and decodes to its key.
    #[test]
    fn secrets_parse_only_in_their_form(raw in prop_oneof!["\\PC{0,60}", "whsec_[A-Za-z0-9+/=]{0,60}"]) {
        if let Some(secret) = SigningSecret::parse(&raw) {
            let body = raw.strip_prefix("whsec_").unwrap();
            prop_assert_eq!(secret.expose(), raw.as_str());
            prop_assert_eq!(secret.hmac_key(), STANDARD.decode(body).unwrap());
            prop_assert!(!secret.hmac_key().is_empty());
            prop_assert_eq!(secret.last4().len(), 4.min(raw.len()));
        }
    }
}
