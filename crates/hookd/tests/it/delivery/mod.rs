//! The delivery engine end to end: events published over the API reach real loopback receivers
//! signed, filtered, retried and logged as the contract says. One submodule per concern; the
//! helpers below are shared with `hostile` and `durability`; `publish` and `WAIT` live in
//! `fixtures.rs` (the Python-client tests use them without this module) and are re-exported here.

mod fanout;
mod input;
mod lifecycle;
mod manual_retry;
mod retries;
mod routes;
mod signing;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use standardwebhooks::{Webhook, WebhookError};

use crate::harness::*;

pub use crate::fixtures::{publish, WAIT};

/// Publishes a live event of `event_type` with small data.
pub async fn publish_type(app: &TestApp, event_type: &str) -> Value {
    publish(
        app,
        &app.live_key,
        &json!({"type": event_type, "data": {"n": 1}}),
    )
    .await
}

/// Creates an endpoint from a full body with `key`, asserts 201 and returns it (`data`).
pub async fn create_endpoint_json(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, answer) = app.post_json(key, "/v1/webhook-endpoints", &body).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}

/// `GET /v1/deliveries/{id}` with the live key: the delivery with its attempts.
pub async fn delivery(app: &TestApp, id: &str) -> Value {
    let (status, body) = app
        .get_json(&app.live_key, &format!("/v1/deliveries/{id}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// `GET /v1/events/{id}/deliveries` with `key`.
pub async fn deliveries_of_event(app: &TestApp, key: &str, event_id: &str) -> Vec<Value> {
    let (status, body) = app
        .get_json(key, &format!("/v1/events/{event_id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// The one delivery of a live event.
pub async fn only_delivery(app: &TestApp, event_id: &str) -> Value {
    let list = deliveries_of_event(app, &app.live_key, event_id).await;
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].clone()
}

/// Polls `GET /v1/deliveries/{id}` until `done` holds; panics with the last state otherwise.
pub async fn wait_delivery(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let current = delivery(app, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "delivery {id} never became {what} within {WAIT:?}: {current:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the delivery has the given status.
pub async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    wait_delivery(app, id, status, |d| d["status"] == status).await
}

/// Polls `GET /v1/webhook-endpoints/{id}` until `done` holds.
pub async fn wait_endpoint(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = app
            .get_json(&app.live_key, &format!("/v1/webhook-endpoints/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        if done(&body["data"]) {
            return body["data"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "endpoint {id} never became {what} within {WAIT:?}: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Verifies a received request with the official Rust Standard Webhooks library.
pub fn verify(secret: &str, received: &Received) -> Result<(), WebhookError> {
    Webhook::new(secret)?.verify(&received.body, &received.headers)
}

pub fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", received.headers))
        .to_str()
        .unwrap()
}

pub fn body_json(received: &Received) -> Value {
    serde_json::from_slice(&received.body).expect("the delivery body is JSON")
}

/// Seconds from one RFC 3339 timestamp of the API to another.
pub fn seconds_between(from: &Value, to: &Value) -> i64 {
    let parse = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("{v}")))
            .unwrap()
            .timestamp()
    };
    parse(to) - parse(from)
}

/// A flag shared with a receiver whose answer changes during a test.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    pub fn on(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self, value: bool) {
        self.0.store(value, Ordering::SeqCst);
    }
}
