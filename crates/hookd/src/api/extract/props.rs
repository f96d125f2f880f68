//! Property tests of the JSON depth check: for JSON a client may write (brackets, quotes and
//! backslashes inside strings and keys included) it refuses exactly the bodies nested deeper
//! than [`MAX_JSON_DEPTH`] and names the top-level field at fault; no byte string makes it
//! panic.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// Levels of arrays and objects on the deepest path (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Strings that look like structure to a careless scanner.
fn tricky_text() -> impl Strategy<Value = String> {
    "[\\[\\]{}\"\\\\:,a ]{0,6}"
}

/// A value nested exactly `levels` deep, each level an array or an object with a tricky key,
/// with tricky strings beside the spine.
fn nested(levels: usize) -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        (any::<bool>(), tricky_text(), tricky_text()),
        levels..=levels,
    )
    .prop_map(|spine| {
        spine
            .into_iter()
            .fold(json!("leaf"), |inner, (array, key, noise)| {
                if array {
                    json!([noise, inner])
                } else {
                    let mut map = serde_json::Map::new();
                    map.insert(format!("{key}!"), inner);
                    map.insert(format!("{key}?"), Value::String(noise));
                    Value::Object(map)
                }
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn refuses_exactly_what_nests_too_deep(
        value in ((MAX_JSON_DEPTH - 3)..(MAX_JSON_DEPTH + 4)).prop_flat_map(nested),
        field in tricky_text().prop_filter("not the other field", |f| f != "other"),
        pretty in any::<bool>(),
    ) {
        let body = json!({ field.clone(): value.clone(), "other": [[1]] });
        let text = if pretty {
            serde_json::to_string_pretty(&body)
        } else {
            serde_json::to_string(&body)
        }
        .unwrap();
        let result = check_depth(text.as_bytes());
        // A field's value may nest MAX_JSON_DEPTH levels below the body's object.
        prop_assert_eq!(result.is_ok(), depth(&value) <= MAX_JSON_DEPTH, "depth {}", depth(&value));
        if let Err(ApiError::InvalidRequest { param, .. }) = result {
            prop_assert_eq!(param, Some(field));
        }
        // The same value as the whole body: an object's fields again get MAX_JSON_DEPTH levels.
        let bare = serde_json::to_string(&value).unwrap();
        let allowed = MAX_JSON_DEPTH + usize::from(value.is_object());
        prop_assert_eq!(check_depth(bare.as_bytes()).is_ok(), depth(&value) <= allowed);
    }

    #[test]
    fn no_bytes_make_it_panic(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "[\\[\\]{}\"\\\\:, a1]{0,300}".prop_map(String::into_bytes),
    ]) {
        let _ = check_depth(&bytes);
        let _ = parse_json::<Value>(&bytes);
    }

    /// `Content-Type` is JSON exactly when its essence is `application/json` in any case,
    /// whatever parameters follow; any other header bytes are a 415, never a panic.
    #[test]
    fn only_json_content_types_are_accepted(raw in prop_oneof![
        "[ \t]{0,2}[aA][pP][pP][lL][iI][cC][aA][tT][iI][oO][nN]/[jJ][sS][oO][nN][ \t]{0,2}(;[ -~]{0,12})?",
        "[a-z/+; =-]{0,24}",
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        let Ok(value) = axum::http::HeaderValue::from_str(&raw) else {
            return Ok(());
        };
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value);
        let essence = raw.split(';').next().unwrap().trim();
        let expected = raw.is_ascii() && essence.eq_ignore_ascii_case("application/json");
        match require_json_content_type(&headers) {
            Ok(()) => prop_assert!(expected, "{:?} accepted", raw),
            Err(err) => {
                prop_assert!(!expected, "{:?} refused", raw);
                prop_assert!(matches!(err, ApiError::UnsupportedMediaType));
            }
        }
    }
}
