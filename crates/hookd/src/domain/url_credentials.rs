//! Credentials in destination URLs — the password (`https://user:pass@host/…`) and the values of
//! query parameters declared secret (`secretQueryParams`, e.g. `?token=…`) — write-only like
//! every other credential: sealed at rest with the master key (AES-256-GCM, as integration
//! credentials and signing secrets are), shown as `****` in every read, and opened only to send
//! a request.
//!
//! A sealed value stays inside the stored URL, in the place of the plaintext
//! (`https://user:sealed.v1.<base64url>@host/…?token=sealed.v1.<base64url>`), so the URL keeps
//! being one column and one value everywhere it is stored and cached, and which parameters are
//! secret is read from the URL itself (their values are sealed). Other parameters keep their
//! exact bytes. A stored URL whose password is not sealed (written
//! before sealing existed) is masked on read all the same, used as it is to send, and sealed
//! by the start-up step (`app::seal_endpoint_url_passwords`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use url::Url;

use crate::crypto::Cipher;

#[cfg(test)]
mod props;

/// What a read shows in place of a password.
pub const MASK: &str = "****";
const SEALED_PREFIX: &str = "sealed.v1.";

/// Query parameters declared secret at most, and the longest name.
pub const MAX_SECRET_PARAMS: usize = 20;
pub const PARAM_NAME_MAX: usize = 128;

fn seal_value(cipher: &Cipher, raw: &str) -> String {
    format!(
        "{SEALED_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(cipher.encrypt(raw.as_bytes()))
    )
}

fn open_value(cipher: &Cipher, stored: &str) -> anyhow::Result<Option<String>> {
    let Some(token) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok(None);
    };
    let sealed = URL_SAFE_NO_PAD.decode(token)?;
    Ok(Some(String::from_utf8(cipher.decrypt(&sealed)?)?))
}

/// The decoded name of a raw `name=value` query piece.
fn param_name(piece: &str) -> String {
    let name = piece.split_once('=').map_or(piece, |(name, _)| name);
    form_urlencoded::parse(format!("{name}=").as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default()
}

/// Rewrites the value of each raw query piece with `rewrite(name, raw value)`, leaving every
/// other byte of the query as it was.
fn rewrite_query(
    url: &mut Url,
    mut rewrite: impl FnMut(&str, &str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<()> {
    let Some(query) = url.query() else {
        return Ok(());
    };
    let mut pieces = Vec::new();
    let mut changed = false;
    for piece in query.split('&') {
        match piece.split_once('=') {
            Some((name, value)) => match rewrite(&param_name(piece), value)? {
                Some(new) => {
                    pieces.push(format!("{name}={new}"));
                    changed = true;
                }
                None => pieces.push(piece.to_string()),
            },
            None => pieces.push(piece.to_string()),
        }
    }
    if changed {
        url.set_query(Some(&pieces.join("&")));
    }
    Ok(())
}

/// Checks `names` (the `secretQueryParams` of `param`'s URL): each names a query parameter of
/// `url`, at most [`MAX_SECRET_PARAMS`] of them.
pub fn parse_secret_params(
    param: &str,
    url: &Url,
    names: &[String],
) -> Result<Vec<String>, super::FieldError> {
    if names.len() > MAX_SECRET_PARAMS {
        return Err(super::FieldError::new(
            param,
            format!("{param} lists at most {MAX_SECRET_PARAMS} parameters"),
        ));
    }
    let present: Vec<String> = url
        .query_pairs()
        .map(|(name, _)| name.into_owned())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if name.is_empty() || name.len() > PARAM_NAME_MAX {
            return Err(super::FieldError::new(
                param,
                format!("each name in {param} must be 1–{PARAM_NAME_MAX} characters"),
            ));
        }
        if !present.contains(name) {
            return Err(super::FieldError::new(
                param,
                format!("{param} names {name:?}, which is not a query parameter of the URL"),
            ));
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// The URL a PATCH of a destination (an endpoint's or an integration's) stores, sealed, given
/// the stored URL `current` and what the PATCH sent: `new_url` (already parsed and checked; the
/// caller passes `None` when it was absent or equal to the masked URL every read shows, so an
/// edit form sending the mask back keeps the stored credentials) and `names` (its
/// `secretQueryParams`). Without new names, the secret parameters of the current URL still
/// present in the new one stay secret. `None` when neither field changes anything.
pub fn patched(
    cipher: &Cipher,
    param: &str,
    current: &str,
    new_url: Option<Url>,
    names: Option<&[String]>,
) -> Result<Option<Url>, PatchError> {
    if new_url.is_none() && names.is_none() {
        return Ok(None);
    }
    let url = match new_url {
        Some(url) => url,
        None => open(cipher, current).map_err(PatchError::Stored)?,
    };
    let names = match names {
        Some(names) => parse_secret_params(param, &url, names).map_err(PatchError::Invalid)?,
        None => {
            let present: Vec<String> = url.query_pairs().map(|(n, _)| n.into_owned()).collect();
            secret_params(current)
                .into_iter()
                .filter(|n| present.contains(n))
                .collect()
        }
    };
    Ok(Some(seal_params(cipher, &url, &names)))
}

/// Why [`patched`] failed: the PATCH's names are invalid (400), or the stored URL could not be
/// opened (the master key changed: a server fault).
#[derive(Debug)]
pub enum PatchError {
    Invalid(super::FieldError),
    Stored(anyhow::Error),
}

/// Whether a URL a client sent has a password or a query value that reads as sealed: such a
/// value would be stored as it is (sealing skips what is already sealed), in plaintext, and
/// fail to open when sent. The client URL parser refuses it (found by a property test).
pub fn looks_sealed(url: &Url) -> bool {
    url.password().is_some_and(|p| p.starts_with(SEALED_PREFIX))
        || url
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|piece| piece.split_once('='))
            .any(|(_, value)| value.starts_with(SEALED_PREFIX))
}

/// The query parameters of a stored URL whose values are sealed: its `secretQueryParams`.
pub fn secret_params(stored: &str) -> Vec<String> {
    let Ok(url) = Url::parse(stored) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for piece in url.query().unwrap_or("").split('&') {
        if let Some((_, value)) = piece.split_once('=') {
            let name = param_name(piece);
            if value.starts_with(SEALED_PREFIX) && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// `url` with the values of the query parameters in `secret_params` sealed, ready to store.
pub fn seal_params(cipher: &Cipher, url: &Url, secret_params: &[String]) -> Url {
    let mut sealed = seal(cipher, url);
    // Only sealing: no error can arise.
    let _ = rewrite_query(&mut sealed, |name, value| {
        Ok(
            (secret_params.iter().any(|s| s == name) && !value.starts_with(SEALED_PREFIX))
                .then(|| seal_value(cipher, value)),
        )
    });
    sealed
}

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
    if let Some(Some(password)) = url.password().map(|p| open_value(cipher, p)).transpose()? {
        // Stored percent-encoded as the client wrote it: set back unchanged.
        let _ = url.set_password(Some(&password));
    }
    rewrite_query(&mut url, |_, value| open_value(cipher, value))?;
    Ok(url)
}

/// The stored URL as every read shows it: the password, sealed or not, and every sealed query
/// value as [`MASK`].
pub fn masked(stored: &str) -> String {
    let Ok(mut url) = Url::parse(stored) else {
        return stored.to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    let _ = rewrite_query(&mut url, |_, value| {
        Ok(value.starts_with(SEALED_PREFIX).then(|| MASK.to_string()))
    });
    url.to_string()
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
    fn secret_query_values_are_sealed_masked_and_opened_other_bytes_kept() {
        let url =
            Url::parse("https://h.example/in?a=1%202&token=t%2Fk+n&b=x+y&token=second&c").unwrap();
        let names = parse_secret_params("p", &url, &["token".into(), "token".into()]).unwrap();
        assert_eq!(names, ["token"]);
        let stored = seal_params(&cipher(), &url, &names).to_string();
        assert!(
            !stored.contains("t%2Fk") && !stored.contains("second"),
            "{stored}"
        );
        assert!(
            stored.contains("a=1%202&") && stored.contains("&b=x+y&") && stored.ends_with("&c")
        );
        assert_eq!(secret_params(&stored), ["token"]);
        assert_eq!(
            masked(&stored),
            "https://h.example/in?a=1%202&token=****&b=x+y&token=****&c"
        );
        assert_eq!(open(&cipher(), &stored).unwrap(), url);
        assert!(parse_secret_params("p", &url, &["nope".into()]).is_err());
        assert!(parse_secret_params("p", &url, &[String::new()]).is_err());
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(parse_secret_params("p", &url, &many).is_err());
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
