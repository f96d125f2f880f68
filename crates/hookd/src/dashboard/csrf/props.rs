//! Property tests of dashboard form bodies: any fields a browser encodes are read back as the
//! same names and values in the same order (repeated names included), and any bytes are read
//! as some fields, never a panic.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encoded_fields_read_back_in_order(
        pairs in proptest::collection::vec(("\\PC{0,8}", "\\PC{0,16}"), 0..8),
    ) {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pairs {
            serializer.append_pair(name, value);
        }
        let body = serializer.finish();
        let fields = Fields::parse(body.as_bytes());
        prop_assert_eq!(&fields.0, &pairs);
        for (name, value) in &pairs {
            let first = pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            prop_assert_eq!(Some(fields.get(name)), first);
            prop_assert!(fields.all(name).contains(&value.as_str()));
        }
        prop_assert_eq!(fields.get("no-such-field-\u{1}"), "");
    }

    #[test]
    fn any_bytes_are_read_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..128)) {
        let fields = Fields::parse(&body);
        let _ = fields.get(FIELD);
    }
}
