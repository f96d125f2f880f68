//! Passwords in destination URLs (`https://user:pass@host/…`), write-only like every other
//! credential: sealed at rest with the master key (AES-256-GCM, as integration credentials and
//! signing secrets are), shown as `****` in every read, and opened only to send a request.
//!
//! The sealed password stays inside the stored URL, in the password's place
//! (`https://user:sealed.v1.<base64url>@host/…`), so the URL keeps being one column and one
//! value everywhere it is stored and cached. A stored URL whose password is not sealed (written
//! before sealing existed) is masked on read all the same, used as it is to send, and sealed
//! by the start-up step (`app::seal_endpoint_url_passwords`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use url::Url;

use crate::crypto::Cipher;

/// What a read shows in place of a password.
pub const MASK: &str = "****";
const SEALED_PREFIX: &str = "sealed.v1.";

/// `url` with its password (if any) sealed, ready to store.
pub fn seal(cipher: &Cipher, url: &Url) -> Url {
    let mut sealed = url.clone();
    if let Some(password) = url.password().filter(|p| !p.starts_with(SEALED_PREFIX)) {
        let token = format!(
            "{SEALED_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(cipher.encrypt(password.as_bytes()))
        );
        // Cannot fail: the URL has a host (it has a password).
        let _ = sealed.set_password(Some(&token));
    }
    sealed
}

/// The stored URL as requests are sent to it: the password opened.
pub fn open(cipher: &Cipher, stored: &str) -> anyhow::Result<Url> {
    let mut url = Url::parse(stored)?;
    let Some(token) = url.password().and_then(|p| p.strip_prefix(SEALED_PREFIX)) else {
        return Ok(url);
    };
    let sealed = URL_SAFE_NO_PAD.decode(token)?;
    let password = String::from_utf8(cipher.decrypt(&sealed)?)?;
    // Stored percent-encoded as the client wrote it: set back unchanged.
    let _ = url.set_password(Some(&password));
    Ok(url)
}

/// The stored URL as every read shows it: the password, sealed or not, as [`MASK`].
pub fn masked(stored: &str) -> String {
    match Url::parse(stored) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some(MASK));
            url.to_string()
        }
        _ => stored.to_string(),
    }
}

/// Whether a stored URL holds a password in plaintext (to be sealed).
pub fn needs_sealing(stored: &str) -> bool {
    Url::parse(stored)
        .ok()
        .and_then(|url| url.password().map(|p| !p.starts_with(SEALED_PREFIX)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Cipher {
        Cipher::new(&[7u8; 32])
    }

    #[test]
    fn a_password_is_sealed_masked_and_opened() {
        let url = Url::parse("https://ada:p%40ss:w0rd@hooks.example.com/in?x=1").unwrap();
        let stored = seal(&cipher(), &url).to_string();
        assert!(!stored.contains("w0rd"), "{stored}");
        assert!(stored.starts_with("https://ada:sealed.v1."), "{stored}");
        assert!(!needs_sealing(&stored));
        assert_eq!(
            seal(&cipher(), &Url::parse(&stored).unwrap()).to_string(),
            stored
        );
        assert_eq!(masked(&stored), "https://ada:****@hooks.example.com/in?x=1");
        assert_eq!(open(&cipher(), &stored).unwrap(), url);
        assert!(open(&Cipher::new(&[8u8; 32]), &stored).is_err());
    }

    #[test]
    fn urls_without_a_password_pass_unchanged() {
        for raw in [
            "https://hooks.example.com/in",
            "https://ada@hooks.example.com/",
        ] {
            let url = Url::parse(raw).unwrap();
            assert_eq!(seal(&cipher(), &url), url);
            assert_eq!(masked(raw), raw);
            assert!(!needs_sealing(raw));
            assert_eq!(open(&cipher(), raw).unwrap(), url);
        }
    }

    #[test]
    fn a_plaintext_password_from_before_sealing_is_masked_and_still_usable() {
        let raw = "https://ada:plain@hooks.example.com/";
        assert!(needs_sealing(raw));
        assert_eq!(masked(raw), "https://ada:****@hooks.example.com/");
        assert_eq!(open(&cipher(), raw).unwrap().password(), Some("plain"));
    }
}
