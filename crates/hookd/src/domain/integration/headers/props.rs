//! Property tests of the header names and values a client gives an integration: a name is
//! accepted exactly when it is 1–256 RFC 9110 token characters and not one hookd manages; a
//! value exactly when it has no control character but tab and fits; what is accepted is sent
//! byte for byte; every refusal is a short message, never a panic.

use proptest::prelude::*;

use super::*;

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn names_are_tokens_hookd_does_not_manage(raw in prop_oneof![
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{0,20}",
        "\\PC{0,20}",
        "[ :\r\n\t\0a-z]{1,8}",
        proptest::sample::select(FORBIDDEN).prop_map(|n| n.to_ascii_uppercase()),
        Just("Content-Type".to_string()),
        "[a-z]{257,260}",
    ]) {
        let lower = raw.to_ascii_lowercase();
        let expected = !raw.is_empty()
            && raw.len() <= NAME_MAX
            && raw.chars().all(is_tchar)
            && !FORBIDDEN.contains(&lower.as_str())
            && lower != "content-type";
        match parse_name("headers", &raw) {
            Ok(name) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(name.as_str(), lower);
            }
            Err(err) => {
                prop_assert!(!expected, "{:?} refused: {}", raw, err.message);
                prop_assert_eq!(err.param, "headers");
                prop_assert!(err.message.len() < 400, "{}", err.message);
            }
        }
    }

    #[test]
    fn values_without_control_characters_are_sent_as_written(raw in prop_oneof![
        "[ -~\t]{0,40}",
        "\\PC{0,40}",
        "[a-z]{0,4}[\r\n\0\u{7f}\u{1b}][a-z]{0,4}",
    ]) {
        let expected = raw.len() <= VALUE_MAX && !raw.chars().any(|c| c.is_control() && c != '\t');
        match parse_value("headers.x", &raw) {
            Ok(value) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(value.as_bytes(), raw.as_bytes());
            }
            Err(err) => {
                prop_assert!(!expected, "{:?} refused: {}", raw, err.message);
                prop_assert!(err.message.len() < 200, "{}", err.message);
            }
        }
    }
}
