//! Property tests of MCP tool names: any integration name derives a name within the MCP tool
//! name rule (`^[a-zA-Z0-9_-]{1,64}$`; ours are lowercase, `_`-separated) that agrees with an
//! independent statement of the rule and is deterministic; names assigned to a workspace's
//! integrations are distinct, never a reserved name, the same whatever order the list is read
//! in, and the oldest integration of a derived name keeps it plain.

use proptest::prelude::*;

use super::*;

/// The MCP rule for tool names.
fn mcp_valid(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The derivation restated: the runs of ASCII letters and digits, lowercased, joined by `_`,
/// cut to 64 without a trailing `_`; `integration` when there are none.
fn oracle(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        return "integration".into();
    }
    let joined = words.join("_");
    joined[..joined.len().min(MAX_LEN)]
        .trim_end_matches('_')
        .to_string()
}

fn integration_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,30}",
        "[A-Za-z0-9 _.-]{0,90}",
        Just("Reports API".to_string()),
        Just("reports-api".to_string()),
        Just("List integrations".to_string()),
        // Names that derive to what a suffixed name of another integration would be.
        proptest::sample::select(vec!["reports api", "list integrations"]).prop_flat_map(|base| {
            proptest::sample::select(TAILS).prop_map(move |tail| format!("{base} {tail}"))
        }),
    ]
}

/// Id endings shared by several generated ids, so that suffixes collide too.
const TAILS: &[&str] = &["0zzzz9", "0aaaa1", "bbbbb2"];

fn integrations() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(
        ("[0-9A-HJKMNP-TV-Z]{20}", proptest::sample::select(TAILS))
            .prop_map(|(head, tail)| format!("int_{head}{}", tail.to_uppercase())),
        integration_name(),
        0..8,
    )
    .prop_map(|map| map.into_iter().collect())
}

const RESERVED: &[&str] = &["list_integrations", "call_integration"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_name_derives_a_valid_deterministic_tool_name(name in integration_name()) {
        let derived = derive(&name);
        prop_assert!(mcp_valid(&derived), "{:?} → {:?}", name, derived);
        prop_assert!(!derived.starts_with('_') && !derived.ends_with('_') && !derived.contains("__"));
        prop_assert_eq!(&derived, &oracle(&name));
        prop_assert_eq!(derived, derive(&name));
    }

    #[test]
    fn assigned_names_are_distinct_and_stable(
        list in integrations(),
        order in any::<proptest::sample::Index>(),
    ) {
        let pairs: Vec<(&str, &str)> = list.iter().map(|(id, n)| (id.as_str(), n.as_str())).collect();
        let names = assign(&pairs, RESERVED);
        prop_assert_eq!(names.len(), pairs.len());
        for (i, name) in names.iter().enumerate() {
            prop_assert!(mcp_valid(name), "{:?}", name);
            prop_assert!(!RESERVED.contains(&name.as_str()), "{:?}", names);
            prop_assert!(!names[..i].contains(name), "{:?} for {:?}", names, pairs);
        }
        // The oldest integration (smallest id) of each derived name keeps it, unless reserved.
        for (i, (id, name)) in pairs.iter().enumerate() {
            let base = derive(name);
            let oldest = pairs.iter().filter(|(_, n)| derive(n) == base).all(|(other, _)| other >= id);
            let plain_taken_by_older = pairs
                .iter()
                .zip(&names)
                .any(|((other, _), assigned)| other < id && *assigned == base);
            if oldest && !RESERVED.contains(&base.as_str()) && !plain_taken_by_older {
                prop_assert_eq!(&names[i], &base, "{:?}", pairs);
            }
        }
        // Reading the list in another order changes nothing.
        let mut rotated = pairs.clone();
        if !rotated.is_empty() {
            let k = order.index(rotated.len());
            rotated.rotate_left(k);
            let again = assign(&rotated, RESERVED);
            for (j, (id, _)) in rotated.iter().enumerate() {
                let i = pairs.iter().position(|(other, _)| other == id).unwrap();
                prop_assert_eq!(&again[j], &names[i]);
            }
        }
    }
}
