//! Property tests of the event catalog: an event type, a subscription entry and a published
//! type are accepted exactly when they are names of the catalog (no patterns, no `*`, no other
//! case or spelling); a subscription keeps its first occurrences in order; a refusal names the
//! field (`events[i]` for the first unknown entry) and quotes a bounded excerpt. A configured
//! type is accepted exactly when it is a lowercase dotted name not already in the catalog.

use proptest::prelude::*;

use super::*;

/// The reference list, written out here rather than read from the catalog.
const REFERENCE: &[&str] = &[
    "note.created",
    "post.created",
    "post.updated",
    "post.scheduled",
    "post.unscheduled",
    "source.created",
    "job.completed",
    "job.failed",
    "knowledge.indexed",
];

fn operational() -> Vec<&'static str> {
    super::super::operational::TYPES
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// Names of the catalog, and near misses of them.
fn name() -> impl Strategy<Value = String> {
    let known = || {
        proptest::sample::select(
            REFERENCE
                .iter()
                .copied()
                .chain(operational())
                .collect::<Vec<_>>(),
        )
    };
    prop_oneof![
        4 => known().prop_map(str::to_string),
        1 => known().prop_map(str::to_uppercase),
        1 => (known(), "[ .*\t\0]").prop_map(|(n, s)| format!("{n}{s}")),
        1 => (known(), "[ .*]").prop_map(|(n, s)| format!("{s}{n}")),
        1 => known().prop_map(|n| format!("{}.*", n.split('.').next().unwrap())),
        1 => Just("*".to_string()),
        1 => "\\PC{0,80}",
        1 => "[a-z]{1,8}\\.[a-z]{1,8}",
    ]
}

/// Whether a configured type name is well formed: lowercase letters, digits and `_` in at
/// least two non-empty dot-separated parts, at most 64 bytes.
fn well_formed(name: &str) -> bool {
    name.len() <= 64
        && name.contains('.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '.'))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn subscriptions_accept_exactly_the_catalog_names(
        raw in proptest::collection::vec(name(), 0..6),
        with_operational in any::<bool>(),
    ) {
        let catalog = EventCatalog::with_extra(&[]).unwrap().with_operational(with_operational);
        let known = |n: &str| {
            REFERENCE.contains(&n) || (with_operational && operational().contains(&n))
        };
        match catalog.parse_subscription("events", &raw) {
            Ok(types) => {
                prop_assert!(!raw.is_empty());
                prop_assert!(raw.iter().all(|n| known(n)), "{:?} accepted", raw);
                let mut first: Vec<String> = Vec::new();
                for n in &raw {
                    if !first.contains(n) {
                        first.push(n.clone());
                    }
                }
                prop_assert_eq!(types, first);
            }
            Err(err) => {
                let expected = match raw.iter().position(|n| !known(n)) {
                    Some(i) => format!("events[{i}]"),
                    None if raw.is_empty() => "events".to_string(),
                    None => return Err(TestCaseError::fail(format!("{raw:?} refused: {}", err.message))),
                };
                prop_assert_eq!(err.param, expected, "{}", err.message);
                prop_assert!(err.message.chars().count() < 64 * 10 + 80, "{}", err.message);
            }
        }
    }

    #[test]
    fn published_types_are_catalog_names_but_not_operational(raw in name()) {
        let catalog = EventCatalog::with_extra(&[]).unwrap().with_operational(true);
        match catalog.parse_publishable("type", &raw) {
            Ok(kept) => {
                prop_assert!(REFERENCE.contains(&raw.as_str()), "{:?} accepted", raw);
                prop_assert_eq!(kept, raw);
            }
            Err(err) => {
                prop_assert!(!REFERENCE.contains(&raw.as_str()), "{:?} refused", raw);
                prop_assert_eq!(err.param, "type");
            }
        }
    }

    #[test]
    fn configured_types_are_new_well_formed_names(raw in prop_oneof![
        "[a-z0-9_]{1,8}(\\.[a-z0-9_]{1,8}){1,3}",
        name(),
        "[a-z._]{0,12}",
        "[a-z]{30,34}\\.[a-z]{30,34}",
    ]) {
        let extra = EventType { name: raw.clone(), description: "d".into() };
        let taken = REFERENCE.contains(&raw.as_str()) || operational().contains(&raw.as_str());
        match EventCatalog::with_extra(std::slice::from_ref(&extra)) {
            Ok(catalog) => {
                prop_assert!(well_formed(&raw) && !taken, "{:?} accepted", raw);
                prop_assert!(catalog.contains(&raw));
                prop_assert_eq!(
                    catalog.parse_subscription("events", std::slice::from_ref(&raw)).unwrap(),
                    vec![raw.clone()]
                );
            }
            Err(err) => {
                prop_assert!(!well_formed(&raw) || taken, "{:?} refused: {}", raw, err.message);
                prop_assert_eq!(err.param, "event_types[0].name");
            }
        }
    }
}
