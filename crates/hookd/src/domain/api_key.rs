//! API key format and hashing.
//!
//! A key is `scripe_sk_{live|test}_` followed by 40 random base62 characters (≈238 bits). Only
//! its SHA-256 is stored: the key has far more entropy than a password, so a slow hash buys
//! nothing, and looking a key up by its hash means the secret itself is never compared byte by
//! byte (no timing side channel on the key).

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::tenant::Mode;

const RANDOM_LEN: usize = 40;

/// A freshly minted key: shown to the operator once, then only its hash is kept.
pub struct NewApiKey {
    pub plaintext: String,
    pub hash: String,
    pub prefix: String,
    pub last4: String,
}

pub fn prefix_for(mode: Mode) -> String {
    format!("scripe_sk_{}_", mode.as_str())
}

pub fn generate(mode: Mode) -> NewApiKey {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    let prefix = prefix_for(mode);
    let plaintext = format!("{prefix}{random}");
    NewApiKey {
        hash: hash(&plaintext),
        last4: random[RANDOM_LEN - 4..].to_string(),
        prefix,
        plaintext,
    }
}

/// Hex SHA-256 of the whole key, as stored.
pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// The mode a key claims by its shape, or `None` when it is not shaped like one of our keys.
/// The database lookup decides whether it is real.
pub fn parse_mode(candidate: &str) -> Option<Mode> {
    let (mode, random) = if let Some(rest) = candidate.strip_prefix("scripe_sk_live_") {
        (Mode::Live, rest)
    } else if let Some(rest) = candidate.strip_prefix("scripe_sk_test_") {
        (Mode::Test, rest)
    } else {
        return None;
    };
    let well_formed = random.len() >= 32
        && random.len() <= 128
        && random.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_hash_stably() {
        let key = generate(Mode::Test);
        assert!(key.plaintext.starts_with("scripe_sk_test_"));
        assert_eq!(parse_mode(&key.plaintext), Some(Mode::Test));
        assert_eq!(hash(&key.plaintext), key.hash);
        assert!(key.plaintext.ends_with(&key.last4));
        assert!(!key.hash.contains(&key.plaintext));
    }

    #[test]
    fn malformed_keys_are_not_keys() {
        assert_eq!(parse_mode("scripe_sk_live_short"), None);
        assert_eq!(
            parse_mode("sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            None
        );
        assert_eq!(
            parse_mode("scripe_sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaa"),
            None
        );
        assert_eq!(parse_mode(""), None);
    }
}
