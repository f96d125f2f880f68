//! Property tests of `orderingKey`: accepted exactly when 1–128 characters (not bytes) without
//! control characters, kept as sent; every refusal names the parameter.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keys_are_1_to_128_characters_without_controls(raw in prop_oneof![
        "\\PC{0,130}",
        "[a-zé😀]{120,130}",
        "[a-z]{0,4}[\r\n\0\t\u{7f}\u{85}][a-z]{0,4}",
    ]) {
        let count = raw.chars().count();
        let expected = (1..=MAX_KEY_CHARS).contains(&count) && !raw.chars().any(char::is_control);
        match OrderingKey::parse("orderingKey", &raw) {
            Ok(key) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(key.as_str(), raw.as_str());
            }
            Err(err) => {
                prop_assert!(!expected, "{:?} refused", raw);
                prop_assert_eq!(err.param, "orderingKey");
            }
        }
    }
}
