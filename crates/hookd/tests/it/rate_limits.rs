//! Per-endpoint rate limits, end to end: `rateLimitPerSec` paces the attempts a real receiver
//! gets (evenly spaced, not in bursts), never delays other endpoints, and bad values are 400.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

pub(crate) async fn limited_endpoint(
    app: &TestApp,
    receiver: &Receiver,
    rate: Option<u32>,
) -> Value {
    let body = json!({"name": "paced", "url": receiver.url, "events": ["post.created"],
                      "rateLimitPerSec": rate});
    let (status, body) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

pub(crate) async fn publish_many(app: &TestApp, n: usize) {
    for i in 0..n {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {"n": i}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
}

/// Seconds from the first arrival to the last.
pub(crate) fn span(received: &[Received]) -> f64 {
    let first = received.iter().map(|r| r.at).min().unwrap();
    let last = received.iter().map(|r| r.at).max().unwrap();
    last.duration_since(first).as_secs_f64()
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_paced_and_other_endpoints_are_not_delayed() {
    let app = spawn_app().await;
    let (paced, free) = (Receiver::start().await, Receiver::start().await);
    let created = limited_endpoint(&app, &paced, Some(2)).await;
    assert_eq!(created["rateLimitPerSec"], 2);
    limited_endpoint(&app, &free, None).await;

    publish_many(&app, 10).await;
    // The free endpoint gets all 10 while the paced one is still being paced (10 at 2/s take
    // 4.5 s from the first).
    free.wait_for(10, Duration::from_secs(10)).await;
    let paced_then = paced.count();
    assert!(
        paced_then < 10,
        "the free endpoint finished only when the paced one had {paced_then}"
    );

    let got = paced.wait_for(10, Duration::from_secs(30)).await;
    // 9 intervals of 500 ms: 4.5 s; allow scheduling slack below, none for bursts.
    let took = span(&got);
    assert!(took >= 4.0, "10 attempts at 2/s arrived within {took:.2}s");
    // Smooth, not bursty: no second holds more than the rate (plus one for the window edges).
    for r in &got {
        let within = got
            .iter()
            .filter(|o| o.at >= r.at && o.at.duration_since(r.at) < Duration::from_secs(1))
            .count();
        assert!(within <= 3, "{within} arrivals within one second");
    }
}

#[suite_test]
async fn the_limit_is_changed_and_removed_with_patch() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let created = limited_endpoint(&app, &receiver, Some(1)).await;
    let path = endpoint_path(&created["id"]);
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"rateLimitPerSec": 1000}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["rateLimitPerSec"], 1000);
    let (_, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "kept"}))
        .await;
    assert_eq!(body["data"]["rateLimitPerSec"], 1000);
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"rateLimitPerSec": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"].get("rateLimitPerSec").is_none(),
        "unset fields are left out: {body}"
    );
    // Unlimited again: ten deliveries arrive quickly (at 1/s they would take 9 s).
    publish_many(&app, 10).await;
    let got = receiver.wait_for(10, Duration::from_secs(5)).await;
    assert!(span(&got) < 5.0);
}

#[suite_test]
async fn bad_rates_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let created = limited_endpoint(&app, &receiver, Some(3)).await;
    let path = endpoint_path(&created["id"]);
    for rate in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1001),
        json!(4_294_967_296_u64),
        json!(1e300),
        json!("10"),
        json!(true),
        json!([5]),
        json!({"perSec": 5}),
    ] {
        let body =
            json!({"name": "bad", "url": URL, "events": ["post.created"], "rateLimitPerSec": rate});
        let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_error(
            status,
            &answer,
            400,
            "invalid_request",
            Some("rateLimitPerSec"),
        );
        let (status, answer) = app
            .patch_json(&app.live_key, &path, &json!({"rateLimitPerSec": rate}))
            .await;
        assert_error(
            status,
            &answer,
            400,
            "invalid_request",
            Some("rateLimitPerSec"),
        );
    }
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);
    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(
        got["data"]["rateLimitPerSec"], 3,
        "failed PATCHes changed nothing"
    );
}

/// Deliveries waiting for their slot are pending in the database, not only in memory: stopped
/// half-way, the next start on the same database delivers the rest, still paced.
#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_deliveries_survive_a_restart() {
    let app = spawn_app().await;
    let database = std::sync::Arc::clone(&app.database);
    let receiver = Receiver::start().await;
    limited_endpoint(&app, &receiver, Some(2)).await;
    publish_many(&app, 8).await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    app.stop().await;
    let before = receiver.count();
    assert!(before < 8, "all {before} arrived before the stop");

    let again = spawn_app_on(TestDatabase::existing(&database.url), |_| {}).await;
    let got = receiver.wait_for(8, Duration::from_secs(30)).await;
    let mut numbers: Vec<i64> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers, (0..8).collect::<Vec<_>>(), "every event arrived");
    // Paced after the restart too: the rest at 2/s.
    let after: Vec<Received> = got[before..].to_vec();
    if after.len() > 1 {
        let took = span(&after);
        let floor = (after.len() - 1) as f64 * 0.5 * 0.8;
        assert!(took >= floor, "{} arrivals within {took:.2}s", after.len());
    }
    again.stop().await;
}
