//! Property tests of an integration's `contentType`: accepted exactly when it is a media type
//! (`type/subtype` of RFC 9110 tokens, parameters after `;`) that is a valid header value and
//! at most [`CONTENT_TYPE_MAX`] bytes; stored trimmed; [`is_json`] answers for the essence
//! alone, in any case.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn media_types_are_accepted_and_others_refused(raw in prop_oneof![
        "[ ]{0,2}[a-zA-Z0-9!#$&^_.+-]{1,12}/[a-zA-Z0-9!#$&^_.+-]{1,12}(; ?[a-z]{1,8}=[a-z0-9-]{1,8}){0,2}[ ]{0,2}",
        "\\PC{0,40}",
        "[a-z/; =\r\n\"]{0,20}",
    ]) {
        let essence = raw.split(';').next().unwrap().trim();
        let token = |s: &str| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        let media_type = essence.split_once('/').is_some_and(|(t, s)| token(t) && token(s));
        let expected = media_type
            && raw.len() <= CONTENT_TYPE_MAX
            && !raw.chars().any(|c| c.is_control() && c != '\t');
        match parse_content_type("contentType", &raw) {
            Ok(stored) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(stored.as_str(), raw.trim());
                let lower = essence.to_ascii_lowercase();
                prop_assert_eq!(
                    is_json(&stored),
                    lower == "application/json"
                        || (lower.starts_with("application/") && lower.ends_with("+json"))
                );
            }
            Err(err) => {
                prop_assert!(!expected, "{:?} refused: {}", raw, err.message);
                prop_assert_eq!(err.param, "contentType");
            }
        }
    }
}
