//! Property tests of an endpoint's `description` and `metadata`: a description is accepted
//! exactly when at most 1024 characters without control characters other than line breaks and
//! tabs; metadata exactly when at most 50 keys, each key 1–40 characters, not blank, without
//! control characters, each value at most 500 characters without control characters. What is
//! accepted is kept as sent; a refusal names `metadata.<key>` for a bad value, else `metadata`.

use proptest::prelude::*;

use super::*;

fn description_ok(raw: &str) -> bool {
    raw.chars().count() <= DESCRIPTION_MAX
        && raw
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

fn key_ok(key: &str) -> bool {
    let count = key.chars().count();
    (1..=METADATA_KEY_MAX).contains(&count)
        && !key.chars().all(char::is_whitespace)
        && !key.chars().any(char::is_control)
}

fn value_ok(value: &str) -> bool {
    value.chars().count() <= METADATA_VALUE_MAX && !value.chars().any(char::is_control)
}

fn good_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.-]{1,12}",
        "[^\\p{Cc}]{1,6}".prop_filter("not blank", |k| !k.trim().is_empty()),
        " {0,2}[a-z]{1,4} {0,2}",
        "é{40}",
    ]
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        good_key(),
        Just(String::new()),
        "[ \t\u{3000}]{1,3}",
        "[a-z]{0,2}[\0\n\r\u{7f}\u{85}][a-z]{0,2}",
        "[a-z]{39,42}",
        "é{39,42}",
    ]
}

fn good_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[^\\p{Cc}]{0,20}",
        1 => "a{495,500}",
        1 => "é{500}",
    ]
}

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        good_value(),
        "[a-z]{0,3}[\0\n\r\t\u{1b}\u{9f}][a-z]{0,3}",
        "a{499,503}",
        "é{499,503}",
    ]
}

/// A map of good entries (sometimes more than 50) plus, usually, one arbitrary entry.
fn metadata() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        prop_oneof![
            3 => proptest::collection::btree_map(good_key(), good_value(), 0..8),
            1 => proptest::collection::btree_map("k[0-9]{1,3}", good_value(), 45..56),
        ],
        proptest::option::weighted(0.8, (any_key(), any_value())),
    )
        .prop_map(|(mut map, extra)| {
            if let Some((key, value)) = extra {
                map.insert(key, value);
            }
            map
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn descriptions_are_accepted_exactly_within_the_limits(raw in prop_oneof![
        "[^\\p{Cc}]{0,40}",
        "[a-z \n\r\t]{0,40}",
        "[a-z]{0,4}[\0\u{7}\u{1b}\u{7f}\u{85}][a-z]{0,4}",
        "a{1020,1028}",
        "é{1020,1028}",
    ]) {
        match parse_description("description", &raw) {
            Ok(kept) => {
                prop_assert!(description_ok(&raw), "{:?} accepted", raw);
                prop_assert_eq!(kept, raw);
            }
            Err(err) => {
                prop_assert!(!description_ok(&raw), "{:?} refused: {}", raw, err.message);
                prop_assert_eq!(err.param, "description");
                prop_assert!(err.message.len() < 200, "{}", err.message);
            }
        }
    }

    #[test]
    fn metadata_is_accepted_exactly_within_the_limits_and_kept(raw in metadata()) {
        // The first bad entry in key order is the one named.
        let expected_param = if raw.len() > METADATA_MAX_KEYS {
            Some("metadata".to_string())
        } else {
            raw.iter().find_map(|(k, v)| {
                if !key_ok(k) {
                    Some("metadata".to_string())
                } else if !value_ok(v) {
                    Some(format!("metadata.{k}"))
                } else {
                    None
                }
            })
        };
        match (parse_metadata("metadata", &raw), expected_param) {
            (Ok(kept), None) => prop_assert_eq!(kept, raw),
            (Ok(_), Some(param)) => prop_assert!(false, "{:?} accepted; {} is bad", raw, param),
            (Err(err), None) => prop_assert!(false, "{:?} refused: {}", raw, err.message),
            (Err(err), Some(param)) => {
                prop_assert_eq!(err.param, param, "{}", err.message);
                prop_assert!(err.message.len() < 400, "{}", err.message);
            }
        }
    }
}
