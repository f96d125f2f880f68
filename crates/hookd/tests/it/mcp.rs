//! MCP over Streamable HTTP (`/mcp`) with the official Rust SDK's client (`rmcp`), against real
//! loopback upstreams and receivers: the per-integration tool an agent finds by name and calls
//! without ever seeing its credentials, `list_changed` on create/edit/disconnect, the call
//! policy, tenant and mode isolation, revoked keys, the generic tools, the caller's bytes, and
//! bad input that must never crash, answer 500 or reach the upstream.

use std::time::Duration;

use serde_json::{json, Value};

use crate::delivery::WAIT;
use crate::harness::*;
use crate::integrations::{call as rest_call, create};
use crate::mcp_support::*;
use crate::upstream::{raw, Upstream};

const TOKEN: &str = "tok_live_MCPq3k9ZpX7mW2vR8sT4yB6";
const HEADER_SECRET: &str = "hdr_MCPsecret_7d1f0c2a9e";
const GENERIC: [&str; 7] = [
    "list_integrations",
    "call_integration",
    "list_event_types",
    "publish_event",
    "list_webhook_endpoints",
    "get_delivery",
    "retry_delivery",
];

/// An upstream answering with this exact JSON text.
async fn json_upstream(text: &'static str) -> Upstream {
    Upstream::start(move |_| raw(200, &[("content-type", "application/json")], text)).await
}

/// "Internal reporting API" with a bearer token and a secret header, pointing at `url`.
async fn reporting_api(app: &TestApp, key: &str, url: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": "Internal reporting API",
        "url": url,
        "description": "Stores a summary of each automation run for compliance.",
        "auth": {"type": "bearer", "token": TOKEN},
        "headers": {"X-Api-Secret": HEADER_SECRET},
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    create(app, key, body).await
}

#[suite_test]
async fn an_agent_calls_internal_reporting_api_and_never_sees_its_credentials() {
    let app = spawn_app().await;
    let up = json_upstream(r#"{"stored": true, "reportId": "rep_1", "total": 1.50}"#).await;
    let integration = reporting_api(&app, &app.live_key, &up.url("/v1/runs"), json!({})).await;
    let id = integration["id"].as_str().unwrap();

    let (client, _) = connect(&app, &app.live_key).await;
    let mut received = Vec::new();
    received.push(serde_json::to_string(&client.peer_info()).unwrap());
    let listed = tools(&client).await;
    received.push(serde_json::to_string(&listed).unwrap());
    let tool = listed
        .iter()
        .find(|t| t.name == "internal_reporting_api")
        .unwrap_or_else(|| panic!("no internal_reporting_api in {:?}", names(&listed)));
    assert!(tool
        .description
        .as_deref()
        .unwrap()
        .starts_with("Stores a summary of each automation run for compliance."));
    // Only what the integration allows: a body (JSON) and query parameters.
    let properties = tool.input_schema["properties"].as_object().unwrap();
    assert_eq!(properties.keys().collect::<Vec<_>>(), ["body", "query"]);
    assert_eq!(tool.input_schema["additionalProperties"], false);
    for generic in GENERIC {
        assert!(names(&listed).contains(&generic.to_string()), "{generic}");
    }

    let summary = json!({"script": "order-processing", "orders": 3, "failed": 0});
    let result = call(&client, "internal_reporting_api", json!({"body": summary})).await;
    received.push(serde_json::to_string(&result).unwrap());
    let answer = ok_json(&result);
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["bodyEncoding"], "json");
    assert_eq!(answer["body"]["reportId"], "rep_1");
    // The upstream's bytes, as it sent them.
    assert!(
        text(&result).contains(r#""total": 1.50"#),
        "{}",
        text(&result)
    );
    let meta = result.meta.as_ref().expect("the REST request id");
    assert!(meta.0["requestId"].as_str().unwrap().starts_with("req_"));

    // What the upstream got: the credentials, added by hookd, and the summary.
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/v1/runs");
    assert_eq!(
        seen.header("authorization").unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert_eq!(seen.header("x-api-secret").unwrap(), HEADER_SECRET);
    assert_eq!(seen.json(), summary);

    let listing = call(&client, "list_integrations", json!({})).await;
    received.push(serde_json::to_string(&listing).unwrap());
    let listing = ok_json(&listing);
    assert_eq!(listing[0]["tool"], "internal_reporting_api");
    assert_eq!(listing[0]["id"], id);

    // Nothing the client received carries the credentials (nor their last characters).
    let everything = received.join("\n");
    for secret in [TOKEN, HEADER_SECRET, &TOKEN[TOKEN.len() - 8..]] {
        assert!(!everything.contains(secret), "{secret} reached the client");
    }

    // The call is in the call log, marked as made through MCP.
    let (status, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(log["data"][0]["via"], "mcp", "{log}");
    assert_eq!(log["data"][0]["id"], answer["id"]);
    client.cancel().await.unwrap();
}

#[suite_test]
async fn list_changed_arrives_and_a_disconnected_tool_is_a_clean_tool_error() {
    let app = spawn_app().await;
    let up = json_upstream(r#"{"ok": true}"#).await;
    let (client, watcher) = connect(&app, &app.live_key).await;
    let (test_client, test_watcher) = connect(&app, &app.test_key).await;
    assert_eq!(names(&tools(&client).await), GENERIC);

    let created = reporting_api(&app, &app.live_key, &up.url("/"), json!({})).await;
    let id = created["id"].as_str().unwrap().to_string();
    eventually(WAIT, || async { (watcher.changes() >= 1).then_some(()) }).await;
    assert!(names(&tools(&client).await).contains(&"internal_reporting_api".to_string()));
    // Only the sessions of that workspace and mode are told: a test-mode change reaches the
    // test-mode session alone, which heard nothing of the live one.
    reporting_api(&app, &app.test_key, &up.url("/"), json!({})).await;
    eventually(WAIT, || async {
        (test_watcher.changes() >= 1).then_some(())
    })
    .await;
    assert_eq!(test_watcher.changes(), 1);
    assert_eq!(watcher.changes(), 1);
    test_client.cancel().await.unwrap();

    let (status, _) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/integrations/{id}"),
            &json!({"description": "Now documented differently."}),
        )
        .await;
    assert_eq!(status, 200);
    eventually(WAIT, || async { (watcher.changes() >= 2).then_some(()) }).await;
    let listed = tools(&client).await;
    let tool = listed
        .iter()
        .find(|t| t.name == "internal_reporting_api")
        .unwrap();
    assert!(tool
        .description
        .as_deref()
        .unwrap()
        .starts_with("Now documented differently."));

    let (status, _) = app
        .delete(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(status, 200);
    eventually(WAIT, || async { (watcher.changes() >= 3).then_some(()) }).await;
    assert_eq!(names(&tools(&client).await), GENERIC);

    // By its tool name, and by its name through call_integration: the API's 410, naming it.
    let by_tool = call(&client, "internal_reporting_api", json!({"body": {}})).await;
    assert_tool_error(&by_tool, "integration_disconnected", None);
    assert!(text(&by_tool).contains("Internal reporting API"));
    let by_name = call(
        &client,
        "call_integration",
        json!({"integration": "Internal reporting API", "body": {}}),
    )
    .await;
    assert_tool_error(&by_name, "integration_disconnected", None);
    assert_eq!(up.count(), 0, "nothing reached the upstream");

    // The call log stays readable: it is the audit trail.
    let (status, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(status, 200, "{log}");
    client.cancel().await.unwrap();
}

#[suite_test]
async fn calls_outside_the_integration_policy_are_refused_over_mcp_and_rest() {
    let app = spawn_app().await;
    let up = json_upstream(r#"{"ok": true}"#).await;
    let integration = reporting_api(&app, &app.live_key, &up.url("/v1/runs"), json!({})).await;
    let id = integration["id"].as_str().unwrap().to_string();
    assert_eq!(integration["allowedMethods"], json!(["POST"]));
    assert_eq!(integration["allowedPathPrefixes"], json!([]));
    assert_eq!(integration["allowCallerHeaders"], false);
    let (client, _) = connect(&app, &app.live_key).await;

    let cases = [
        (json!({"method": "DELETE"}), "allowedMethods"),
        (json!({"path": "/admin"}), "allowedPathPrefixes"),
        (json!({"headers": {"X-Extra": "1"}}), "allowCallerHeaders"),
    ];
    for (options, rule) in &cases {
        let mut args = json!({"integration": "internal reporting api"});
        args.as_object_mut()
            .unwrap()
            .extend(options.as_object().unwrap().clone());
        let result = call(&client, "call_integration", args).await;
        assert_tool_error(&result, "call_not_allowed", Some(rule));
        // The integration's own tool refuses the same.
        let result = call(&client, "internal_reporting_api", options.clone()).await;
        assert_tool_error(&result, "call_not_allowed", Some(rule));
        let (status, body) = rest_call(&app, &app.live_key, &id, options.clone()).await;
        assert_error(status, &body, 403, "call_not_allowed", Some(rule));
    }
    assert_eq!(up.count(), 0, "nothing reached the upstream");

    // Widened by the integration's owner: the tool's schema follows, and such calls go through.
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/integrations/{id}"),
            &json!({"allowedMethods": ["POST", "GET"], "allowedPathPrefixes": ["/reports"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let listed = tools(&client).await;
    let tool = listed
        .iter()
        .find(|t| t.name == "internal_reporting_api")
        .unwrap();
    let properties = tool.input_schema["properties"].as_object().unwrap();
    assert_eq!(properties["method"]["enum"], json!(["POST", "GET"]));
    assert!(properties.contains_key("path") && !properties.contains_key("headers"));
    let result = call(
        &client,
        "internal_reporting_api",
        json!({"method": "GET", "path": "/reports/daily"}),
    )
    .await;
    assert_eq!(ok_json(&result)["status"], 200);
    let seen = up.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/v1/runs/reports/daily")
    );
    let outside = call(
        &client,
        "internal_reporting_api",
        json!({"path": "/reportsx"}),
    )
    .await;
    assert_tool_error(&outside, "call_not_allowed", Some("allowedPathPrefixes"));
    assert_eq!(up.count(), 1);
    client.cancel().await.unwrap();
}

#[suite_test]
async fn other_workspaces_and_modes_see_none_of_these_tools_and_revoked_keys_are_refused() {
    let app = spawn_app().await;
    let up = json_upstream(r#"{"ok": true}"#).await;
    reporting_api(&app, &app.live_key, &up.url("/"), json!({})).await;
    let (_, other_live) = app.new_workspace("other").await;

    for key in [&app.test_key, &other_live] {
        let (client, _) = connect(&app, key).await;
        assert_eq!(names(&tools(&client).await), GENERIC);
        let result = call(
            &client,
            "call_integration",
            json!({"integration": "Internal reporting API"}),
        )
        .await;
        assert_tool_error(&result, "not_found", Some("integration"));
        let listing = ok_json(&call(&client, "list_integrations", json!({})).await);
        assert_eq!(listing, json!([]));
        client.cancel().await.unwrap();
    }
    assert_eq!(up.count(), 0);

    // A session belongs to the key that opened it.
    let live = RawSession::open(&app, &app.live_key).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let stolen = live.post_as(&app.test_key, list).await;
    assert_eq!(stolen.status, 404, "{}", stolen.body);
    assert!(!stolen.body.contains("internal_reporting_api"));
    let (own, _) = live.post(list).await;
    assert_eq!(own.status, 200);
    assert!(own.body.contains("internal_reporting_api"));

    // A revoked key is refused at once, in its open session too.
    let (record, key) = hookd::admin::create_key(
        &app.store,
        hookd::admin::DEFAULT_WORKSPACE,
        hookd::domain::tenant::Mode::Live,
    )
    .await
    .unwrap();
    let (client, _) = connect(&app, &key).await;
    let raw_session = RawSession::open(&app, &key).await;
    assert!(names(&tools(&client).await).contains(&"internal_reporting_api".to_string()));
    hookd::admin::revoke_key(&app.store, record.id.as_str())
        .await
        .unwrap();
    assert!(client.list_all_tools().await.is_err());
    let (refused, _) = raw_session.post(list).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(try_connect(&app, &key).await.is_err());
}

#[suite_test]
async fn bad_input_is_refused_cleanly_and_nothing_reaches_the_upstream() {
    let app = spawn_app_with(|c| c.max_body_bytes = 64 * 1024).await;
    let up = json_upstream(r#"{"ok": true}"#).await;
    reporting_api(
        &app,
        &app.live_key,
        &up.url("/"),
        json!({"allowedPathPrefixes": ["/runs"]}),
    )
    .await;
    let http = reqwest::Client::new();
    let url = app.url("/mcp");

    // No key, a malformed key: 401 in the API's error shape.
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#;
    for key in [None, Some("scripe_sk_live_nope")] {
        let (answer, _) = post_mcp(&http, &url, key, None, init).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.message["error"]["code"], "unauthorized");
    }

    let session = RawSession::open(&app, &app.live_key).await;
    // Malformed JSON-RPC: a client error, never a 500.
    for garbage in [
        "{",
        "[]",
        "null",
        r#"{"jsonrpc":"2.0","id":1}"#,
        "\u{0}\u{1}",
    ] {
        let (answer, _) = session.post(garbage).await;
        assert!(
            answer.status.is_client_error()
                || (answer.status == 200 && answer.message.get("error").is_some()),
            "{garbage:?}: {} {}",
            answer.status,
            answer.body
        );
    }
    // An unknown method and an unknown tool: JSON-RPC errors.
    let (answer, _) = session
        .post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/frobnicate"}"#)
        .await;
    assert!(answer.message["error"]["code"].is_i64(), "{}", answer.body);
    let answer = session.call_text(3, "no_such_tool", "{}").await;
    assert_eq!(answer.message["error"]["code"], -32602, "{}", answer.body);
    assert!(answer.message["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no_such_tool"));

    // Arguments of the wrong type: tool errors with the API's code, naming the argument.
    let cases = [
        ("call_integration", r#"{"integration": 5}"#, "integration"),
        (
            "call_integration",
            r#"{"integration": "Internal reporting API", "path": 7}"#,
            "path",
        ),
        (
            "internal_reporting_api",
            r#"{"method": ["POST"]}"#,
            "method",
        ),
        (
            "internal_reporting_api",
            r#"{"nonsense": true}"#,
            "nonsense",
        ),
        ("get_delivery", r#"{"id": {"$ne": null}}"#, "id"),
        ("get_delivery", r#"{}"#, "id"),
        ("publish_event", r#"{"type": 1, "data": []}"#, "type"),
    ];
    for (n, (tool, arguments, param)) in cases.iter().enumerate() {
        let answer = session.call_text(10 + n as u64, tool, arguments).await;
        assert_eq!(answer.status, 200, "{tool} {arguments}: {}", answer.body);
        let result = &answer.message["result"];
        assert_eq!(
            result["isError"], true,
            "{tool} {arguments}: {}",
            answer.body
        );
        let error = &result["structuredContent"]["error"];
        assert_eq!(
            error["code"], "invalid_request",
            "{tool} {arguments}: {error}"
        );
        assert_eq!(error["param"], *param, "{tool} {arguments}: {error}");
    }

    // An oversize body: 413 before anything is parsed or sent.
    let big = "x".repeat(70 * 1024);
    let answer = session
        .call_text(
            40,
            "internal_reporting_api",
            &json!({"body": big}).to_string(),
        )
        .await;
    assert_eq!(
        answer.status,
        413,
        "{}",
        answer.body.chars().take(200).collect::<String>()
    );
    assert_eq!(answer.message["error"]["code"], "payload_too_large");
    assert_eq!(up.count(), 0, "nothing reached the upstream");
    // The server is still fine.
    let (status, _) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(status, 200);
}

#[suite_test]
async fn json_bodies_reach_the_upstream_exactly_as_written() {
    let app = spawn_app().await;
    let up = json_upstream(r#"{"ok": true}"#).await;
    let integration = reporting_api(&app, &app.live_key, &up.url("/"), json!({})).await;
    let id = integration["id"].as_str().unwrap();
    let written = r#"{"zeta": 1.50, "alpha": {"big": 12345678901234567890, "e": 1e2}, "list": [3, 2.0, "ü"]}"#;

    // Over MCP: the integration's tool and call_integration.
    let session = RawSession::open(&app, &app.live_key).await;
    let answer = session
        .call_text(
            1,
            "internal_reporting_api",
            &format!(r#"{{"body": {written}}}"#),
        )
        .await;
    assert_eq!(
        answer.message["result"]["isError"], false,
        "{}",
        answer.body
    );
    assert_eq!(std::str::from_utf8(&up.last().body).unwrap(), written);
    let answer = session
        .call_text(
            2,
            "call_integration",
            &format!(r#"{{"body": {written}, "integration": "Internal reporting API"}}"#),
        )
        .await;
    assert_eq!(
        answer.message["result"]["isError"], false,
        "{}",
        answer.body
    );
    assert_eq!(std::str::from_utf8(&up.last().body).unwrap(), written);

    // Over REST, the same bytes.
    let response = app
        .req(
            reqwest::Method::POST,
            &format!("/v1/integrations/{id}/calls"),
        )
        .header("content-type", "application/json")
        .body(format!(r#"{{"body": {written}}}"#))
        .send()
        .await
        .unwrap();
    let (status, body) = into_parts(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(std::str::from_utf8(&up.last().body).unwrap(), written);
    assert_eq!(up.count(), 3);

    // An event's data published over MCP is delivered as written, too.
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["job.completed"]).await;
    let data = r#"{"zeta": 1.50, "alpha": [1e2, {"b": 0, "a": 1}]}"#;
    let answer = session
        .call_text(
            3,
            "publish_event",
            &format!(r#"{{"type": "job.completed", "data": {data}}}"#),
        )
        .await;
    assert_eq!(
        answer.message["result"]["isError"], false,
        "{}",
        answer.body
    );
    let got = receiver.wait_for(1, WAIT).await;
    let delivered = std::str::from_utf8(&got[0].body).unwrap();
    assert!(
        delivered.contains(&format!(r#""data":{data}"#)),
        "{delivered}"
    );
}

#[suite_test]
async fn generic_tools_publish_an_event_that_is_delivered_and_inspect_it() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["job.completed"]).await;
    let (client, _) = connect(&app, &app.live_key).await;

    let types = ok_json(&call(&client, "list_event_types", json!({})).await);
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "job.completed" || t["type"] == "job.completed"),
        "{types}"
    );

    let published = call(
        &client,
        "publish_event",
        json!({"type": "job.completed", "data": {"jobId": "job_42"}, "idempotencyKey": "mcp-1"}),
    )
    .await;
    let event = ok_json(&published);
    assert_eq!(event["type"], "job.completed");
    assert_eq!(event["deliveryCount"], 1);
    assert_eq!(event["orderingKey"], Value::Null);
    let got = receiver.wait_for(1, WAIT).await;
    let delivered: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(delivered["id"], event["id"]);
    assert_eq!(delivered["data"], json!({"jobId": "job_42"}));

    // The same idempotency key replays the first answer.
    let again = ok_json(
        &call(
            &client,
            "publish_event",
            json!({"type": "job.completed", "data": {"jobId": "job_42"}, "idempotencyKey": "mcp-1"}),
        )
        .await,
    );
    assert_eq!(again["id"], event["id"]);

    // An ordering key is passed on as the REST API's `orderingKey`, and checked by it.
    let ordered = ok_json(
        &call(
            &client,
            "publish_event",
            json!({"type": "job.completed", "data": {"jobId": "job_43"}, "orderingKey": "job_43"}),
        )
        .await,
    );
    assert_eq!(ordered["orderingKey"], "job_43");
    receiver.wait_for(2, WAIT).await;
    let refused = call(
        &client,
        "publish_event",
        json!({"type": "job.completed", "data": {}, "orderingKey": 7}),
    )
    .await;
    assert_tool_error(&refused, "invalid_request", Some("orderingKey"));

    let endpoints = call(&client, "list_webhook_endpoints", json!({"limit": 10})).await;
    let listed = ok_json(&endpoints);
    assert_eq!(listed["data"][0]["id"], endpoint["id"]);
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(!text(&endpoints).contains(secret));
    assert!(listed["data"][0].get("secretLast4").is_none(), "{listed}");

    // A page says where the next one starts, and the cursor argument follows it.
    let second = app.create_endpoint(&receiver.url, &["job.completed"]).await;
    let first_page = ok_json(&call(&client, "list_webhook_endpoints", json!({"limit": 1})).await);
    assert_eq!(first_page["data"][0]["id"], second["id"]);
    assert_eq!(first_page["hasMore"], true);
    let cursor = first_page["nextCursor"].as_str().unwrap();
    let next_page = ok_json(
        &call(
            &client,
            "list_webhook_endpoints",
            json!({"limit": 1, "cursor": cursor}),
        )
        .await,
    );
    assert_eq!(next_page["data"][0]["id"], endpoint["id"]);

    let (_, deliveries) = app
        .get_json(
            &app.live_key,
            &format!("/v1/events/{}/deliveries", event["id"].as_str().unwrap()),
        )
        .await;
    let delivery_id = deliveries["data"][0]["id"].as_str().unwrap().to_string();
    let delivery = eventually(WAIT, || {
        let (client, id) = (&client, delivery_id.clone());
        async move {
            let d = ok_json(&call(client, "get_delivery", json!({"id": id})).await);
            (d["status"] == "succeeded").then_some(d)
        }
    })
    .await;
    assert_eq!(delivery["attempts"][0]["statusCode"], 200);
    let retried = ok_json(&call(&client, "retry_delivery", json!({"id": delivery_id})).await);
    assert_eq!(retried["id"], delivery_id.as_str());
    receiver.wait_for(2, WAIT).await;
    let missing = call(
        &client,
        "get_delivery",
        json!({"id": "dlv_00000000000000000000000000"}),
    )
    .await;
    assert_tool_error(&missing, "not_found", None);
    tokio::time::timeout(Duration::from_secs(5), client.cancel())
        .await
        .unwrap()
        .unwrap();
}

#[suite_test]
async fn mcp_requests_share_the_keys_rate_limit() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 4;
    })
    .await;
    let session = RawSession::open(&app, &app.live_key).await;
    // Each tools/list is one MCP request plus the REST request it makes: the burst runs out.
    let mut refused = None;
    for id in 1..=10 {
        let (answer, _) = session
            .post(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
            ))
            .await;
        if answer.status == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a 429 within ten requests");
    assert_eq!(
        refused.message["error"]["code"], "rate_limited",
        "{}",
        refused.body
    );
    // Another key has its own budget.
    let other = RawSession::open(&app, &app.test_key).await;
    let (answer, _) = other
        .post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .await;
    assert_ne!(answer.status, 429, "{}", answer.body);
}
