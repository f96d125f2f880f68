//! Property tests of filters beyond "no input panics" (see `tests`): expressions generated from
//! CEL's grammar, over the variables and functions filters may use, with events generated as
//! JSON. Every expression is accepted or refused with a short message naming `filter`; an
//! accepted one stays within the limits that bound its cost (source size, nesting, operators)
//! and evaluates to the same answer every time; its negation evaluates to the opposite.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// Operands: variables (with fields and indexes), literals, and calls.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("type".to_string()),
        Just("projectId".to_string()),
        "data(\\.[a-z]{1,3}){0,3}",
        "data\\.[a-z]{1,2}\\[[0-9]\\]",
        "data\\[\"[a-z ]{0,3}\"\\]",
        any::<i32>().prop_map(|n| n.to_string()),
        "[0-9]{1,20}u?",
        "[0-9]{1,4}\\.[0-9]{1,3}",
        "\"[a-z\\\\'. ]{0,5}\"",
        "'[a-z\" ]{0,4}'",
        Just("true".to_string()),
        Just("null".to_string()),
        Just("[1, 2, 3]".to_string()),
        Just("{\"a\": 1}".to_string()),
        "size\\(data(\\.[a-z]{1,2})?\\)",
        "int\\(data\\.[a-z]\\)",
        "string\\(data\\.[a-z]\\)",
        "type\\.(startsWith|endsWith|contains|matches)\\(\"[a-z.*]{0,4}\"\\)",
        "data\\.[a-z]\\.(all|exists|exists_one|filter|map)\\(x, x [<>=!]= [0-9]\\)",
        "has\\(data\\.[a-z]\\)",
        "[a-z]{1,4}\\(\\)",
    ]
}

const BINARY: &[&str] = &[
    "==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%", "in",
];

fn expression() -> impl Strategy<Value = String> {
    atom().prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                proptest::sample::select(BINARY),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            inner.clone().prop_map(|a| format!("({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("{c} ? {a} : {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("[{a}, {b}]")),
        ]
    })
}

fn event_data() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z.]{0,5}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    proptest::collection::btree_map("[a-z]{1,2}", value, 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn view_of(data: &Value) -> EventView {
    let raw = serde_json::value::RawValue::from_string(data.to_string()).unwrap();
    EventView::new("post.created", Some("proj_1"), &raw)
}

proptest! {
    // Each parse runs on a thread of its own: a moderate number of cases.
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn generated_filters_are_accepted_within_the_limits_or_refused_clearly(
        source in expression(),
        data in event_data(),
    ) {
        match Filter::parse(&source) {
            Ok(filter) => {
                prop_assert!(source.len() <= SOURCE_MAX);
                prop_assert!(check::bracket_depth(&source) <= usize::from(DEPTH_MAX));
                prop_assert!(check::operator_count(&source) <= OPERATORS_MAX);
                prop_assert!(source.matches('+').count() <= CONCAT_MAX);
                let event = view_of(&data);
                let first = filter.evaluate(&event);
                prop_assert_eq!(first, filter.evaluate(&event), "{}", source);
                // The negation answers the opposite whenever the filter answers at all.
                if let (Ok(answer), Ok(negated)) = (first, Filter::parse(&format!("!({source})"))) {
                    prop_assert_eq!(negated.evaluate(&event), Ok(!answer), "{}", source);
                }
            }
            Err(err) => {
                prop_assert_eq!(err.param, "filter");
                prop_assert!(err.message.len() < 400, "{}", err.message);
            }
        }
    }

    /// A comparison of a field with a literal answers as JSON says, for every event.
    #[test]
    fn field_comparisons_follow_the_event(key in "[a-z]{1,2}", n in any::<i32>(), data in event_data()) {
        // Index syntax: a key may be a reserved word (`in`, `as`), which `data.in` cannot name.
        let filter = Filter::parse(&format!("data[\"{key}\"] == {n}")).unwrap();
        let got = filter.evaluate(&view_of(&data));
        match data.get(&key) {
            // A missing key is an error, which counts as false.
            None => prop_assert!(got.is_err()),
            Some(v) if v.as_i64() == Some(i64::from(n)) => prop_assert_eq!(got, Ok(true)),
            // A double equal to the number may compare either way across types.
            Some(v) if v.is_f64() && v.as_f64() == Some(f64::from(n)) => {}
            // Another value or type is false or an error, never true.
            Some(_) => prop_assert_ne!(got, Ok(true)),
        }
    }
}

#[test]
fn the_event_used_above_is_what_filters_see() {
    let data = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
    let filter = Filter::parse("data.a == 1 && size(data.b) == 2 && data.c.d == 'x'").unwrap();
    assert_eq!(filter.evaluate(&view_of(&data)), Ok(true));
}
