//! Day-two operations seen from outside: the Prometheus families after real traffic, and
//! hookd's own operational events delivered to a subscribed endpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// Families with a `# TYPE` line, and which of them have a `# HELP` line.
fn families(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut typed, mut helped) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("#"), Some("TYPE"), Some(name)) => typed.insert(name.to_string()),
            (Some("#"), Some("HELP"), Some(name)) => helped.insert(name.to_string()),
            _ => false,
        };
    }
    (typed, helped)
}

/// Every sample of `name` (labels as written → value).
fn samples(text: &str, name: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let labels = series.strip_prefix(name)?;
            (labels.is_empty() || labels.starts_with('{'))
                .then(|| (labels.to_string(), value.parse().ok()))?
                .1
                .map(|v| (labels.to_string(), v))
        })
        .collect()
}

fn sum(text: &str, name: &str, label_part: &str) -> f64 {
    samples(text, name)
        .iter()
        .filter(|(labels, _)| labels.contains(label_part))
        .map(|(_, v)| v)
        .sum()
}

#[suite_test]
async fn metrics_describe_every_family_and_count_real_traffic() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let (status, _) = app.get_json(&app.live_key, "/v1/events/evt_nope").await;
    assert_eq!(status, 404);
    // An integration whose upstream refuses the connection (port 1 on loopback).
    let (_, integration) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &json!({"name": "Closed", "url": "http://127.0.0.1:1/api"}),
        )
        .await;
    let calls = format!(
        "/v1/integrations/{}/calls",
        integration["data"]["id"].as_str().unwrap()
    );
    let (status, _) = app.post_json(&app.live_key, &calls, &json!({})).await;
    assert_eq!(status, 502);

    // The attempt's counters move when its result is written: scrape until they show it.
    let text = eventually(Duration::from_secs(10), || async {
        let text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (sum(&text, "hookd_deliveries_completed_total", "succeeded") >= 1.0).then_some(text)
    })
    .await;

    let (typed, helped) = families(&text);
    let missing: Vec<_> = typed.difference(&helped).collect();
    assert!(missing.is_empty(), "families without # HELP: {missing:?}");
    let known: BTreeSet<String> = hookd::telemetry::FAMILIES
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let unknown: Vec<_> = typed
        .iter()
        .filter(|f| f.starts_with("hookd_") && !known.contains(*f))
        .collect();
    assert!(
        unknown.is_empty(),
        "families missing from telemetry::FAMILIES: {unknown:?}"
    );

    let http = "hookd_http_request_duration_seconds_count";
    assert!(
        sum(&text, http, r#"route="/v1/events",status_class="2xx""#) >= 1.0,
        "{text}"
    );
    assert!(
        sum(&text, http, r#"route="/v1/events/{id}",status_class="4xx""#) >= 1.0,
        "{text}"
    );
    assert!(
        sum(
            &text,
            http,
            r#"route="/v1/integrations/{id}/calls",status_class="5xx""#
        ) >= 1.0
    );
    assert!(
        sum(
            &text,
            "hookd_delivery_attempts_total",
            r#"outcome="succeeded""#
        ) >= 1.0
    );
    assert!(sum(&text, "hookd_delivery_attempt_duration_seconds_count", "") >= 1.0);
    assert!(
        sum(
            &text,
            "hookd_integration_calls_total",
            r#"outcome="upstream_error""#
        ) >= 1.0
    );
    assert!(sum(&text, "hookd_integration_call_duration_seconds_count", "") >= 1.0);
    for gauge in [
        "hookd_deliveries_pending",
        "hookd_deliveries_oldest_pending_age_seconds",
        "hookd_endpoints_disabled",
    ] {
        let value = samples(&text, gauge).into_values().next();
        assert!(value.is_some_and(|v| v >= 0.0), "{gauge}: {value:?}");
    }
    // This request's own reader connection is in use while the gauges are read.
    assert!(
        !samples(&text, "hookd_db_pool_connections").is_empty(),
        "{text}"
    );
    if crate::BACKEND == Backend::Sqlite {
        assert!(sum(&text, "hookd_sqlite_commit_duration_seconds_count", "") >= 1.0);
        assert!(samples(&text, "hookd_sqlite_writer_queue_depth")
            .values()
            .all(|v| *v >= 0.0));
    }
    app.stop().await;
}

/// The reason a receiver was told about in an `endpoint.disabled` event.
fn disabled_event(body: &[u8]) -> Value {
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "endpoint.disabled", "{event}");
    event["data"].clone()
}

#[suite_test]
async fn a_gone_endpoint_is_announced_to_subscribers_when_operational_events_are_on() {
    let app = spawn_app_with(|c| c.operational_events = true).await;
    let (_, types) = app.get_json(&app.live_key, "/v1/event-types").await;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"endpoint.disabled") && names.contains(&"delivery.exhausted"));
    // Only hookd publishes them.
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "endpoint.disabled", "data": {}}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("type"));

    let watcher = Receiver::start().await;
    app.create_endpoint(&watcher.url, &["endpoint.disabled"])
        .await;
    let gone = Receiver::scripted(|_| (410, "gone".into())).await;
    let gone_endpoint = app.create_endpoint(&gone.url, &["post.created"]).await;
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);

    let received = watcher.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(
        disabled_event(&received[0].body),
        json!({"endpointId": gone_endpoint["id"], "reason": "gone"})
    );
    app.stop().await;
}

#[suite_test]
async fn operational_events_are_off_by_default() {
    let app = spawn_app().await;
    let (_, types) = app.get_json(&app.live_key, "/v1/event-types").await;
    assert!(!types.to_string().contains("endpoint.disabled"), "{types}");
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &json!({"name": "x", "url": "https://hooks.example.com/y", "events": ["delivery.exhausted"]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("events[0]"));
    app.stop().await;
}

/// An endpoint subscribed to `delivery.exhausted` that always fails: its delivery of the
/// post exhausts and is announced to it once; that announcement's own exhaustion is not
/// announced again (the loop guard of `domain::operational`).
#[suite_test]
async fn an_exhausted_announcement_announces_nothing_further() {
    let app = spawn_app_with(|c| {
        c.operational_events = true;
        c.retry_schedule = vec![0];
    })
    .await;
    let failing = Receiver::scripted(|_| (500, "down".into())).await;
    app.create_endpoint(&failing.url, &["post.created", "delivery.exhausted"])
        .await;
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    // Two attempts of the post, then two of its announcement.
    let received = failing.wait_for(4, Duration::from_secs(20)).await;
    let last: Value = serde_json::from_slice(&received[3].body).unwrap();
    assert_eq!(last["type"], "delivery.exhausted", "{last}");
    // A graceful stop waits for every result and every publish it caused: what is stored then
    // is all there will be.
    let (store, _database) = (app.store.clone(), std::sync::Arc::clone(&app.database));
    app.stop().await;
    let workspace = store
        .find_workspace(hookd::admin::DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .unwrap();
    let tenant = hookd::domain::tenant::Tenant {
        workspace_id: workspace.id,
        mode: hookd::domain::tenant::Mode::Live,
    };
    let page = hookd::store::PageRequest::new(100, None);
    let events = store
        .list_events(&tenant, &Default::default(), &page)
        .await
        .unwrap()
        .items;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["delivery.exhausted", "post.created"]);
}
