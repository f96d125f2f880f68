//! Property tests of id parsing, for every prefix: a minted id parses back to itself (also
//! when a client upper-cases it), what parses is the canonical form of exactly one ULID under
//! the right prefix, and any other text is an error naming the prefix, never a panic.

use proptest::prelude::*;

use super::*;

/// Runs `$body` with `$t` bound to each id type.
macro_rules! for_every_id_type {
    ($t:ident => $body:block) => {{
        {
            type $t = WorkspaceId;
            $body
        }
        {
            type $t = ApiKeyId;
            $body
        }
        {
            type $t = EndpointId;
            $body
        }
        {
            type $t = EventId;
            $body
        }
        {
            type $t = DeliveryId;
            $body
        }
        {
            type $t = AttemptId;
            $body
        }
        {
            type $t = IntegrationId;
            $body
        }
        {
            type $t = CallId;
            $body
        }
    }};
}

const PREFIXES: &[&str] = &[
    "ws_", "key_", "whe_", "evt_", "dlv_", "att_", "int_", "call_",
];

/// Text an attacker might send as an id: every prefix with near-miss suffixes, and anything.
fn candidate() -> impl Strategy<Value = String> {
    let suffix = prop_oneof![
        "[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}",
        "[0-7][0-9a-z]{25}",
        "[8-9a-zA-Z][0-9a-z]{25}",
        "[0-9a-zILOUilou]{24,28}",
        "\\PC{0,30}",
    ];
    prop_oneof![
        (proptest::sample::select(PREFIXES), suffix).prop_map(|(p, s)| format!("{p}{s}")),
        "\\PC{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_parses_is_one_canonical_ulid_under_the_prefix(raw in candidate()) {
        for_every_id_type!(T => {
            match T::parse(&raw) {
                Ok(id) => {
                    let suffix = id.as_str().strip_prefix(T::PREFIX).unwrap();
                    prop_assert_eq!(id.as_str(), raw.to_ascii_lowercase());
                    prop_assert_eq!(suffix.len(), 26);
                    let ulid = ulid::Ulid::from_string(suffix).unwrap();
                    // No aliases: the stored form is the one the server itself writes.
                    prop_assert_eq!(ulid.to_string().to_ascii_lowercase(), suffix);
                    prop_assert_eq!(T::parse(id.as_str()), Ok(id.clone()));
                }
                Err(err) => {
                    prop_assert_eq!(err.prefix, T::PREFIX);
                    prop_assert!(err.got.chars().count() <= 80);
                    prop_assert!(raw.starts_with(&err.got));
                }
            }
        });
    }

    /// Minted ids round-trip, upper-cased suffixes included, and never parse as another type.
    #[test]
    fn minted_ids_round_trip_and_keep_their_type(upper in any::<bool>(), millis in 0u64..(1 << 48)) {
        for_every_id_type!(T => {
            for id in [T::generate(), T::floor_at(crate::domain::time::Timestamp::from_millis(millis as i64))] {
                let text = if upper {
                    format!("{}{}", T::PREFIX, id.as_str()[T::PREFIX.len()..].to_ascii_uppercase())
                } else {
                    id.as_str().to_string()
                };
                prop_assert_eq!(T::parse(&text), Ok(id.clone()));
                for prefix in PREFIXES.iter().filter(|p| **p != T::PREFIX) {
                    let swapped = format!("{prefix}{}", &id.as_str()[T::PREFIX.len()..]);
                    prop_assert!(T::parse(&swapped).is_err(), "{}", swapped);
                }
            }
        });
    }
}
