//! `hookd events …`, `hookd deliveries …` and `hookd replay` run as the real binary against a
//! real server, with a real receiver.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::cli_support::{api, api_at, closed_port};
use crate::delivery::Switch;
use crate::harness::*;

#[suite_test]
async fn send_list_and_get_events_then_follow_their_deliveries() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let key = Some(app.live_key.as_str());

    // Inline data; the table view shows the id and the data.
    let sent = api(
        &app,
        key,
        &[
            "events",
            "send",
            "--type",
            "post.created",
            "--data",
            r#"{"postId":"p_1"}"#,
        ],
    )
    .await;
    let out = sent.ok();
    assert!(
        out.contains("post.created") && out.contains("\"postId\": \"p_1\""),
        "{out}"
    );
    // From a file, with a project, as JSON: the API's Event object.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    // Written with its keys out of order and a number form JSON parsers normalise: the data is
    // sent (and delivered) as written.
    let written = r#"{"postId": "p_2", "n": [1, 2], "amount": 1.50}"#;
    std::fs::write(&file, written).unwrap();
    let event = api(
        &app,
        key,
        &[
            "events",
            "send",
            "--type",
            "post.created",
            "--data",
            &format!("@{}", file.display()),
            "--project",
            "proj_9",
            "--json",
        ],
    )
    .await
    .json();
    let event_id = event["id"].as_str().unwrap().to_string();
    assert_eq!(
        event["data"],
        json!({"postId": "p_2", "n": [1, 2], "amount": 1.50})
    );
    assert_eq!(event["projectId"], "proj_9");
    assert_eq!(event["deliveryCount"], 1);
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let bodies: Vec<&str> = got
        .iter()
        .map(|r| std::str::from_utf8(&r.body).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains(&format!(r#""data":{written}"#))),
        "{bodies:?}"
    );

    let listed = api(&app, key, &["events", "list"]).await;
    let lines: Vec<&str> = listed.ok().lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("DELIVERIES"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with(&event_id), "newest first: {lines:?}");
    let page = api(&app, key, &["events", "list", "--json"]).await.json();
    assert_eq!(page["data"][0]["id"], event_id.as_str());
    let got = api(&app, key, &["events", "get", &event_id, "--json"])
        .await
        .json();
    assert_eq!(got, event);

    // Deliveries: per endpoint (with a status filter) and per event.
    let delivered = eventually(Duration::from_secs(10), || async {
        let page = api(
            &app,
            key,
            &[
                "deliveries",
                "list",
                "--endpoint",
                endpoint_id,
                "--status",
                "succeeded",
                "--json",
            ],
        )
        .await
        .json();
        (page["data"].as_array().unwrap().len() == 2).then_some(page)
    })
    .await;
    let delivery_id = delivered["data"][0]["id"].as_str().unwrap().to_string();
    let table = api(
        &app,
        key,
        &["deliveries", "list", "--endpoint", endpoint_id],
    )
    .await;
    assert!(table.ok().contains("succeeded"), "{}", table.stdout);
    let pending = api(
        &app,
        key,
        &[
            "deliveries",
            "list",
            "--endpoint",
            endpoint_id,
            "--status",
            "pending",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(pending["data"], json!([]));
    let of_event = api(
        &app,
        key,
        &["deliveries", "list", "--event", &event_id, "--json"],
    )
    .await
    .json();
    assert_eq!(of_event["data"][0]["id"], delivery_id.as_str());

    // One delivery with its attempts, then one more attempt on demand.
    let shown = api(&app, key, &["deliveries", "get", &delivery_id]).await;
    let out = shown.ok();
    assert!(
        out.contains("ATTEMPT") && out.contains("att_") && out.contains("200"),
        "{out}"
    );
    let detail = api(&app, key, &["deliveries", "get", &delivery_id, "--json"])
        .await
        .json();
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    let retried = api(&app, key, &["deliveries", "retry", &delivery_id, "--json"])
        .await
        .json();
    assert_eq!(retried["status"], "pending");
    receiver.wait_for(3, Duration::from_secs(10)).await;
}

#[suite_test]
async fn replay_requeues_failed_deliveries_since_a_time() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![1]).await;
    let failing = Switch::default();
    failing.set(true);
    let flag = failing.clone();
    let receiver = Receiver::scripted(move |_| {
        if flag.on() {
            (500, "no".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let key = Some(app.live_key.as_str());
    for n in 0..3 {
        api(
            &app,
            key,
            &[
                "events",
                "send",
                "--type",
                "post.created",
                "--data",
                &json!({"n": n}).to_string(),
            ],
        )
        .await
        .ok();
    }
    eventually(Duration::from_secs(10), || async {
        let page = api(
            &app,
            key,
            &[
                "deliveries",
                "list",
                "--endpoint",
                endpoint_id,
                "--status",
                "failed",
                "--json",
            ],
        )
        .await
        .json();
        (page["data"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;
    failing.set(false);

    // A time in the future re-queues nothing; a relative time re-queues all three.
    let later =
        (Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let none = api(
        &app,
        key,
        &[
            "replay",
            "--endpoint",
            endpoint_id,
            "--since",
            &later,
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(none, json!({"requeued": 0}));
    let run = api(
        &app,
        key,
        &["replay", "--endpoint", endpoint_id, "--since", "2h"],
    )
    .await;
    assert!(
        run.ok().starts_with("requeued 3 failed deliveries"),
        "{}",
        run.stdout
    );
    // The spinner draws only on a terminal: nothing but the result line reaches a pipe.
    assert_eq!(run.stderr, "");
    // Two attempts each before they failed, then one more each.
    receiver.wait_for(9, Duration::from_secs(10)).await;
    eventually(Duration::from_secs(10), || async {
        let page = api(
            &app,
            key,
            &[
                "deliveries",
                "list",
                "--endpoint",
                endpoint_id,
                "--status",
                "succeeded",
                "--json",
            ],
        )
        .await
        .json();
        (page["data"].as_array().unwrap().len() == 3).then_some(())
    })
    .await;
}

#[suite_test]
async fn event_and_delivery_commands_refuse_bad_input_in_one_line() {
    let app = spawn_app().await;
    let key = Some(app.live_key.as_str());
    let send = |data: &'static str| ["events", "send", "--type", "post.created", "--data", data];

    api(&app, key, &send("{oops"))
        .await
        .fails(2, "--data is not valid JSON");
    api(&app, key, &send("@/definitely/missing.json"))
        .await
        .fails(2, "reading --data file /definitely/missing.json");
    // Bad input is caught before the key is looked at, and before anything is sent.
    api(&app, None, &send("{oops"))
        .await
        .fails(2, "not valid JSON");
    api(&app, key, &send("[1]"))
        .await
        .fails(1, "error: invalid_request: ");
    api(
        &app,
        key,
        &["events", "send", "--type", "no.such", "--data", "{}"],
    )
    .await
    .fails(1, "invalid_request");
    let keyed = |ordering_key: &'static str| {
        [
            "events",
            "send",
            "--type",
            "post.created",
            "--data",
            "{}",
            "--ordering-key",
            ordering_key,
        ]
    };
    api(&app, key, &keyed(""))
        .await
        .fails(1, "error: invalid_request: orderingKey");
    let sent = api(&app, key, &keyed("post_123")).await;
    assert!(sent.ok().contains("post_123"), "{}", sent.ok());
    api(&app, key, &["events", "get", "evt_nope"])
        .await
        .fails(1, "error: not_found: ");
    api(&app, key, &["deliveries", "get", "dlv_nope"])
        .await
        .fails(1, "error: not_found: ");
    api(&app, key, &["deliveries", "retry", "dlv_nope"])
        .await
        .fails(1, "error: not_found: ");
    api(&app, key, &["deliveries", "list", "--endpoint", "whe_nope"])
        .await
        .fails(1, "not_found");

    // `deliveries list` needs --endpoint (or --event): clap's usage error names it.
    let run = api(&app, key, &["deliveries", "list"]).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--endpoint"), "{}", run.stderr);
    let run = api(
        &app,
        key,
        &[
            "deliveries",
            "list",
            "--endpoint",
            "whe_x",
            "--status",
            "lost",
        ],
    )
    .await;
    assert_eq!(run.code, Some(2));

    for since in ["yesterday", "2026-13-01T00:00:00Z", "5m ago"] {
        api(
            &app,
            key,
            &["replay", "--endpoint", "whe_x", "--since", since],
        )
        .await
        .fails(2, "--since");
    }
    api(
        &app,
        key,
        &["replay", "--endpoint", "whe_nope", "--since", "1h"],
    )
    .await
    .fails(1, "not_found");

    let closed = format!("http://127.0.0.1:{}", closed_port());
    api_at(&closed, key, &["events", "list"])
        .await
        .fails(3, "could not reach the hookd API");
    api_at(
        &closed,
        key,
        &["replay", "--endpoint", "whe_x", "--since", "1h"],
    )
    .await
    .fails(3, "could not reach");
    api_at("not a url", key, &["events", "list"])
        .await
        .fails(2, "not a URL");
}

#[suite_test]
async fn a_5xx_from_the_api_exits_3() {
    // A stand-in that answers every request as a failing server would.
    let upstream = Receiver::responding(|_| {
        Box::pin(async {
            use axum::response::IntoResponse;
            let body = json!({"error": {"code": "service_unavailable", "message": "The database is unreachable.", "param": null}});
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        })
    })
    .await;
    let url = format!("http://{}", upstream.addr);
    let run = api_at(&url, Some("scripe_sk_live_x"), &["events", "list"]).await;
    run.fails(
        3,
        "error: service_unavailable: The database is unreachable.",
    );
}
