//! Property tests of `Scripe-Api-Version`: absent means the default; a supported version is
//! accepted with surrounding whitespace; every other header value, bytes a client may send
//! included, is refused with at most 32 characters of it echoed, never a panic.

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn only_supported_versions_resolve(
        raw in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..48),
            "[ \t]{0,2}20[0-9]{2}-[0-9]{2}-[0-9]{2}[ \t]{0,2}".prop_map(String::into_bytes),
            (proptest::sample::select(SUPPORTED), "[ \t]{0,2}", "[ \t]{0,2}")
                .prop_map(|(v, a, b)| format!("{a}{v}{b}").into_bytes()),
        ],
    ) {
        let Ok(value) = HeaderValue::from_bytes(&raw) else {
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, value);
        let trimmed = std::str::from_utf8(&raw).map(str::trim).ok();
        match resolve(&headers) {
            Ok(version) => {
                prop_assert!(SUPPORTED.contains(&version));
                prop_assert_eq!(Some(version), trimmed);
            }
            Err(ApiError::VersionUnsupported(shown)) => {
                prop_assert!(trimmed.is_none_or(|t| !SUPPORTED.contains(&t)));
                prop_assert!(shown.chars().count() <= 32);
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}

#[test]
fn no_header_is_the_default() {
    assert_eq!(resolve(&HeaderMap::new()).ok(), Some(DEFAULT));
}
