//! Secrets at rest: AES-256-GCM under the master key.
//!
//! Every ciphertext is `nonce (12 bytes) || ciphertext+tag`, with a fresh random nonce per
//! encryption. A wrong master key or a tampered row fails to decrypt instead of yielding garbage.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
#[error("could not decrypt a stored secret: the master key differs from the one it was written with, or the row is damaged")]
pub struct DecryptError;

#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self {
            aead: Aes256Gcm::new(master_key.into()),
        }
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .aead
            .encrypt(&nonce, plaintext)
            .expect("AES-GCM encryption cannot fail for in-memory buffers under 64 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if stored.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        self.aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| DecryptError)
    }
}

impl Cipher {
    /// Seals a value as JSON.
    pub fn seal_json<T: serde::Serialize>(&self, value: &T) -> Vec<u8> {
        let json = serde_json::to_vec(value).expect("serialising plain data types cannot fail");
        self.encrypt(&json)
    }

    /// Opens a value sealed with [`Cipher::seal_json`].
    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        stored: &[u8],
    ) -> Result<T, DecryptError> {
        serde_json::from_slice(&self.decrypt(stored)?).map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let c = Cipher::new(&[7u8; 32]);
        let sealed = c.encrypt(b"whsec_secret");
        assert!(!sealed.windows(6).any(|w| w == b"whsec_"));
        assert_eq!(c.decrypt(&sealed).unwrap(), b"whsec_secret");
        assert_ne!(c.encrypt(b"x"), c.encrypt(b"x"), "nonces must differ");
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let sealed = Cipher::new(&[1u8; 32]).encrypt(b"data");
        assert!(Cipher::new(&[2u8; 32]).decrypt(&sealed).is_err());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(Cipher::new(&[1u8; 32]).decrypt(&bad).is_err());
        assert!(Cipher::new(&[1u8; 32]).decrypt(b"short").is_err());
    }
}
