//! Standard Webhooks signatures: producing the `webhook-signature` header on every delivery
//! attempt and checking it (used by `hookd listen` and by tests standing in for customers).
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, MACed with HMAC-SHA256 keyed
//! by [`SigningSecret::hmac_key`] (the base64 decoding of the text after `whsec_`). The header is
//! `v1,<base64 MAC>`, one entry per live secret separated by spaces, so receivers keep verifying
//! while a secret is rotated out. Following the spec to the letter is what lets the official
//! Standard Webhooks libraries verify hookd's signatures unchanged.
//!
//! Signing is on the delivery hot path, so the content is fed to the MAC in pieces (never
//! concatenated into a buffer) and the header string is allocated once at its final size.
//! Verification compares in constant time and accepts if any `v1` entry matches.

use std::io::Write as _;

use axum::http::{header::InvalidHeaderValue, HeaderMap, HeaderName, HeaderValue};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::secret::{KeyRing, SigningSecret};

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";

/// The event id, the same on every retry of one delivery.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static(ID);
/// Unix seconds of this attempt (signed, so a captured request cannot be replayed for long).
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(TIMESTAMP);
/// `v1,<base64>` entries, space-separated, one per live secret.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(SIGNATURE);

/// How far a timestamp may be from the verifier's clock, either way (the spec's 5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

const VERSION_PREFIX: &str = "v1,";
const MAC_LEN: usize = 32;
/// Length of the standard (padded) base64 encoding of a 32-byte MAC.
const MAC_B64_LEN: usize = MAC_LEN.div_ceil(3) * 4;
/// One `v1,<base64 MAC>` entry.
const ENTRY_LEN: usize = VERSION_PREFIX.len() + MAC_B64_LEN;
/// Longest decimal `i64`: `-9223372036854775808`.
const I64_MAX_DIGITS: usize = 20;

type HmacSha256 = Hmac<Sha256>;

#[cfg(test)]
mod props;

/// Why a webhook did not verify. The variants are distinct so a receiver can tell a replayed or
/// clock-skewed request from a forged one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("{0} header is not valid")]
    InvalidHeader(&'static str),
    #[error("timestamp {timestamp} is more than {tolerance_secs}s in the past (now {now})")]
    TimestampTooOld {
        timestamp: i64,
        now: i64,
        tolerance_secs: i64,
    },
    #[error("timestamp {timestamp} is more than {tolerance_secs}s in the future (now {now})")]
    TimestampTooNew {
        timestamp: i64,
        now: i64,
        tolerance_secs: i64,
    },
    #[error("no v1 signature in the webhook-signature header")]
    NoSignature,
    #[error("no signature matches")]
    Mismatch,
}

/// The `webhook-signature` header value for one attempt: `v1,<base64>` per secret, in the order
/// given, separated by single spaces. An empty slice yields an empty string, which no receiver
/// accepts; callers always have at least the endpoint's current secret.
pub fn sign(secrets: &[SigningSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let macs = secrets.iter().map(|s| mac(s, msg_id, timestamp, body));
    header_of(secrets.len(), macs)
}

/// The `webhook-signature` value of these MACs: `v1,<base64>` entries joined by spaces,
/// allocated once for `count` entries.
fn header_of(count: usize, macs: impl Iterator<Item = [u8; MAC_LEN]>) -> String {
    let mut out = String::with_capacity(count * (ENTRY_LEN + 1));
    for mac in macs {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(VERSION_PREFIX);
        STANDARD.encode_string(mac, &mut out);
    }
    out
}

/// An endpoint's key ring with every secret's HMAC key prepared once (decoded from base64 and
/// hashed into the MAC's starting state), for signing attempt after attempt: [`sign`] does that
/// work again on every call. Signs exactly what [`sign`] signs with [`KeyRing::live`].
#[derive(Clone)]
pub struct Signer {
    /// Current first; each with the instant (unix ms) it stops signing, `None` for the current.
    keys: Vec<(HmacSha256, Option<i64>)>,
}

impl Signer {
    pub fn new(ring: &KeyRing) -> Self {
        let retired = ring
            .previous
            .iter()
            .map(|r| (&r.secret, Some(r.expires_at_ms)));
        let keys = std::iter::once((&ring.current, None))
            .chain(retired)
            .map(|(secret, until)| (prepare(secret), until))
            .collect();
        Self { keys }
    }

    /// The `webhook-signature` value of an attempt at `now_ms`: one entry per secret live then.
    pub fn sign(&self, now_ms: i64, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let live = self
            .keys
            .iter()
            .filter(|(_, until)| until.is_none_or(|until| until > now_ms));
        let macs = live.map(|(key, _)| mac_with(key.clone(), msg_id, timestamp, body));
        header_of(self.keys.len(), macs)
    }
}

/// The three Standard Webhooks headers for one attempt, ready to merge into a request.
/// Fails only if `msg_id` holds characters a header cannot carry (hookd's `msg_` ids never do).
pub fn signature_headers(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<HeaderMap, InvalidHeaderValue> {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(WEBHOOK_ID, HeaderValue::from_str(msg_id)?);
    headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
    headers.insert(
        WEBHOOK_SIGNATURE,
        HeaderValue::try_from(sign(secrets, msg_id, timestamp, body))?,
    );
    Ok(headers)
}

/// Checks a `webhook-signature` header against one secret. The timestamp must lie within
/// `tolerance_secs` of `now` (both unix seconds); then any `v1` entry matching in constant time
/// is enough, entries of other versions are ignored.
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    check_timestamp(timestamp, now, tolerance_secs)?;

    let mut expected = [0u8; MAC_B64_LEN];
    let written = STANDARD
        .encode_slice(mac(secret, msg_id, timestamp, body), &mut expected)
        .expect("buffer is sized for a base64 SHA-256 MAC");
    debug_assert_eq!(written, MAC_B64_LEN);

    // Comparing the base64 text (as the official libraries do) avoids decoding untrusted input;
    // the encoding is canonical, so this is equivalent to comparing the MAC bytes.
    let mut saw_v1 = false;
    for entry in header.split_ascii_whitespace() {
        let Some(candidate) = entry.strip_prefix(VERSION_PREFIX) else {
            continue;
        };
        saw_v1 = true;
        if bool::from(candidate.as_bytes().ct_eq(&expected)) {
            return Ok(());
        }
    }
    Err(if saw_v1 {
        VerifyError::Mismatch
    } else {
        VerifyError::NoSignature
    })
}

/// [`verify`] reading the three headers from a received request, reporting the first one that
/// is missing or unreadable.
pub fn verify_headers(
    secret: &SigningSecret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let msg_id = header_str(headers, ID)?;
    let timestamp = header_str(headers, TIMESTAMP)?;
    let signature = header_str(headers, SIGNATURE)?;
    let timestamp = timestamp
        .parse::<i64>()
        .map_err(|_| VerifyError::InvalidHeader(TIMESTAMP))?;
    verify(
        secret,
        msg_id,
        timestamp,
        body,
        signature,
        now,
        tolerance_secs,
    )
}

fn header_str<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, VerifyError> {
    let value = headers.get(name).ok_or(VerifyError::MissingHeader(name))?;
    value.to_str().map_err(|_| VerifyError::InvalidHeader(name))
}

fn check_timestamp(timestamp: i64, now: i64, tolerance_secs: i64) -> Result<(), VerifyError> {
    // Saturating: the timestamp comes from the network and may be anything.
    if now.saturating_sub(timestamp) > tolerance_secs {
        Err(VerifyError::TimestampTooOld {
            timestamp,
            now,
            tolerance_secs,
        })
    } else if timestamp.saturating_sub(now) > tolerance_secs {
        Err(VerifyError::TimestampTooNew {
            timestamp,
            now,
            tolerance_secs,
        })
    } else {
        Ok(())
    }
}

/// HMAC-SHA256 over `{msg_id}.{timestamp}.{body}`, fed piecewise so the body is never copied.
fn mac(secret: &SigningSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; MAC_LEN] {
    mac_with(prepare(secret), msg_id, timestamp, body)
}

/// The HMAC keyed by `secret`, before any content.
fn prepare(secret: &SigningSecret) -> HmacSha256 {
    HmacSha256::new_from_slice(&secret.hmac_key()).expect("HMAC accepts keys of any length")
}

/// [`mac`] continuing from a prepared key.
fn mac_with(mut mac: HmacSha256, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; MAC_LEN] {
    // The decimal timestamp, formatted on the stack.
    let mut digits = [0u8; I64_MAX_DIGITS];
    let mut cursor = &mut digits[..];
    write!(cursor, "{timestamp}").expect("an i64 fits in 20 bytes");
    let digits_len = I64_MAX_DIGITS - cursor.len();

    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(&digits[..digits_len]);
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_secret() -> SigningSecret {
        SigningSecret::parse(VECTOR_SECRET).unwrap()
    }

    fn check(secret: &SigningSecret, header: &str) -> Result<(), VerifyError> {
        verify(
            secret,
            VECTOR_ID,
            VECTOR_TS,
            VECTOR_BODY,
            header,
            VECTOR_TS,
            DEFAULT_TOLERANCE_SECS,
        )
    }

    /// The prepared signer signs the published vector, and with a rotated ring exactly what
    /// `sign` signs with the secrets live at each moment: both secrets during the grace period,
    /// the current alone once it ends.
    #[test]
    fn the_prepared_signer_signs_what_sign_signs_with_the_live_secrets() {
        let ring = KeyRing::new(vector_secret());
        assert_eq!(
            Signer::new(&ring).sign(0, VECTOR_ID, VECTOR_TS, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
        let rotated = ring.rotate(SigningSecret::generate(), 1_000, 500);
        let signer = Signer::new(&rotated);
        for now_ms in [1_000, 1_499, 1_500, 9_000] {
            let expected = sign(&rotated.live(now_ms), VECTOR_ID, VECTOR_TS, VECTOR_BODY);
            let signed = signer.sign(now_ms, VECTOR_ID, VECTOR_TS, VECTOR_BODY);
            assert_eq!(signed, expected, "at {now_ms} ms");
        }
        assert_eq!(signer.sign(1_499, VECTOR_ID, 1, b"").split(' ').count(), 2);
        assert_eq!(signer.sign(1_500, VECTOR_ID, 1, b"").split(' ').count(), 1);
    }

    #[test]
    fn signs_the_published_vector() {
        let header = sign(&[vector_secret()], VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        assert_eq!(header, VECTOR_SIGNATURE);
        assert_eq!(check(&vector_secret(), &header), Ok(()));
    }

    #[test]
    fn timestamps_are_signed_as_plain_decimals() {
        let secret = SigningSecret::generate();
        for ts in [0, -1, i64::MIN, i64::MAX] {
            let header = sign(std::slice::from_ref(&secret), "msg_1", ts, b"{}");
            let expected = format!("msg_1.{ts}.{{}}");
            let mut mac = HmacSha256::new_from_slice(&secret.hmac_key()).unwrap();
            mac.update(expected.as_bytes());
            let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
            assert_eq!(header, want, "timestamp {ts}");
        }
    }

    #[test]
    fn every_live_secret_signs_and_each_verifies() {
        let old = vector_secret();
        let new = SigningSecret::generate();
        let header = sign(
            &[new.clone(), old.clone()],
            VECTOR_ID,
            VECTOR_TS,
            VECTOR_BODY,
        );

        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1], VECTOR_SIGNATURE);
        assert!(entries[0].starts_with("v1,") && entries[0].len() == 3 + MAC_B64_LEN);

        assert_eq!(check(&old, &header), Ok(()));
        assert_eq!(check(&new, &header), Ok(()));
        assert_eq!(
            check(&SigningSecret::generate(), &header),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn tampering_with_any_signed_part_fails() {
        let secret = vector_secret();
        let at = |id: &str, ts: i64, body: &[u8]| {
            verify(
                &secret,
                id,
                ts,
                body,
                VECTOR_SIGNATURE,
                VECTOR_TS,
                DEFAULT_TOLERANCE_SECS,
            )
        };
        assert_eq!(at(VECTOR_ID, VECTOR_TS, VECTOR_BODY), Ok(()));
        assert_eq!(
            at(VECTOR_ID, VECTOR_TS, br#"{"test": 2432232315}"#),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            at("msg_p5jXN8AQM9LWM0D4loKWxJel", VECTOR_TS, VECTOR_BODY),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            at(VECTOR_ID, VECTOR_TS + 1, VECTOR_BODY),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_fail_distinctly() {
        let secret = vector_secret();
        let at_now = |now: i64| {
            verify(
                &secret,
                VECTOR_ID,
                VECTOR_TS,
                VECTOR_BODY,
                VECTOR_SIGNATURE,
                now,
                DEFAULT_TOLERANCE_SECS,
            )
        };
        assert_eq!(at_now(VECTOR_TS + 300), Ok(()));
        assert_eq!(at_now(VECTOR_TS - 300), Ok(()));
        assert!(matches!(
            at_now(VECTOR_TS + 301),
            Err(VerifyError::TimestampTooOld { .. })
        ));
        assert!(matches!(
            at_now(VECTOR_TS - 301),
            Err(VerifyError::TimestampTooNew { .. })
        ));
        // Extreme values must not overflow.
        assert!(matches!(
            at_now(i64::MAX),
            Err(VerifyError::TimestampTooOld { .. })
        ));
        assert!(matches!(
            at_now(i64::MIN),
            Err(VerifyError::TimestampTooNew { .. })
        ));
    }

    #[test]
    fn garbage_headers_are_rejected_without_panicking() {
        let secret = vector_secret();
        for header in ["", "   ", "v1", "v2,abc", "g0hM9SsE", "v1g0hM9SsE"] {
            assert_eq!(
                check(&secret, header),
                Err(VerifyError::NoSignature),
                "{header:?}"
            );
        }
        let long = format!("v1,{}", "A".repeat(10_000));
        for header in ["v1,", "v1,!!!", "v1,,,", "v1,é", long.as_str()] {
            assert_eq!(
                check(&secret, header),
                Err(VerifyError::Mismatch),
                "{header:?}"
            );
        }
        // A right signature among garbage, and other versions, is still found.
        let mixed = format!("v2,abc v1,!!!  {VECTOR_SIGNATURE}\tv1a,x");
        assert_eq!(check(&secret, &mixed), Ok(()));
        // Truncated or case-changed signatures do not match.
        let truncated = &VECTOR_SIGNATURE[..VECTOR_SIGNATURE.len() - 1];
        assert_eq!(check(&secret, truncated), Err(VerifyError::Mismatch));
        let upper = VECTOR_SIGNATURE.replacen("v1,g", "v1,G", 1);
        assert_eq!(check(&secret, &upper), Err(VerifyError::Mismatch));
    }

    #[test]
    fn headers_are_built_and_read_back() {
        let secret = vector_secret();
        let headers = signature_headers(
            std::slice::from_ref(&secret),
            VECTOR_ID,
            VECTOR_TS,
            VECTOR_BODY,
        )
        .unwrap();
        assert_eq!(headers["webhook-id"], VECTOR_ID);
        assert_eq!(headers["webhook-timestamp"], "1614265330");
        assert_eq!(headers["webhook-signature"], VECTOR_SIGNATURE);
        let now = VECTOR_TS + 10;
        assert_eq!(
            verify_headers(&secret, &headers, VECTOR_BODY, now, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );

        for (name, label) in [
            (WEBHOOK_ID, "webhook-id"),
            (WEBHOOK_TIMESTAMP, "webhook-timestamp"),
            (WEBHOOK_SIGNATURE, "webhook-signature"),
        ] {
            let mut missing = headers.clone();
            missing.remove(&name);
            assert_eq!(
                verify_headers(&secret, &missing, VECTOR_BODY, now, DEFAULT_TOLERANCE_SECS),
                Err(VerifyError::MissingHeader(label))
            );
        }
        let mut bad_ts = headers.clone();
        bad_ts.insert(WEBHOOK_TIMESTAMP, HeaderValue::from_static("yesterday"));
        assert_eq!(
            verify_headers(&secret, &bad_ts, VECTOR_BODY, now, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::InvalidHeader("webhook-timestamp"))
        );

        assert!(signature_headers(&[secret], "msg\n1", VECTOR_TS, VECTOR_BODY).is_err());
    }

    #[test]
    fn the_official_library_verifies_our_signatures() {
        let secret = SigningSecret::generate();
        let other = SigningSecret::generate();
        let msg_id = "msg_01HZX3K4M5N6P7Q8R9S0T1V2W3";
        let body = br#"{"type":"invoice.paid","data":{"amount":1200}}"#;
        let now = chrono::Utc::now().timestamp();
        let headers =
            signature_headers(&[other.clone(), secret.clone()], msg_id, now, body).unwrap();

        let official = standardwebhooks::Webhook::new(secret.expose()).unwrap();
        official.verify(body, &headers).unwrap();
        let official_other = standardwebhooks::Webhook::new(other.expose()).unwrap();
        official_other.verify(body, &headers).unwrap();

        // And the two implementations agree byte for byte.
        let theirs = official.sign(msg_id, now, body).unwrap();
        assert_eq!(theirs, sign(&[secret], msg_id, now, body));

        let stranger = standardwebhooks::Webhook::new(SigningSecret::generate().expose()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
    }
}
