//! Property tests of credentials in destination URLs: for any URL a client sends, with a
//! password and secret query parameters whatever their spelling, the URL parser refuses it
//! (only when a value looks sealed already) or what is stored opens back to exactly that URL,
//! lists the declared parameters as secret, and neither the stored nor the masked form (what
//! every read shows) contains a credential.

use proptest::prelude::*;
use url::Url;

use super::*;

/// Credentials distinctive enough that finding one in a text means it leaked, with characters
/// that need percent-encoding.
fn credential() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9]{6,10}([ %@:/?#&=+é][A-Za-z0-9]{1,4})?",
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(s, looks_sealed)| {
            // A client may send a value that looks like a sealed one.
            if looks_sealed {
                format!("sealed.v1.Cr3d{s}")
            } else {
                format!("Cr3d{s}")
            }
        })
}

/// `(url, secret names, credentials)`: a password or not, and query pairs of which some are
/// secret (a name may repeat).
fn destination() -> impl Strategy<Value = (Url, Vec<String>, Vec<String>)> {
    (
        proptest::option::of(credential()),
        proptest::collection::vec(("[a-z]{1,3}", credential(), any::<bool>()), 0..5),
        "(/[a-z]{0,5}){0,2}",
    )
        .prop_map(|(password, pairs, path)| {
            let mut url = Url::parse(&format!("https://hooks.example.com{path}")).unwrap();
            let mut credentials = Vec::new();
            if let Some(password) = password {
                url.set_username("user").unwrap();
                let encoded: String =
                    url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
                url.set_password(Some(&encoded)).unwrap();
                credentials.push(encoded);
            }
            let mut secret: Vec<String> = Vec::new();
            if !pairs.is_empty() {
                let mut query = url.query_pairs_mut();
                for (name, value, is_secret) in &pairs {
                    query.append_pair(name, value);
                    if *is_secret && !secret.contains(name) {
                        secret.push(name.clone());
                    }
                }
            }
            for (name, value, _) in &pairs {
                if secret.contains(name) {
                    credentials.push(value.clone());
                }
            }
            (url, secret, credentials)
        })
}

/// The forms a credential may take inside a URL.
fn spellings(credential: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(credential.as_bytes()).collect();
    let percent = urlencoding_like(credential);
    vec![credential.to_string(), form, percent]
}

/// Every non-alphanumeric byte as `%XX`.
fn urlencoding_like(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn credentials_are_sealed_masked_and_opened_back(
        (url, secret, credentials) in destination(),
    ) {
        // What the API would refuse never reaches sealing.
        if crate::domain::endpoint::parse_url("url", url.as_str()).is_err() {
            prop_assert!(looks_sealed(&url), "{} refused", url);
            return Ok(());
        }
        let cipher = Cipher::new(&[7u8; 32]);
        let names = parse_secret_params("secretQueryParams", &url, &secret)
            .map_err(|e| TestCaseError::fail(e.message))?;
        let stored = seal_params(&cipher, &url, &names).to_string();
        let shown = masked(&stored);
        for credential in &credentials {
            for spelling in spellings(credential) {
                prop_assert!(!stored.contains(&spelling), "{} in {}", spelling, stored);
                prop_assert!(!shown.contains(&spelling), "{} in {}", spelling, shown);
            }
        }
        prop_assert_eq!(open(&cipher, &stored).map_err(|e| TestCaseError::fail(e.to_string()))?, url.clone());
        let mut listed = secret_params(&stored);
        listed.sort();
        let mut declared = names.clone();
        declared.sort();
        prop_assert_eq!(listed, declared);
        prop_assert!(!needs_sealing(&stored));
        // Sealing again changes nothing.
        let again = seal_params(&cipher, &Url::parse(&stored).unwrap(), &names).to_string();
        prop_assert_eq!(again, stored);
    }

    /// Names are accepted only when they are parameters of the URL, 1–128 characters, at most
    /// 20; any text is an answer, never a panic.
    #[test]
    fn secret_param_names_must_be_parameters_of_the_url(
        query in "[a-z=&%0-9]{0,20}",
        names in proptest::collection::vec("\\PC{0,6}", 0..24),
    ) {
        let url = Url::parse(&format!("https://h.example/?{query}")).unwrap();
        let present: Vec<String> = url.query_pairs().map(|(n, _)| n.into_owned()).collect();
        match parse_secret_params("secretQueryParams", &url, &names) {
            Ok(out) => {
                prop_assert!(names.len() <= MAX_SECRET_PARAMS);
                prop_assert!(out.iter().all(|n| present.contains(n) && !n.is_empty()));
                prop_assert!(names.iter().all(|n| out.contains(n)));
            }
            Err(err) => prop_assert_eq!(err.param, "secretQueryParams"),
        }
    }

    #[test]
    fn arbitrary_stored_text_never_panics(stored in prop_oneof![
        "\\PC{0,60}",
        "https://[a-z]{0,3}(:(sealed\\.v1\\.)?[A-Za-z0-9_-]{0,12})?@h\\.example/\\?[a-z]=(sealed\\.v1\\.)?[A-Za-z0-9_-]{0,12}",
    ]) {
        let cipher = Cipher::new(&[7u8; 32]);
        let _ = open(&cipher, &stored);
        let _ = masked(&stored);
        let _ = secret_params(&stored);
        let _ = needs_sealing(&stored);
    }
}
