//! Ordered delivery per key (docs/ordering.md), end to end: a real receiver that reads each
//! event's key and place from its body, fails a share of first attempts, and checks every
//! arrival against the order. [`KeyedReceiver`] and [`publish_keyed`] are shared with the
//! crash tests (`ordering_crash.rs` on SQLite, `it_postgres/ordering_cluster.rs`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::delivery::{deliveries_of_event, delivery, publish, wait_status, WAIT};
use crate::harness::*;

/// What one key's deliveries looked like at the receiver.
#[derive(Default)]
struct KeyLog {
    /// Every arrival in order: (place, answered 2xx).
    arrivals: Vec<(u64, bool)>,
    /// Requests of this key being answered right now.
    in_flight: u32,
}

#[derive(Default)]
struct Logs {
    keys: HashMap<String, KeyLog>,
    /// Arrivals of a key while another of the same key was still being answered.
    overlaps: Vec<String>,
    /// Places whose first attempt was failed on purpose.
    failed_first: std::collections::HashSet<(String, u64)>,
}

/// A request of a key being answered; dropping it counts the request out.
struct Answering(Arc<Mutex<Logs>>, String);

impl Drop for Answering {
    fn drop(&mut self) {
        let mut logs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(log) = logs.keys.get_mut(&self.1) {
            log.in_flight -= 1;
        }
    }
}

/// A loopback receiver for events published with `data: {"key", "seq"}`. It fails the first
/// attempt of every place with `seq % fail_every == 1` (500), answers the rest 200, and can
/// take its time (`set_delay`) so that a test finds attempts in flight.
#[derive(Clone)]
pub struct KeyedReceiver {
    pub url: String,
    logs: Arc<Mutex<Logs>>,
    delay_ms: Arc<AtomicU64>,
    /// Keys that fail every attempt (a key "in retry").
    always_fail: Arc<Mutex<Vec<String>>>,
}

impl KeyedReceiver {
    pub async fn start(fail_every: u64) -> Self {
        let receiver = Self {
            url: String::new(),
            logs: Arc::default(),
            delay_ms: Arc::default(),
            always_fail: Arc::default(),
        };
        let handler = receiver.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let handler = handler.clone();
            async move { handler.handle(body, fail_every).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/ordered"),
            ..receiver
        }
    }

    async fn handle(&self, body: Bytes, fail_every: u64) -> StatusCode {
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        let (Some(key), Some(seq)) = (
            payload["data"]["key"].as_str().map(str::to_string),
            payload["data"]["seq"].as_u64(),
        ) else {
            return StatusCode::OK; // not an ordered test event
        };
        let (fail, index) = {
            let mut logs = self.logs.lock().unwrap();
            let first = logs.failed_first.insert((key.clone(), seq));
            let fail = self.always_fail.lock().unwrap().contains(&key)
                || (first && fail_every > 0 && seq % fail_every == 1);
            if !fail && first {
                logs.failed_first.remove(&(key.clone(), seq));
            }
            let log = logs.keys.entry(key.clone()).or_default();
            log.in_flight += 1;
            let overlapping = log.in_flight > 1;
            // Answered 2xx only once the answer is on its way (below): a request cut off by a
            // crash of its sender was never answered, and must come again.
            log.arrivals.push((seq, false));
            let index = log.arrivals.len() - 1;
            if overlapping {
                logs.overlaps.push(format!("{key}#{seq}"));
            }
            (fail, index)
        };
        // Counts the request out when it is answered, or dropped because its sender died.
        let answering = Answering(Arc::clone(&self.logs), key);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            // The receiver's own work takes this long: attempts stay in flight meanwhile.
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if fail {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        if let Some(log) = self.logs.lock().unwrap().keys.get_mut(&answering.1) {
            log.arrivals[index].1 = true;
        }
        StatusCode::OK
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn fail_key_always(&self, key: &str) {
        self.always_fail.lock().unwrap().push(key.to_string());
    }

    pub fn stop_failing(&self) {
        self.always_fail.lock().unwrap().clear();
    }

    /// Requests being answered right now, over all keys.
    pub fn in_flight(&self) -> u32 {
        let logs = self.logs.lock().unwrap();
        logs.keys.values().map(|k| k.in_flight).sum()
    }

    /// Arrivals so far, over all keys.
    pub fn arrivals(&self) -> usize {
        let logs = self.logs.lock().unwrap();
        logs.keys.values().map(|k| k.arrivals.len()).sum()
    }

    /// The places of `key` that arrived, in arrival order.
    pub fn places(&self, key: &str) -> Vec<u64> {
        let logs = self.logs.lock().unwrap();
        logs.keys
            .get(key)
            .map(|k| k.arrivals.iter().map(|a| a.0).collect())
            .unwrap_or_default()
    }

    /// Whether every key got places `0..n` answered 2xx (`published`: key → n).
    pub fn complete(&self, published: &HashMap<String, u64>) -> bool {
        let logs = self.logs.lock().unwrap();
        published.iter().all(|(key, n)| {
            logs.keys.get(key).is_some_and(|log| {
                let mut ok: Vec<u64> = log.arrivals.iter().filter(|a| a.1).map(|a| a.0).collect();
                ok.dedup();
                ok == (0..*n).collect::<Vec<_>>()
            })
        })
    }

    /// Every arrival that broke the order, as sentences; empty when all is well. Per key, an
    /// arrival must be the place that arrived last again (a retry after a failure, or a
    /// duplicate around a crash, which at-least-once allows), or the next place after one that
    /// was answered 2xx (or, for a key set to fail always, failed for good); the first must be
    /// place 0; no two may be in flight at once.
    pub fn out_of_order(&self) -> Vec<String> {
        let logs = self.logs.lock().unwrap();
        let mut wrong: Vec<String> = logs
            .overlaps
            .iter()
            .map(|o| format!("{o} arrived while another of its key was in flight"))
            .collect();
        let always_fail = self.always_fail.lock().unwrap().clone();
        for (key, log) in &logs.keys {
            // A key that always fails moves on when a place fails for good.
            let gives_up = always_fail.contains(key);
            let mut last: Option<(u64, bool)> = None;
            let mut done_through: Option<u64> = None;
            for &(seq, ok) in &log.arrivals {
                let fine = match last {
                    None => seq == 0,
                    Some((prev, _)) => {
                        seq == prev || ((gives_up || Some(prev) == done_through) && seq == prev + 1)
                    }
                };
                if !fine {
                    wrong.push(format!("{key}: place {seq} arrived after {last:?}"));
                }
                if ok {
                    done_through = Some(done_through.map_or(seq, |d| d.max(seq)));
                }
                last = Some((seq, ok));
            }
        }
        wrong.sort();
        wrong
    }
}

/// Publishes `per_key` events for each of `keys` keys (`k0`, `k1`, …), interleaved: place 0 of
/// every key, then place 1, …; each with `data: {"key", "seq"}` and the key as `orderingKey`.
/// Returns the ids in publish order and key → count.
pub async fn publish_keyed(
    app: &TestApp,
    keys: usize,
    per_key: u64,
) -> (Vec<String>, HashMap<String, u64>) {
    let mut ids = Vec::new();
    for seq in 0..per_key {
        for k in 0..keys {
            let key = format!("k{k}");
            let body = json!({"type": "post.created", "orderingKey": key,
                              "data": {"key": key, "seq": seq}});
            let event = publish(app, &app.live_key, &body).await;
            ids.push(event["id"].as_str().unwrap().to_string());
        }
    }
    let counts = (0..keys).map(|k| (format!("k{k}"), per_key)).collect();
    (ids, counts)
}

/// Like [`publish_keyed`] against running servers: places `places` of each of `keys` keys,
/// interleaved, the n-th event through `bases[n % bases.len()]` (so on several nodes one key's
/// events are published through each of them in turn), each answered 202 before the next.
pub async fn publish_places(
    client: &reqwest::Client,
    bases: &[String],
    api_key: &str,
    keys: usize,
    places: std::ops::Range<u64>,
) {
    let mut n = 0;
    for seq in places {
        for k in 0..keys {
            let key = format!("k{k}");
            let base = &bases[n % bases.len()];
            n += 1;
            let r = client
                .post(format!("{base}/v1/events"))
                .bearer_auth(api_key)
                .json(&json!({"type": "post.created", "orderingKey": key,
                              "data": {"key": key, "seq": seq}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        }
    }
}

/// Waits until every key's places all arrived answered 2xx.
pub async fn wait_complete(receiver: &KeyedReceiver, published: &HashMap<String, u64>) {
    wait_complete_within(receiver, published, WAIT * 3).await;
}

/// [`wait_complete`] with a bound of the caller's.
pub async fn wait_complete_within(
    receiver: &KeyedReceiver,
    published: &HashMap<String, u64>,
    bound: Duration,
) {
    eventually(bound, || {
        let done = receiver.complete(published);
        async move { done.then_some(()) }
    })
    .await;
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_arrives_in_publish_order_though_first_attempts_fail() {
    let app = spawn_app_with(|c| c.endpoint_max_in_flight = 16).await;
    let receiver = KeyedReceiver::start(3).await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    // Unordered events to the same endpoint flow alongside.
    let plain = Receiver::start().await;
    app.create_endpoint(&plain.url, &["post.created"]).await;

    let (ids, published) = publish_keyed(&app, 12, 6).await;
    wait_complete(&receiver, &published).await;

    assert_eq!(receiver.out_of_order(), Vec::<String>::new());
    // Every event also reached the receiver without ordering concerns, once.
    plain.wait_for(ids.len(), WAIT).await;
    // Failed first attempts were retried: more arrivals than events.
    assert!(receiver.arrivals() > ids.len(), "{}", receiver.arrivals());
    // The event and its deliveries show the key; nothing is left held.
    let (status, event) = app
        .get_json(&app.live_key, &format!("/v1/events/{}", ids[5]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(event["data"]["orderingKey"], "k5", "{event}");
    for d in deliveries_of_event(&app, &app.live_key, &ids[5]).await {
        assert_eq!(d["orderingKey"], "k5", "{d}");
        assert_eq!(d["heldBehind"], Value::Null, "{d}");
    }
}

#[suite_test]
async fn a_key_in_retry_holds_back_only_itself_on_its_endpoint() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![1, 1]).await;
    let stuck = KeyedReceiver::start(0).await;
    stuck.fail_key_always("stuck");
    app.create_endpoint(&stuck.url, &["post.created"]).await;
    // A second endpoint gets the same events and answers every one at once.
    let other = KeyedReceiver::start(0).await;
    let other_endpoint = app.create_endpoint(&other.url, &["post.created"]).await;

    let body = |key: &str, seq: u64| json!({"type": "post.created", "orderingKey": key, "data": {"key": key, "seq": seq}});
    let first = publish(&app, &app.live_key, &body("stuck", 0)).await;
    let second = publish(&app, &app.live_key, &body("stuck", 1)).await;
    for seq in 0..3 {
        publish(&app, &app.live_key, &body("free", seq)).await;
    }
    let mine = |list: Vec<Value>, endpoint_is_other: bool| {
        list.into_iter()
            .find(|d| (d["endpointId"] == other_endpoint["id"]) == endpoint_is_other)
            .unwrap()
    };
    let first_here = mine(
        deliveries_of_event(&app, &app.live_key, first["id"].as_str().unwrap()).await,
        false,
    );
    let second_here = mine(
        deliveries_of_event(&app, &app.live_key, second["id"].as_str().unwrap()).await,
        false,
    );

    // The other key on this endpoint, and both keys on the other endpoint, all arrive.
    let free = HashMap::from([("free".to_string(), 3)]);
    wait_complete(&stuck, &free).await;
    let both = HashMap::from([("free".to_string(), 3), ("stuck".to_string(), 2)]);
    wait_complete(&other, &both).await;
    // Meanwhile the stuck key's second event waits behind its first, which is in retry.
    let held = delivery(&app, second_here["id"].as_str().unwrap()).await;
    let first_state = delivery(&app, first_here["id"].as_str().unwrap()).await;
    assert_eq!(first_state["status"], "pending", "{first_state:#}");
    assert_eq!(held["status"], "pending", "{held:#}");
    assert_eq!(held["heldBehind"], first_here["id"], "{held:#}");
    assert_eq!(held["nextAttemptAt"], Value::Null, "{held:#}");
    assert_eq!(held["orderingKey"], "stuck");
    assert_eq!(held["attemptCount"], 0);
    assert_eq!(stuck.places("stuck").iter().filter(|p| **p == 1).count(), 0);

    // Failed for good, the first lets the second go (which fails in its turn).
    wait_status(&app, first_here["id"].as_str().unwrap(), "failed").await;
    let after = wait_status(&app, second_here["id"].as_str().unwrap(), "failed").await;
    assert_eq!(after["attemptCount"], 3, "{after:#}");
    assert_eq!(stuck.places("stuck"), vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(stuck.out_of_order(), Vec::<String>::new());
    assert_eq!(other.out_of_order(), Vec::<String>::new());
}

#[suite_test]
async fn a_replay_sends_a_keys_failed_deliveries_again_in_order() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![]).await;
    let receiver = KeyedReceiver::start(0).await;
    receiver.fail_key_always("k");
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let mut deliveries = Vec::new();
    for seq in 0..4 {
        let body =
            json!({"type": "post.created", "orderingKey": "k", "data": {"key": "k", "seq": seq}});
        let event = publish(&app, &app.live_key, &body).await;
        let list = deliveries_of_event(&app, &app.live_key, event["id"].as_str().unwrap()).await;
        deliveries.push(list[0]["id"].as_str().unwrap().to_string());
    }
    for id in &deliveries {
        wait_status(&app, id, "failed").await;
    }
    assert_eq!(receiver.places("k"), vec![0, 1, 2, 3]);

    // The receiver recovers; a replay of the failed deliveries goes through in order.
    receiver.stop_failing();
    let since = "2000-01-01T00:00:00Z";
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!(
                "/v1/webhook-endpoints/{}/replay",
                endpoint["id"].as_str().unwrap()
            ),
            &json!({"since": since, "status": "failed"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    for id in &deliveries {
        wait_status(&app, id, "succeeded").await;
    }
    assert_eq!(receiver.places("k"), vec![0, 1, 2, 3, 0, 1, 2, 3]);
    let log = receiver.logs.lock().unwrap();
    let second_round: Vec<u64> = log.keys["k"].arrivals[4..].iter().map(|a| a.0).collect();
    assert_eq!(second_round, vec![0, 1, 2, 3]);
    assert!(log.overlaps.is_empty(), "{:?}", log.overlaps);
}

#[suite_test]
async fn an_ordering_key_must_be_a_string_of_1_to_128_characters() {
    let app = spawn_app().await;
    let long = "k".repeat(129);
    for bad in [
        json!(""),
        json!(long),
        json!(5),
        json!(true),
        json!(["a"]),
        json!({"k": 1}),
        json!("line\nbreak"),
    ] {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {}, "orderingKey": bad}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_request", Some("orderingKey"));
    }
    // 128 characters (not bytes) are fine, and so is null: no key.
    for good in [json!("é".repeat(128)), Value::Null] {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {}, "orderingKey": good}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let expected = if good.is_null() { Value::Null } else { good };
        assert_eq!(body["data"]["orderingKey"], expected);
    }
}

/// Publishes place `seq` of key `key` and returns the id of its one delivery.
async fn publish_place(app: &TestApp, key: &str, seq: u64) -> String {
    let body =
        json!({"type": "post.created", "orderingKey": key, "data": {"key": key, "seq": seq}});
    let event = publish(app, &app.live_key, &body).await;
    let list = deliveries_of_event(app, &app.live_key, event["id"].as_str().unwrap()).await;
    assert_eq!(list.len(), 1, "{list:?}");
    list[0]["id"].as_str().unwrap().to_string()
}

#[suite_test]
async fn a_manual_retry_is_made_at_once_and_then_rejoins_its_keys_order() {
    // The first failure waits an hour: only manual retries move anything.
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let receiver = KeyedReceiver::start(0).await;
    receiver.fail_key_always("k");
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let first = publish_place(&app, "k", 0).await;
    wait_delivery_attempts(&app, &first, 1).await;
    let second = publish_place(&app, "k", 1).await;
    let held = delivery(&app, &second).await;
    assert_eq!(held["heldBehind"], first.as_str(), "{held:#}");

    // Retried by hand, the held delivery is attempted at once (the operator's override)…
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{second}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let after = wait_delivery_attempts(&app, &second, 1).await;
    // …and, failed with retries left, it waits behind the first again instead of its own retry.
    assert_eq!(after["status"], "pending", "{after:#}");
    assert_eq!(after["heldBehind"], first.as_str(), "{after:#}");
    assert_eq!(after["nextAttemptAt"], Value::Null, "{after:#}");

    // The receiver recovers; a manual retry of the first lets the second go right after it.
    receiver.stop_failing();
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{first}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_status(&app, &first, "succeeded").await;
    let done = wait_status(&app, &second, "succeeded").await;
    assert_eq!(done["heldBehind"], Value::Null);
    assert_eq!(receiver.places("k"), vec![0, 1, 0, 1]);
}

#[suite_test]
async fn erasing_a_keys_head_lets_the_next_event_go() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let receiver = KeyedReceiver::start(0).await;
    receiver.fail_key_always("k");
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let first = publish_place(&app, "k", 0).await;
    let head = wait_delivery_attempts(&app, &first, 1).await;
    let second = publish_place(&app, "k", 1).await;
    assert_eq!(delivery(&app, &second).await["heldBehind"], first.as_str());
    receiver.stop_failing();

    let event = head["eventId"].as_str().unwrap();
    let (status, body) = app
        .delete(&app.live_key, &format!("/v1/events/{event}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(delivery(&app, &first).await["status"], "cancelled");
    let next = wait_status(&app, &second, "succeeded").await;
    assert_eq!(next["attemptCount"], 1, "{next:#}");
    assert_eq!(receiver.places("k"), vec![0, 1]);
}

/// Waits until the delivery has made `n` attempts; returns it.
async fn wait_delivery_attempts(app: &TestApp, id: &str, n: i64) -> Value {
    crate::delivery::wait_delivery(app, id, "attempted", |d| {
        d["attemptCount"].as_i64() == Some(n)
    })
    .await
}

#[suite_test]
async fn a_disabled_endpoint_parks_its_keys_and_resumes_them_in_order() {
    let app = spawn_app().await; // retry schedule 1,1,1
    let receiver = KeyedReceiver::start(0).await;
    receiver.fail_key_always("k");
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let path = format!("/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap());
    let first = publish_place(&app, "k", 0).await;
    wait_delivery_attempts(&app, &first, 1).await;
    let second = publish_place(&app, "k", 1).await;

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"isActive": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    receiver.stop_failing();
    // Parked: its retry comes due (shown to the second, hence the extra second) and is not made
    // while the endpoint is disabled.
    let parked = delivery(&app, &first).await;
    let due =
        chrono::DateTime::parse_from_rfc3339(parked["nextAttemptAt"].as_str().unwrap()).unwrap();
    eventually(WAIT, || {
        let passed = chrono::Utc::now() > due + chrono::Duration::milliseconds(1_000);
        async move { passed.then_some(()) }
    })
    .await;
    let still = delivery(&app, &first).await;
    assert_eq!(
        (&still["status"], &still["attemptCount"]),
        (&json!("pending"), &json!(1)),
        "{still:#}"
    );
    assert_eq!(delivery(&app, &second).await["heldBehind"], first.as_str());
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"isActive": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    wait_status(&app, &first, "succeeded").await;
    wait_status(&app, &second, "succeeded").await;
    let places = receiver.places("k");
    assert_eq!(places.last(), Some(&1), "{places:?}");
    assert_eq!(places.iter().filter(|p| **p == 1).count(), 1, "{places:?}");
    assert_eq!(receiver.out_of_order(), Vec::<String>::new());
}
