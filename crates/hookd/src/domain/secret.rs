//! Endpoint signing secrets.
//!
//! A secret is `whsec_` + 64 lowercase hex characters (32 random bytes). Per the Standard
//! Webhooks spec, the HMAC key is the base64 decoding of the part after `whsec_`; for our
//! 64-hex-character secrets that is a 48-byte key. Using the spec's rule (rather than hex
//! decoding) is what lets the official verifier libraries check our signatures unchanged.

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "whsec_";

/// A signing secret in its textual form. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningSecret(…{})", self.last4())
    }
}

impl SigningSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{PREFIX}{}", hex::encode(bytes)))
    }

    /// Accepts any `whsec_<base64>` secret (used by `hookd listen` and for test vectors).
    pub fn parse(raw: &str) -> Option<Self> {
        let body = raw.strip_prefix(PREFIX)?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?;
        (!key.is_empty()).then(|| Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> String {
        self.0[self.0.len().saturating_sub(4)..].to_string()
    }

    /// The HMAC key: base64 decoding of the text after `whsec_`.
    pub fn hmac_key(&self) -> Vec<u8> {
        let body = self.0.strip_prefix(PREFIX).unwrap_or(&self.0);
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|_| body.as_bytes().to_vec())
    }
}

/// The secrets an endpoint signs with: the current one, plus rotated-out ones that keep signing
/// until their grace period ends. Stored sealed (see `crypto`), as one JSON document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyRing {
    pub current: SigningSecret,
    #[serde(default)]
    pub previous: Vec<RetiredSecret>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetiredSecret {
    pub secret: SigningSecret,
    pub expires_at_ms: i64,
}

impl KeyRing {
    pub fn new(current: SigningSecret) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// A ring whose current secret is `next`; the old current keeps signing for `grace_ms`.
    pub fn rotate(&self, next: SigningSecret, now_ms: i64, grace_ms: i64) -> Self {
        let mut previous: Vec<RetiredSecret> = self
            .previous
            .iter()
            .filter(|r| r.expires_at_ms > now_ms)
            .cloned()
            .collect();
        if grace_ms > 0 {
            previous.push(RetiredSecret {
                secret: self.current.clone(),
                expires_at_ms: now_ms.saturating_add(grace_ms),
            });
        }
        Self {
            current: next,
            previous,
        }
    }

    /// Every secret that signs at `now_ms`, current first.
    pub fn live(&self, now_ms: i64) -> Vec<SigningSecret> {
        std::iter::once(self.current.clone())
            .chain(
                self.previous
                    .iter()
                    .filter(|r| r.expires_at_ms > now_ms)
                    .map(|r| r.secret.clone()),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
        let first = SigningSecret::generate();
        let ring = KeyRing::new(first.clone());
        let second = SigningSecret::generate();
        let rotated = ring.rotate(second.clone(), 1_000, 500);
        assert_eq!(rotated.live(1_200), vec![second.clone(), first.clone()]);
        assert_eq!(rotated.live(1_500), vec![second.clone()]);
        let third = SigningSecret::generate();
        let again = rotated.rotate(third.clone(), 1_600, 500);
        assert_eq!(again.live(1_700), vec![third.clone(), second]);
        assert_eq!(
            again
                .rotate(SigningSecret::generate(), 1_700, 0)
                .previous
                .len(),
            1
        );
    }

    #[test]
    fn generated_secret_has_the_documented_shape() {
        let s = SigningSecret::generate();
        let body = s.expose().strip_prefix("whsec_").unwrap();
        assert_eq!(body.len(), 64);
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(s.hmac_key().len(), 48);
        assert_eq!(s.last4(), body[60..]);
        assert!(!format!("{s:?}").contains(body));
    }

    #[test]
    fn parse_accepts_standard_webhooks_secrets_only() {
        assert!(SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(SigningSecret::parse("whsec_***").is_none());
        assert!(SigningSecret::parse("whsec_").is_none());
    }
}
