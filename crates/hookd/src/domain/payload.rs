//! The delivery body: `{"id", "type", "createdAt", "projectId", "data"}`.
//!
//! Rendered once per event and shared (`Arc<Bytes>`) by all of its deliveries and retries, so
//! the bytes that were signed are exactly the bytes sent, every time. `data` is embedded as the
//! raw JSON text it was stored as, never re-parsed.

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::ids::EventId;
use super::time::Timestamp;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    created_at: Timestamp,
    project_id: Option<&'a str>,
    data: &'a RawValue,
}

pub fn render(
    id: &EventId,
    event_type: &str,
    created_at: Timestamp,
    project_id: Option<&str>,
    data: &RawValue,
) -> Bytes {
    let payload = Payload {
        id: id.as_str(),
        event_type,
        created_at,
        project_id,
        data,
    };
    Bytes::from(serde_json::to_vec(&payload).expect("serialising strings and raw JSON cannot fail"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_shape() {
        let id = EventId::generate();
        let data = RawValue::from_string(r#"{"postId": "p_1", "n": 2}"#.to_string()).unwrap();
        let body = render(
            &id,
            "post.created",
            Timestamp::from_millis(1_699_335_116_000),
            Some("proj_1"),
            &data,
        );
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], id.as_str());
        assert_eq!(value["type"], "post.created");
        assert_eq!(value["createdAt"], "2023-11-07T05:31:56Z");
        assert_eq!(value["projectId"], "proj_1");
        assert_eq!(value["data"]["n"], 2);
    }
}
