//! The bytes on the wire: publish requests, the raw phase's stand-in deliveries, and finding an
//! event's sequence number again in what the receiver gets.
//!
//! Every event carries its sequence number as the first field of `data` (`{"seq":N,"pad":"…"}`,
//! padded to exactly `--data-bytes`). hookd embeds `data` verbatim, so the receiver finds `seq`
//! in the delivered body without parsing JSON, and can look up when that event was published
//! even if the delivery overtakes the publisher's 202.

use bytes::Bytes;
use hookd::domain::ids::EventId;
use hookd::domain::payload;
use hookd::domain::time::Timestamp;
use serde_json::value::RawValue;

/// The type every benchmark event has (in the default catalog).
pub const EVENT_TYPE: &str = "post.created";

const SEQ_KEY: &[u8] = b"\"seq\":";

/// The `data` object of event `seq`: `{"seq":N,"pad":"xxx…"}`, `data_bytes` long unless the
/// number alone needs more.
pub fn event_data(seq: usize, data_bytes: usize) -> String {
    let head = format!("{{\"seq\":{seq},\"pad\":\"");
    let tail = "\"}";
    let pad = data_bytes.saturating_sub(head.len() + tail.len());
    let mut out = String::with_capacity(head.len() + pad + tail.len());
    out.push_str(&head);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(tail);
    out
}

/// The body of `POST /v1/events` for event `seq`; with `ordering_keys` > 0 it carries the
/// ordering key `k{seq % ordering_keys}`.
pub fn publish_body(
    seq: usize,
    data_bytes: usize,
    project_id: &str,
    ordering_keys: usize,
) -> Bytes {
    let data = event_data(seq, data_bytes);
    let mut out = Vec::with_capacity(data.len() + project_id.len() + 80);
    out.extend_from_slice(b"{");
    if ordering_keys > 0 {
        out.extend_from_slice(format!("\"orderingKey\":\"k{}\",", seq % ordering_keys).as_bytes());
    }
    out.extend_from_slice(b"\"type\":\"");
    out.extend_from_slice(EVENT_TYPE.as_bytes());
    out.extend_from_slice(b"\",\"projectId\":\"");
    out.extend_from_slice(project_id.as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.push(b'}');
    Bytes::from(out)
}

/// A delivery body exactly as hookd renders it (same function, same size), for the raw phase.
pub fn delivery_body(id: &EventId, seq: usize, data_bytes: usize, project_id: &str) -> Bytes {
    let data =
        RawValue::from_string(event_data(seq, data_bytes)).expect("event_data is a JSON object");
    payload::render(id, EVENT_TYPE, Timestamp::now(), Some(project_id), &data)
}

/// The `seq` of a delivered body, if it has one.
pub fn find_seq(body: &[u8]) -> Option<usize> {
    let at = body.windows(SEQ_KEY.len()).position(|w| w == SEQ_KEY)? + SEQ_KEY.len();
    let digits = &body[at..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 19 {
        return None;
    }
    digits[..len].iter().try_fold(0usize, |n, d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_has_the_requested_size_and_is_json() {
        for (seq, size) in [(0, 256), (123_456, 256), (7, 4096), (99, 3)] {
            let data = event_data(seq, size);
            let value: serde_json::Value = serde_json::from_str(&data).unwrap();
            assert_eq!(value["seq"], seq);
            if size > 32 {
                assert_eq!(data.len(), size);
            }
        }
    }

    #[test]
    fn seq_survives_the_round_trip_through_a_delivery_body() {
        let id = EventId::generate();
        let body = delivery_body(&id, 4242, 256, "bench_x");
        assert_eq!(find_seq(&body), Some(4242));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], id.as_str());
        assert_eq!(value["projectId"], "bench_x");

        let publish: serde_json::Value =
            serde_json::from_slice(&publish_body(9, 256, "bench_x", 0)).unwrap();
        assert_eq!(publish["type"], EVENT_TYPE);
        assert_eq!(publish["data"]["seq"], 9);
        assert!(publish.get("orderingKey").is_none());
        let keyed: serde_json::Value =
            serde_json::from_slice(&publish_body(1009, 256, "bench_x", 1000)).unwrap();
        assert_eq!(keyed["orderingKey"], "k9");
        assert_eq!(keyed["data"]["seq"], 1009);
    }

    #[test]
    fn bodies_without_a_seq_are_recognised() {
        assert_eq!(find_seq(b"{}"), None);
        assert_eq!(find_seq(b"{\"seq\":}"), None);
        assert_eq!(find_seq(b"{\"seq\":99999999999999999999999}"), None);
    }
}
