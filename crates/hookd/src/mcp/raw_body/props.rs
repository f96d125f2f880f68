//! Property tests of tapping a tool call's raw `body` and `data`: for any JSON an agent
//! writes, the text kept is exactly the text sent (whitespace, key order and number spelling
//! included) and parses to the same value; the key it is filed under is the key the server
//! asks for with the parsed request id, however the id was spelled; other messages are left
//! alone, and no bytes make it panic.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// JSON text as agents write it: odd spacing, number spellings serde would re-print.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1.50".to_string()),
        Just("1e3".to_string()),
        Just("-0".to_string()),
        "-?[1-9][0-9]{0,20}(\\.[0-9]{1,4})?",
        "\"[a-z\\\\\"é ]{0,6}\"".prop_filter("valid JSON string", |s| {
            serde_json::from_str::<Value>(s).is_ok()
        }),
        Just("true".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| format!("[ {} ]", v.join(" ,"))),
            proptest::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(|pairs| {
                let fields: Vec<String> =
                    pairs.iter().map(|(k, v)| format!("\"{k}\" :{v}")).collect();
                format!("{{ {} }}", fields.join(", "))
            }),
        ]
    })
}

/// A request id as it may be written: an integer, or a string with some characters escaped.
fn request_id() -> impl Strategy<Value = (Value, String)> {
    prop_oneof![
        any::<i64>().prop_map(|n| (json!(n), n.to_string())),
        (
            "[a-z0-9-]{0,8}",
            proptest::collection::vec(any::<bool>(), 8)
        )
            .prop_map(|(s, escape)| {
                let written: String = s
                    .chars()
                    .zip(escape.into_iter().cycle())
                    .map(|(c, e)| {
                        if e {
                            format!("\\u{:04x}", u32::from(c))
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                (json!(s), format!("\"{written}\""))
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_raw_arguments_are_kept_as_written(
        body in proptest::option::of(json_text()),
        data in proptest::option::of(json_text()),
        (id, id_text) in request_id(),
    ) {
        let mut arguments = vec!["\"name\": \"x\"".to_string()];
        arguments.extend(body.iter().map(|b| format!("\"body\": {b}")));
        arguments.extend(data.iter().map(|d| format!("\"data\":{d}")));
        let message = format!(
            "{{\"jsonrpc\": \"2.0\", \"id\": {id_text}, \"method\": \"tools/call\", \
             \"params\": {{\"name\": \"x\", \"arguments\": {{{}}}}}}}",
            arguments.join(", ")
        );
        // An argument that is `null` is no argument.
        let body = body.filter(|b| b != "null");
        let data = data.filter(|d| d != "null");
        match tap(message.as_bytes()) {
            Some((key, raw)) => {
                prop_assert!(body.is_some() || data.is_some());
                prop_assert_eq!(raw.body.as_ref().map(|b| b.get()), body.as_deref());
                prop_assert_eq!(raw.data.as_ref().map(|d| d.get()), data.as_deref());
                // The server looks the arguments up by the id it parsed.
                prop_assert_eq!(key, id_key(&id), "{}", message);
            }
            None => prop_assert!(body.is_none() && data.is_none(), "{}", message),
        }
    }

    #[test]
    fn other_bytes_are_left_alone_without_panicking(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..128),
        "\\{\"method\": ?\"tools/(call|list)\"(, ?\"id\": ?[0-9a-z\"\\[\\]{}]{0,6})?(, ?\"params\": ?\\PC{0,30})?\\}"
            .prop_map(String::into_bytes),
    ]) {
        if let Some((_, raw)) = tap(&bytes) {
            prop_assert!(raw.body.is_some() || raw.data.is_some());
        }
    }
}
