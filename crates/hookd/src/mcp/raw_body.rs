//! The caller's bytes of a tool call's `body` (an integration call) and `data` (an event).
//!
//! rmcp parses each JSON-RPC message into `serde_json::Value`, which re-orders object keys and
//! re-prints numbers (`1.50` → `1.5`). A JSON body must reach the upstream exactly as the agent
//! wrote it, as event payloads and REST calls do, so each transport taps the raw message before
//! rmcp sees it and keeps the text of `params.arguments.body` and `params.arguments.data`
//! ([`tap`]): over HTTP in the request's extensions, over stdio by request id. The tool then
//! sends that text instead of the parsed value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::value::RawValue;

#[cfg(test)]
mod props;

/// The raw `body` and `data` arguments of a `tools/call` request (over HTTP, in the request's
/// extensions).
#[derive(Clone, Debug, Default)]
pub struct RawArguments {
    pub body: Option<Box<RawValue>>,
    pub data: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    arguments: Option<Arguments<'a>>,
}

#[derive(Deserialize)]
struct Arguments<'a> {
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// For a single `tools/call` request with a `body` or `data` argument: its id (as JSON text)
/// and their text. Anything else (other methods, batches, malformed JSON) is left to rmcp.
pub fn tap(message: &[u8]) -> Option<(String, RawArguments)> {
    let message: Message<'_> = serde_json::from_slice(message).ok()?;
    if message.method.as_deref() != Some("tools/call") {
        return None;
    }
    let arguments = message.params?.arguments?;
    if arguments.body.is_none() && arguments.data.is_none() {
        return None;
    }
    let raw = RawArguments {
        body: arguments.body.map(RawValue::to_owned),
        data: arguments.data.map(RawValue::to_owned),
    };
    // Filed under the id as `id_key` writes the parsed id, not as the client spelled it: a
    // string id written with escapes (`"\u0061"`) is found again (found by a property test).
    let id = serde_json::from_str::<serde_json::Value>(message.id?.get()).ok()?;
    Some((id_key(&id), raw))
}

/// The key a request id is filed under: its compact JSON text.
pub fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Raw arguments of pending stdio requests, by request id; each is taken once.
#[derive(Default)]
pub struct PendingBodies(Mutex<HashMap<String, RawArguments>>);

/// More pending bodies than this means requests are not being answered; start over.
const MAX_PENDING: usize = 1024;

impl PendingBodies {
    pub fn put(&self, id: String, body: RawArguments) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_PENDING {
            map.clear();
        }
        map.insert(id, body);
    }

    pub fn take(&self, id: &str) -> Option<RawArguments> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_the_body_of_tool_calls_only() {
        let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"body":{"z": 1.50, "a": [1, 2]}}}}"#;
        let (id, raw) = tap(call).unwrap();
        assert_eq!(id, "7");
        assert_eq!(raw.body.unwrap().get(), r#"{"z": 1.50, "a": [1, 2]}"#);
        assert!(raw.data.is_none());
        let event = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"publish_event","arguments":{"type":"t","data":{"b": 1.0, "a": 2}}}}"#;
        assert_eq!(
            tap(event).unwrap().1.data.unwrap().get(),
            r#"{"b": 1.0, "a": 2}"#
        );
        let string_id = br#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"x","arguments":{"body":"text"}}}"#;
        assert_eq!(tap(string_id).unwrap().0, r#""a-1""#);
        assert_eq!(id_key(&serde_json::json!("a-1")), r#""a-1""#);
        let escaped_id = br#"{"jsonrpc":"2.0","id":"a\u002d1","method":"tools/call","params":{"name":"x","arguments":{"body":"text"}}}"#;
        assert_eq!(tap(escaped_id).unwrap().0, r#""a-1""#);
        for other in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            br#"[{"jsonrpc":"2.0"}]"#,
            b"not json",
            b"",
        ] {
            assert!(tap(other).is_none());
        }
    }
}
