//! The routes around deliveries: an endpoint's test send, delivery listing by status, replay,
//! single retries, and the event listings.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::*;

#[suite_test]
async fn the_test_route_sends_a_signed_sample_and_answers_with_the_attempt() {
    let app = spawn_app().await;
    let receiver = Receiver::scripted(|n| match n {
        0 => (200, "pong".into()),
        _ => (503, "busy".into()),
    })
    .await;
    let endpoint = create_endpoint_json(
        &app,
        &app.live_key,
        json!({"name": "t", "url": receiver.url, "events": ["post.created"], "projectId": "proj_9"}),
    )
    .await;
    let path = format!(
        "/v1/webhook-endpoints/{}/test",
        endpoint["id"].as_str().unwrap()
    );

    let (status, body) = app
        .post_json(&app.live_key, &path, &json!({"event": "job.completed"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let attempt = &body["data"];
    assert!(
        attempt["id"].as_str().unwrap().starts_with("att_"),
        "{attempt}"
    );
    assert_eq!(attempt["statusCode"], 200);
    assert_eq!(attempt["responseBody"], "pong");
    assert_eq!(attempt["error"], Value::Null);
    assert!(attempt["durationMs"].as_i64().unwrap() >= 0, "{attempt}");

    // Synchronous: the receiver already has it, signed like any delivery.
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    verify(endpoint["secret"].as_str().unwrap(), &got[0]).expect("the sample is signed");
    let sample = body_json(&got[0]);
    assert_eq!(sample["type"], "job.completed");
    assert_eq!(sample["projectId"], "proj_9");
    assert_eq!(sample["data"]["test"], true);
    assert_eq!(
        header(&got[0], "webhook-id"),
        sample["id"].as_str().unwrap()
    );

    // Whatever the endpoint answers is reported, not turned into an API error.
    let (status, body) = app
        .post_json(&app.live_key, &path, &json!({"event": "post.created"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["statusCode"], 503);
    assert_eq!(body["data"]["responseBody"], "busy");

    let (status, body) = app
        .post_json(&app.live_key, &path, &json!({"event": "no.such"}))
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("event"));
    // Samples are neither stored as events nor retried.
    let (_, events) = app.get_json(&app.live_key, "/v1/events").await;
    assert_eq!(events["data"], json!([]));
    assert_eq!(receiver.count(), 2);
}

/// Ids of the endpoint's deliveries, optionally filtered by status.
async fn listed(app: &TestApp, endpoint_id: &str, status: Option<&str>) -> BTreeSet<String> {
    let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
    let (code, body) = app
        .get_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries{query}"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[suite_test]
async fn failed_deliveries_are_listed_replayed_and_retried() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![1]).await;
    let healthy = Switch::default();
    healthy.set(true);
    let switch = healthy.clone();
    let receiver = Receiver::scripted(move |_| match switch.on() {
        true => (200, "ok".into()),
        false => (500, "down".into()),
    })
    .await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let event = publish_type(&app, "post.created").await;
        let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let outcome = if healthy.on() { "succeeded" } else { "failed" };
        wait_status(&app, &id, outcome).await;
        ids.push(id);
        healthy.set(false);
    }
    let one = |i: usize| BTreeSet::from([ids[i].clone()]);
    let failed: BTreeSet<String> = [ids[1].clone(), ids[2].clone()].into();
    assert_eq!(listed(&app, endpoint_id, Some("failed")).await, failed);
    assert_eq!(listed(&app, endpoint_id, Some("succeeded")).await, one(0));
    assert_eq!(listed(&app, endpoint_id, None).await.len(), 3);
    let (status, body) = app
        .get_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries?status=bogus"),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("status"));

    // Replay: every failed delivery gets one more attempt, which now succeeds.
    healthy.set(true);
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}/replay"),
            &json!({"since": "2000-01-01T00:00:00Z", "status": "failed"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["requeued"], 2);
    for id in &ids[1..] {
        let done = wait_status(&app, id, "succeeded").await;
        assert_eq!(
            done["attemptCount"], 3,
            "two failures, then the replayed attempt"
        );
    }
    assert!(listed(&app, endpoint_id, Some("failed")).await.is_empty());

    // Retry: one more attempt now, even of a delivery that already succeeded.
    let before = receiver.count();
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{}/retry", ids[0]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["id"], ids[0].as_str());
    let again = wait_delivery(&app, &ids[0], "retried", |d| {
        d["attemptCount"] == 2 && d["status"] == "succeeded"
    })
    .await;
    assert_eq!(again["attempts"].as_array().unwrap().len(), 2);
    let got = receiver.wait_for(before + 1, WAIT).await;
    assert_eq!(
        header(&got[before], "webhook-id"),
        again["eventId"].as_str().unwrap(),
        "a retry carries the event id again"
    );
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/deliveries/dlv_01jc8z00000000000000000000/retry",
            &json!({}),
        )
        .await;
    assert_error(status, &body, 404, "not_found", None);
}

#[suite_test]
async fn events_are_listed_and_read_with_their_deliveries() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let mut published = Vec::new();
    for n in 0..3 {
        published.push(
            publish(
                &app,
                &app.live_key,
                &json!({"type": "post.created", "data": {"n": n}}),
            )
            .await,
        );
    }

    let (status, page) = app.get_json(&app.live_key, "/v1/events?limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["hasMore"], true);
    let newest_first: Vec<&Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(newest_first, [&published[2]["id"], &published[1]["id"]]);
    let cursor = page["nextCursor"].as_str().unwrap();
    let (_, rest) = app
        .get_json(
            &app.live_key,
            &format!("/v1/events?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest["data"][0]["id"], published[0]["id"]);
    assert_eq!(rest["hasMore"], false);

    let id = published[1]["id"].as_str().unwrap();
    let (status, one) = app
        .get_json(&app.live_key, &format!("/v1/events/{id}"))
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"], published[1]);

    let deliveries = deliveries_of_event(&app, &app.live_key, id).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attemptCount",
            "createdAt",
            "endpointId",
            "eventId",
            "heldBehind",
            "id",
            "lastStatusCode",
            "nextAttemptAt",
            "orderingKey",
            "status",
            "updatedAt"
        ]
    );
    assert!(d["id"].as_str().unwrap().starts_with("dlv_"));
    assert_eq!(d["eventId"], id);
    assert_eq!(d["endpointId"], endpoint["id"]);
    // Without an ordering key (docs/ordering.md), both are null.
    assert_eq!(d["orderingKey"], Value::Null);
    assert_eq!(d["heldBehind"], Value::Null);

    for path in [
        "/v1/events/evt_01jc8z00000000000000000000",
        "/v1/events/evt_01jc8z00000000000000000000/deliveries",
        "/v1/deliveries/dlv_01jc8z00000000000000000000",
    ] {
        let (status, body) = app.get_json(&app.live_key, path).await;
        assert_error(status, &body, 404, "not_found", None);
    }
}
