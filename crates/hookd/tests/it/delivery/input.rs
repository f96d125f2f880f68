//! Publishing bad input is a clear 4xx that stores and sends nothing; `/metrics` reports the
//! engine.

use serde_json::{json, Value};

use super::*;

#[suite_test]
async fn bad_events_are_refused_and_nothing_is_stored_or_sent() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;

    let cases: Vec<(Value, &str)> = vec![
        (json!({"type": "post.exploded", "data": {}}), "type"),
        (json!({"type": "", "data": {}}), "type"),
        (json!({"type": "post.created", "data": [1, 2]}), "data"),
        (json!({"type": "post.created", "data": "text"}), "data"),
        (json!({"type": "post.created", "data": 42}), "data"),
        (json!({"type": "post.created", "data": null}), "data"),
        (json!({"type": "post.created"}), "data"),
        (json!({"data": {}}), "type"),
        (
            json!({"type": "post.created", "data": {}, "priority": "high"}),
            "priority",
        ),
        (
            json!({"type": "post.created", "projectId": 7, "data": {}}),
            "projectId",
        ),
    ];
    for (body, param) in cases {
        let (status, answer) = app.post_json(&app.live_key, "/v1/events", &body).await;
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }

    let send_raw = |content_type: &'static str, body: Vec<u8>| {
        app.req(reqwest::Method::POST, "/v1/events")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, answer) =
        into_parts(send_raw("application/json", b"[]".to_vec()).await.unwrap()).await;
    assert_error(status, &answer, 400, "invalid_request", None);
    let (status, answer) = into_parts(
        send_raw(
            "application/json",
            b"{\"type\": \"post.created\", \"data\": {".to_vec(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_error(status, &answer, 400, "invalid_request", None);
    let (status, answer) = into_parts(
        send_raw(
            "text/plain",
            b"{\"type\": \"post.created\", \"data\": {}}".to_vec(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_error(status, &answer, 415, "unsupported_media_type", None);

    // Over the body limit (1 MiB by default), though otherwise a valid event.
    let big = json!({"type": "post.created", "data": {"blob": "x".repeat(2 * 1024 * 1024)}});
    let (status, answer) = into_parts(
        send_raw("application/json", serde_json::to_vec(&big).unwrap())
            .await
            .unwrap(),
    )
    .await;
    assert_error(status, &answer, 413, "payload_too_large", None);

    let (_, events) = app.get_json(&app.live_key, "/v1/events").await;
    assert_eq!(events["data"], json!([]), "nothing may be stored");
    // Proof the endpoint works, so the silence above means something.
    let ok = publish_type(&app, "post.created").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0], "webhook-id"), ok["id"].as_str().unwrap());
}

/// The sum of the sample lines of `name` (exact name, over all its label sets; `None` when it
/// has none). Every outcome of a labelled counter is exported from the start, zeros included,
/// in no particular order.
fn sample(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[suite_test]
async fn metrics_report_publishing_attempts_latency_backlog_and_disabled_endpoints() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let gone = Receiver::scripted(|_| (410, "gone".into())).await;
    let endpoint = app.create_endpoint(&gone.url, &["job.failed"]).await;
    publish_type(&app, "post.created").await;
    publish_type(&app, "job.failed").await;
    receiver.wait_for(1, WAIT).await;
    wait_endpoint(&app, endpoint["id"].as_str().unwrap(), "disabled", |e| {
        e["isActive"] == false
    })
    .await;

    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at_least = |name: &str, min: f64| {
        let value = sample(&text, name).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        assert!(value >= min, "{name} = {value}, want ≥ {min}");
    };
    at_least("hookd_events_published_total", 2.0);
    at_least("hookd_delivery_attempts_total", 1.0);
    at_least("hookd_delivery_attempts_total{outcome=\"succeeded\"}", 1.0);
    at_least(
        "hookd_delivery_attempts_total{outcome=\"failed_status\"}",
        1.0,
    );
    at_least("hookd_delivery_attempt_duration_seconds_bucket", 0.0);
    at_least("hookd_delivery_attempt_duration_seconds_count", 1.0);
    // Gauges are read from this server's database when scraped (the recorder is shared by every
    // server in the test process, so only their presence is certain under parallel tests).
    at_least("hookd_deliveries_pending", 0.0);
    at_least("hookd_endpoints_disabled", 0.0);
}
