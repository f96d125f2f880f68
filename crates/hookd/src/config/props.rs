//! Property tests of configuration values: every key of the reference, given an arbitrary value
//! in `hookd.toml` or in its `HOOKD_*` environment variable, yields a configuration or an error
//! that names the key (as the file and the environment spell it), never a panic; durations
//! written by `humantime` read back exactly, and bare numbers are refused.

use std::time::Duration;

use proptest::prelude::*;

use super::reference::MEANINGS;
use super::{parse_master_key, Config, HumanDuration};

/// TOML values of every kind, strings as operators and attackers might write them.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}".prop_map(|s| serde_json::Value::String(s).to_string()),
        "[0-9a-z:/.,@%\\[\\] -]{0,30}".prop_map(|s| serde_json::Value::String(s).to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        (-1e9f64..1e9).prop_map(|f| format!("{f:?}")),
        proptest::collection::vec(any::<u16>(), 0..4).prop_map(|v| format!("{v:?}")),
        Just("[\"a\", 1]".to_string()),
        Just("{ a = 1 }".to_string()),
    ]
}

/// Environment values: figment reads them as TOML-like values (numbers, booleans, arrays) or
/// strings.
fn env_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[0-9a-z:/.,@%\\[\\]{}=\" -]{0,30}",
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(MEANINGS.iter().map(|(key, _)| *key).collect::<Vec<_>>())
}

/// An error about `key` names it; the one error about another key is PostgreSQL's need for a
/// master key, which a `database_url` causes.
fn names_the_key(key: &str, error: &str) -> bool {
    error.contains(key)
        || (key == "database_url" && error.contains("master_key (HOOKD_MASTER_KEY)"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_toml_value_is_a_config_or_an_error_naming_its_key(key in key(), value in toml_value()) {
        let text = format!("{key} = {value}");
        if let Err(err) = Config::from_toml(&text) {
            let err = format!("{err:#}");
            prop_assert!(names_the_key(key, &err), "{}: {}", text, err);
        }
    }

    /// What humantime writes, `retention` reads back; a bare number is refused.
    #[test]
    fn durations_round_trip(secs in 1u64..(100 * 365 * 86_400), nanos in 0u32..1_000_000_000) {
        let duration = Duration::new(secs, nanos);
        let written = humantime::format_duration(duration).to_string();
        let read: HumanDuration = serde_json::from_value(serde_json::json!(written)).unwrap();
        prop_assert_eq!(read.0, duration);
        let config = Config::from_toml(&format!("retention = \"{written}\"")).unwrap();
        prop_assert_eq!(config.retention.0, duration);
        let bare = Config::from_toml(&format!("retention = {secs}")).unwrap_err();
        prop_assert!(format!("{bare:#}").contains("has no unit"), "{}", bare);
    }

    #[test]
    fn arbitrary_duration_text_never_panics(text in prop_oneof![
        "\\PC{0,30}",
        "([0-9]{1,25}[ ]?(ns|us|ms|s|m|h|d|w|M|y|sec|min|hours|days|years)[ ]?){1,4}",
    ]) {
        let read = serde_json::from_value::<HumanDuration>(serde_json::json!(text));
        prop_assert_eq!(read.is_ok(), humantime::parse_duration(text.trim()).is_ok());
    }
}

proptest! {
    // Each case builds a figment Jail (a temporary directory and environment): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    // figment's Jail returns its own (large) error type; these are tests.
    #[allow(clippy::result_large_err)]
    #[test]
    fn any_environment_value_is_a_config_or_an_error_naming_its_key(key in key(), value in env_value()) {
        let variable = format!("HOOKD_{}", key.to_ascii_uppercase());
        let mut outcome = None;
        figment::Jail::expect_with(|jail| {
            jail.set_env(&variable, &value);
            outcome = Some(Config::load(None).map_err(|e| format!("{e:#}")));
            Ok(())
        });
        if let Some(Err(err)) = outcome {
            prop_assert!(names_the_key(key, &err), "{}={:?}: {}", variable, value, err);
        }
    }

    /// A master key is 64 hex characters (any case, surrounding whitespace ignored) and decodes
    /// to those 32 bytes; anything else is an error.
    #[test]
    fn master_keys_are_64_hex_characters(
        bytes in proptest::array::uniform32(any::<u8>()),
        upper in any::<bool>(),
        pad in "[ \t\n]{0,2}",
        other in prop_oneof!["\\PC{0,70}", "[0-9a-fA-F]{60,68}"],
    ) {
        let hex = hex::encode(bytes);
        let hex = if upper { hex.to_uppercase() } else { hex };
        prop_assert_eq!(parse_master_key(&format!("{pad}{hex}{pad}")).unwrap(), bytes);
        let valid = other.trim().len() == 64 && other.trim().chars().all(|c| c.is_ascii_hexdigit());
        prop_assert_eq!(parse_master_key(&other).is_ok(), valid, "{:?}", other);
    }
}
