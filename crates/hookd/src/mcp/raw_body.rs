//! The caller's bytes of a tool call's `body`.
//!
//! rmcp parses each JSON-RPC message into `serde_json::Value`, which re-orders object keys and
//! re-prints numbers (`1.50` → `1.5`). A JSON body must reach the upstream exactly as the agent
//! wrote it, as event payloads and REST calls do, so each transport taps the raw message before
//! rmcp sees it and keeps the `params.arguments.body` text ([`tap`]): over HTTP in the request's
//! extensions, over stdio by request id. The tool then sends that text instead of the parsed
//! value.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The raw `body` argument of the `tools/call` request carried by an HTTP request.
#[derive(Clone, Debug)]
pub struct RawToolBody(pub Box<RawValue>);

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
}

/// For a single `tools/call` request with a `body` argument: its id (as JSON text) and the
/// body's text. Anything else (other methods, batches, malformed JSON) is left to rmcp.
pub fn tap(message: &[u8]) -> Option<(String, Box<RawValue>)> {
    let message: Message<'_> = serde_json::from_slice(message).ok()?;
    if message.method.as_deref() != Some("tools/call") {
        return None;
    }
    let body = message.params?.arguments?.body?;
    Some((message.id?.get().to_string(), body.to_owned()))
}

/// The key a request id is filed under: its compact JSON text.
pub fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Raw bodies of pending stdio requests, by request id; each is taken once.
#[derive(Default)]
pub struct PendingBodies(Mutex<HashMap<String, Box<RawValue>>>);

/// More pending bodies than this means requests are not being answered; start over.
const MAX_PENDING: usize = 1024;

impl PendingBodies {
    pub fn put(&self, id: String, body: Box<RawValue>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_PENDING {
            map.clear();
        }
        map.insert(id, body);
    }

    pub fn take(&self, id: &str) -> Option<Box<RawValue>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_the_body_of_tool_calls_only() {
        let call = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"body":{"z": 1.50, "a": [1, 2]}}}}"#;
        let (id, body) = tap(call).unwrap();
        assert_eq!(id, "7");
        assert_eq!(body.get(), r#"{"z": 1.50, "a": [1, 2]}"#);
        let string_id = br#"{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"x","arguments":{"body":"text"}}}"#;
        assert_eq!(tap(string_id).unwrap().0, r#""a-1""#);
        assert_eq!(id_key(&serde_json::json!("a-1")), r#""a-1""#);
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
