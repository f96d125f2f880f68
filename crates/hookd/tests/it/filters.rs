//! Payload filters on webhook endpoints, end to end: a CEL `filter` decides at publish which
//! endpoints get a delivery; bad filters are refused at create and update with the parser's
//! message; an evaluation error counts as false; a hostile filter cannot stall publishing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

/// Creates an endpoint on `receiver` with `extra` fields merged into the body.
async fn endpoint(app: &TestApp, receiver: &Receiver, extra: Value) -> Value {
    let mut body = json!({"name": "filtered", "url": receiver.url, "events": ["post.created"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, body) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

async fn publish(app: &TestApp, data: Value) -> Value {
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "projectId": "proj_1", "data": data}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["data"].clone()
}

/// The `data.n` of every request `receiver` got, in arrival order.
fn numbers(receiver: &Receiver) -> Vec<i64> {
    let mut got: Vec<i64> = receiver
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    got.sort_unstable();
    got
}

#[suite_test]
async fn only_events_whose_filter_is_true_are_delivered() {
    let app = spawn_app().await;
    let (big_eur, plain, typed) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let filter = r#"data.amount > 100 && data.currency == "EUR""#;
    let created = endpoint(&app, &big_eur, json!({"filter": filter})).await;
    assert_eq!(created["filter"], filter);
    endpoint(&app, &plain, json!({})).await;
    endpoint(
        &app,
        &typed,
        json!({"filter": r#"type == "post.created" && projectId == "proj_1" && data.tags.exists(t, t == "vip")"#}),
    )
    .await;

    let cases = [
        (
            json!({"n": 1, "amount": 150, "currency": "EUR", "tags": []}),
            2,
        ),
        (
            json!({"n": 2, "amount": 50, "currency": "EUR", "tags": ["vip"]}),
            2,
        ),
        (
            json!({"n": 3, "amount": 150.5, "currency": "USD", "tags": ["x"]}),
            1,
        ),
        (
            json!({"n": 4, "amount": 101, "currency": "EUR", "tags": ["vip"]}),
            3,
        ),
    ];
    for (data, expected) in cases {
        let event = publish(&app, data.clone()).await;
        assert_eq!(event["deliveryCount"], expected, "{data}");
    }
    plain.wait_for(4, Duration::from_secs(10)).await;
    big_eur.wait_for(2, Duration::from_secs(10)).await;
    typed.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(numbers(&plain), [1, 2, 3, 4]);
    assert_eq!(numbers(&big_eur), [1, 4]);
    assert_eq!(numbers(&typed), [2, 4]);
}

#[suite_test]
async fn an_evaluation_error_counts_as_false_and_spares_the_others() {
    let app = spawn_app().await;
    let (strict, plain) = (Receiver::start().await, Receiver::start().await);
    endpoint(&app, &strict, json!({"filter": "data.amount > 100"})).await;
    endpoint(&app, &plain, json!({})).await;
    // A string compared with a number, a missing key: errors, so false; then a true one.
    for (n, data) in [
        json!({"amount": "lots"}),
        json!({"other": 1}),
        json!({"amount": 1000}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut data = data;
        data["n"] = json!(n);
        publish(&app, data).await;
    }
    plain.wait_for(3, Duration::from_secs(10)).await;
    strict.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        numbers(&strict),
        [2],
        "only the event the filter is true for"
    );
    assert_eq!(numbers(&plain), [0, 1, 2]);
}

#[suite_test]
async fn filters_are_changed_and_removed_with_patch() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let created = endpoint(&app, &receiver, json!({"filter": "data.n == 1"})).await;
    let path = endpoint_path(&created["id"]);
    assert_eq!(publish(&app, json!({"n": 2})).await["deliveryCount"], 0);

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"filter": "data.n == 2"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["filter"], "data.n == 2");
    assert_eq!(publish(&app, json!({"n": 2})).await["deliveryCount"], 1);
    assert_eq!(publish(&app, json!({"n": 1})).await["deliveryCount"], 0);

    // A PATCH without `filter` keeps it; `null` removes it.
    let (_, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "renamed"}))
        .await;
    assert_eq!(body["data"]["filter"], "data.n == 2");
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"filter": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"].get("filter").is_none(),
        "unset fields are left out: {body}"
    );
    assert_eq!(publish(&app, json!({"n": 3})).await["deliveryCount"], 1);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(numbers(&receiver), [2, 3]);

    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(got["data"]["filter"], Value::Null);
}

#[suite_test]
async fn bad_filters_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let bad: Vec<(Value, &str)> = vec![
        (json!("data.amount >"), "does not parse"),
        (json!("amount > 100"), "unknown variable"),
        (json!("launch(data)"), "unknown or unsupported function"),
        (json!("1 + \"a\" == 2"), "type error"),
        (json!("data.amount + 1"), "boolean"),
        (json!("\"yes\""), "boolean"),
        (json!(""), "empty"),
        (json!(format!("data.a == \"{}\"", "x".repeat(4100))), "4096"),
        (
            json!(format!("{}true{}", "(".repeat(200), ")".repeat(200))),
            "deep",
        ),
        (json!("data.l.all(x, data.l.all(y, x == y))"), "nest"),
        (json!(vec!["data.s"; 20].join(" + ") + " == \"\""), "`+`"),
        // A chain the parser's recursion limit doesn't count: it once overflowed the stack.
        (json!(vec!["1"; 1500].join("*") + " == 1"), "128 operators"),
        (json!(vec!["data.a"; 40].join(" * ") + " == 1"), "32 deep"),
        (json!(42), ""),
        (json!(["data.a == 1"]), ""),
        (json!({"expr": "true"}), ""),
    ];
    let receiver = Receiver::start().await;
    let created = endpoint(&app, &receiver, json!({})).await;
    let path = endpoint_path(&created["id"]);
    for (filter, says) in bad {
        let body = json!({"name": "bad", "url": URL, "events": ["post.created"], "filter": filter});
        let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_error(status, &answer, 400, "invalid_request", Some("filter"));
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{filter} → {message}");
        let (status, answer) = app
            .patch_json(&app.live_key, &path, &json!({"filter": filter}))
            .await;
        assert_error(status, &answer, 400, "invalid_request", Some("filter"));
    }
    assert_no_endpoints_but(&app, 1).await;
    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(
        got["data"]["filter"],
        Value::Null,
        "failed PATCHes changed nothing"
    );
}

async fn assert_no_endpoints_but(app: &TestApp, n: usize) {
    assert_eq!(listed_ids(app, &app.live_key).await.len(), n);
}

/// The most expensive filter the rules let through, over an event as large as the body limit
/// allows, costs little: publishing stays quick and other endpoints get their deliveries.
#[suite_test]
async fn a_hostile_filter_cannot_stall_publishing() {
    let app = spawn_app().await;
    let (hostile, plain) = (Receiver::start().await, Receiver::start().await);
    let chain = vec!["data.s"; 16].join(" + ");
    let filter = format!(
        "size({chain}) > 0 && data.l.exists(x, string(x) + string(x) == \"never\") && data.s.matches(\"(a+)+$\")"
    );
    endpoint(&app, &hostile, json!({"filter": filter})).await;
    endpoint(&app, &plain, json!({})).await;
    // About 900 KB of data: a long string and a long list.
    let data = json!({"n": 1, "s": "a".repeat(300_000), "l": vec![1; 150_000]});
    let started = Instant::now();
    let event = publish(&app, data).await;
    let took = started.elapsed();
    assert_eq!(event["deliveryCount"], 1, "the hostile filter is false");
    plain.wait_for(1, Duration::from_secs(20)).await;
    // Generous for a debug build on a busy machine; an unbounded evaluation would take hours.
    assert!(took < Duration::from_secs(20), "publish took {took:?}");
    assert_eq!(hostile.count(), 0);
}

/// Both fields are in the OpenAPI document: on the endpoint, and in the create and update
/// bodies, with the rate's bounds.
#[suite_test]
async fn the_openapi_document_describes_filter_and_rate_limit() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in ["Endpoint", "CreateEndpoint", "UpdateEndpoint"] {
        let properties = &schemas[name]["properties"];
        assert!(properties["filter"].is_object(), "{name}: {properties}");
        let rate = properties["rateLimitPerSec"].to_string();
        assert!(rate.contains("\"maximum\":1000"), "{name}: {rate}");
        assert!(rate.contains("\"minimum\":1"), "{name}: {rate}");
    }
}

/// `hookd endpoints create|update` set and remove both fields; the server's refusal is one line.
#[suite_test]
async fn the_cli_sets_and_removes_filters_and_rate_limits() {
    use crate::cli_support::api;
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let key = Some(app.live_key.as_str());
    let args = [
        "endpoints",
        "create",
        "--name",
        "cli",
        "--url",
        &receiver.url,
        "--event",
        "post.created",
        "--filter",
        "data.n > 1",
        "--rate-limit",
        "5",
    ];
    let run = api(&app, key, &args).await;
    let out = run.ok();
    assert!(out.contains("data.n > 1") && out.contains("5/s"), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id"))
        .map(|v| v.trim().to_string())
        .expect("an id line");

    let updated = api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            &id,
            "--no-filter",
            "--no-rate-limit",
            "--json",
        ],
    )
    .await
    .json();
    assert!(updated.get("filter").is_none(), "{updated}");
    assert!(updated.get("rateLimitPerSec").is_none(), "{updated}");

    api(
        &app,
        key,
        &["endpoints", "update", &id, "--filter", "nope > 1"],
    )
    .await
    .fails(1, "error: invalid_request: ");
    api(
        &app,
        key,
        &["endpoints", "update", &id, "--rate-limit", "0"],
    )
    .await
    .fails(1, "rateLimitPerSec");
}
