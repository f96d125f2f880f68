//! Calling integrations against real loopback upstreams: credentials and headers arrive exactly
//! as configured, the upstream's answer comes back faithfully (JSON, text, binary, empty, 204,
//! 500, oversized, endless), timeouts and unreachable upstreams are clear 504/502 answers, and
//! every call lands in the call log without secrets.

use std::time::{Duration, Instant};

use axum::body::Body;
use base64::Engine as _;
use futures_util::stream;
use serde_json::{json, Value};

use crate::harness::*;
use crate::integrations::{call, create};
use crate::upstream::{self, raw, Upstream};

const TOKEN: &str = "tok_live_Q3k9ZpX7mW2vR8sT4yB6";

async fn integration(app: &TestApp, url: &str, extra: Value) -> String {
    // These tests exercise every call option, so the integration allows them all (the call
    // policy itself is tested in `mcp.rs` and `integrations.rs`).
    let mut body = json!({"name": format!("api {}", rand_suffix()), "url": url,
        "allowedMethods": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        "allowedPathPrefixes": ["/"], "allowCallerHeaders": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    create(app, &app.live_key, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Distinct names for the integrations of one test.
fn rand_suffix() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[suite_test]
async fn each_auth_type_arrives_exactly_as_configured() {
    let app = spawn_app().await;
    let up = Upstream::echo().await;
    let cases = [
        (
            json!({"type": "bearer", "token": TOKEN}),
            "authorization",
            format!("Bearer {TOKEN}"),
        ),
        (
            json!({"type": "basic", "username": "reporting-bot", "password": "open sesame"}),
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("reporting-bot:open sesame")
            ),
        ),
        (
            json!({"type": "header", "name": "X-API-Key", "value": "key_ABCDEFGH1234"}),
            "x-api-key",
            "key_ABCDEFGH1234".to_string(),
        ),
    ];
    for (auth, header, expected) in cases {
        let id = integration(&app, &up.url("/v1"), json!({"auth": auth})).await;
        let (status, body) = call(&app, &app.live_key, &id, json!({"body": {"x": 1}})).await;
        assert_eq!(status, 200, "{body}");
        let seen = up.last();
        assert_eq!(seen.header(header), Some(expected.as_str()));
        assert_eq!(seen.headers.get_all(header).iter().count(), 1);
    }
    let id = integration(&app, &up.url("/v1"), json!({"auth": {"type": "none"}})).await;
    call(&app, &app.live_key, &id, json!({})).await;
    assert_eq!(up.last().header("authorization"), None);
}

#[suite_test]
async fn method_path_query_headers_content_type_and_body_arrive() {
    let app = spawn_app().await;
    let up = Upstream::echo().await;
    let id = integration(
        &app,
        &up.url("/v1/runs?apiVersion=2"),
        json!({"headers": {"X-Team": "reporting", "User-Agent": "reports-bot/1"},
               "auth": {"type": "bearer", "token": TOKEN}}),
    )
    .await;
    let (status, body) = call(
        &app,
        &app.live_key,
        &id,
        json!({"path": "/daily/2026", "query": {"day": "mon", "n": 2},
               "headers": {"X-Request-Tag": "t-1", "X-Team": "override"},
               "body": {"x": 1, "nested": [true, null]}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/v1/runs/daily/2026");
    assert_eq!(seen.query.as_deref(), Some("apiVersion=2&day=mon&n=2"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("x-team"), Some("override"));
    assert_eq!(seen.header("x-request-tag"), Some("t-1"));
    assert_eq!(seen.header("user-agent"), Some("reports-bot/1"));
    assert_eq!(seen.json(), json!({"x": 1, "nested": [true, null]}));
    assert_eq!(body["data"]["body"]["path"], "/v1/runs/daily/2026");

    // Per-call method override, and no body means no content type.
    call(&app, &app.live_key, &id, json!({"method": "get"})).await;
    let seen = up.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/v1/runs");
    assert!(seen.body.is_empty());
    assert_eq!(seen.header("content-type"), None);
    let (status, body) = call(&app, &app.live_key, &id, json!({"method": "HEAD"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(up.last().method, "HEAD");
    assert_eq!(body["data"]["body"], "");

    // The credential header cannot be replaced per call.
    let (status, body) = call(
        &app,
        &app.live_key,
        &id,
        json!({"headers": {"Authorization": "Bearer other"}}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("headers.Authorization"),
    );
    let (status, body) = call(
        &app,
        &app.live_key,
        &id,
        json!({"headers": {"X-Evil\r\nHost": "x"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[suite_test]
async fn a_text_content_type_sends_strings_as_is_and_other_values_as_json() {
    let app = spawn_app().await;
    let up = Upstream::echo().await;
    let id = integration(
        &app,
        &up.url("/ingest"),
        json!({"contentType": "text/csv; charset=utf-8", "method": "PUT"}),
    )
    .await;
    call(&app, &app.live_key, &id, json!({"body": "a,b\n1,2\n"})).await;
    let seen = up.last();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(&seen.body[..], b"a,b\n1,2\n");
    call(&app, &app.live_key, &id, json!({"body": {"a": 1}})).await;
    assert_eq!(&up.last().body[..], br#"{"a":1}"#);
    // With a JSON content type a string is a JSON string.
    let id = integration(&app, &up.url("/json"), json!({})).await;
    call(&app, &app.live_key, &id, json!({"body": "hi"})).await;
    assert_eq!(&up.last().body[..], br#""hi""#);
}

#[suite_test]
async fn upstream_answers_come_back_faithfully() {
    let app = spawn_app().await;
    let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff];
    let png_for_server = png.clone();
    let up = Upstream::start(move |seen| match seen.path.as_str() {
        "/json" => raw(
            201,
            &[("content-type", "application/json"), ("x-upstream", "yes")],
            r#"{"ok":true,"n":[1,2]}"#,
        ),
        "/text" => raw(200, &[("content-type", "text/plain")], "plain text ✓"),
        "/binary" => raw(
            200,
            &[("content-type", "image/png")],
            png_for_server.clone(),
        ),
        "/empty" => raw(200, &[], ""),
        "/nocontent" => raw(204, &[], ""),
        "/broken-json" => raw(200, &[("content-type", "application/json")], "{not json"),
        _ => raw(500, &[("content-type", "text/plain")], "upstream exploded"),
    })
    .await;
    let id = integration(&app, &up.origin, json!({"method": "GET"})).await;
    let answer = |path: &'static str| {
        let (app, id) = (&app, id.clone());
        async move {
            let (status, body) = call(app, &app.live_key, &id, json!({"path": path})).await;
            assert_eq!(status, 200, "{path}: {body}");
            body["data"].clone()
        }
    };
    let json_answer = answer("/json").await;
    assert_eq!(json_answer["status"], 201);
    assert_eq!(json_answer["body"], json!({"ok": true, "n": [1, 2]}));
    assert_eq!(json_answer["bodyEncoding"], "json");
    assert_eq!(json_answer["headers"]["x-upstream"], "yes");
    assert_eq!(json_answer["truncated"], false);
    assert!(json_answer["id"].as_str().unwrap().starts_with("call_"));
    assert!(json_answer["durationMs"].is_u64());
    for hop in ["connection", "transfer-encoding", "keep-alive"] {
        assert!(json_answer["headers"].get(hop).is_none(), "{json_answer}");
    }

    let text = answer("/text").await;
    assert_eq!(
        (text["body"].clone(), text["bodyEncoding"].clone()),
        (json!("plain text ✓"), json!("text"))
    );
    let binary = answer("/binary").await;
    assert_eq!(binary["bodyEncoding"], "base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(binary["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, png);
    let empty = answer("/empty").await;
    assert_eq!(
        (empty["status"].clone(), empty["body"].clone()),
        (json!(200), json!(""))
    );
    let no_content = answer("/nocontent").await;
    assert_eq!(
        (no_content["status"].clone(), no_content["body"].clone()),
        (json!(204), json!(""))
    );
    let broken = answer("/broken-json").await;
    assert_eq!(
        (broken["body"].clone(), broken["bodyEncoding"].clone()),
        (json!("{not json"), json!("text"))
    );
    let failed = answer("/fail").await;
    assert_eq!(failed["status"], 500);
    assert_eq!(failed["body"], "upstream exploded");
}

#[suite_test]
async fn bodies_over_1_mib_are_cut_and_endless_streams_end() {
    let app = spawn_app().await;
    let up = Upstream::start(|seen| match seen.path.as_str() {
        "/big" => raw(
            200,
            &[("content-type", "text/plain")],
            "a".repeat(1024 * 1024 + 4096),
        ),
        _ => {
            let chunks = stream::repeat_with(|| Ok::<_, std::io::Error>(vec![b'z'; 64 * 1024]));
            raw(
                200,
                &[("content-type", "application/json")],
                Body::from_stream(chunks),
            )
        }
    })
    .await;
    let id = integration(&app, &up.origin, json!({"timeoutMs": 20000})).await;
    let (status, body) = call(&app, &app.live_key, &id, json!({"path": "/big"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["truncated"], true);
    assert_eq!(body["data"]["body"].as_str().unwrap().len(), 1024 * 1024);

    let started = Instant::now();
    let (status, body) = call(&app, &app.live_key, &id, json!({"path": "/forever"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["truncated"], true);
    assert_eq!(body["data"]["bodyEncoding"], "text");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[suite_test]
async fn a_large_answer_with_an_idempotency_key_is_answered_and_replayed_without_a_second_call() {
    let app = spawn_app().await;
    // Binary, so the answer is base64: about 1.4 MiB of JSON for a 1 MiB upstream body.
    let up = Upstream::start(|_| {
        raw(
            200,
            &[("content-type", "application/octet-stream")],
            vec![0xffu8; 1024 * 1024],
        )
    })
    .await;
    let id = integration(&app, &up.origin, json!({})).await;
    let send = || {
        app.req(
            reqwest::Method::POST,
            &format!("/v1/integrations/{id}/calls"),
        )
        .header("Idempotency-Key", "big-answer-1")
        .json(&json!({}))
        .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first_body = first.text().await.unwrap();
    assert!(first_body.len() > 1024 * 1024, "{}", first_body.len());
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(
        up.seen().len(),
        1,
        "the replay must not call the upstream again"
    );
}

#[suite_test]
async fn a_silent_upstream_times_out_with_504_and_a_closed_port_is_502() {
    let app = spawn_app().await;
    let silent = upstream::silent().await;
    let id = integration(&app, &silent, json!({"timeoutMs": 300})).await;
    let started = Instant::now();
    let (status, body) = call(&app, &app.live_key, &id, json!({"body": {"x": 1}})).await;
    let elapsed = started.elapsed();
    assert_error(status, &body, 504, "upstream_timeout", None);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2300), "{elapsed:?}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("300 ms"));

    let closed = upstream::closed().await;
    let id = integration(&app, &closed, json!({})).await;
    let (status, body) = call(&app, &app.live_key, &id, json!({})).await;
    assert_error(status, &body, 502, "upstream_error", None);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("connection refused"), "{message}");
}

/// The key id of the default workspace's live key.
async fn live_key_id(app: &TestApp) -> String {
    let keys = hookd::admin::list_keys(&app.store, Some(hookd::admin::DEFAULT_WORKSPACE))
        .await
        .unwrap();
    keys.iter()
        .find(|k| app.live_key.ends_with(&k.last4) && k.mode == hookd::domain::tenant::Mode::Live)
        .unwrap()
        .id
        .to_string()
}

#[suite_test]
async fn every_call_is_logged_with_its_outcome_and_without_secrets() {
    let app = spawn_app().await;
    let up = Upstream::json(202, json!({"queued": "job_77"})).await;
    let id = integration(
        &app,
        &up.url("/hooks"),
        json!({"auth": {"type": "bearer", "token": TOKEN},
               "headers": {"X-Secret-Header": "hdr_value_SECRET_9876"}}),
    )
    .await;
    call(
        &app,
        &app.live_key,
        &id,
        json!({"path": "/one", "body": {"report": "daily"}}),
    )
    .await;
    let (status, _) = call(&app, &app.live_key, &id, json!({"path": "../x"})).await;
    assert_eq!(status, 400, "rejected input is not a call");
    app.patch_json(
        &app.live_key,
        &format!("/v1/integrations/{id}"),
        &json!({"url": upstream::closed().await}),
    )
    .await;
    let (status, _) = call(&app, &app.live_key, &id, json!({})).await;
    assert_eq!(status, 502);

    let (status, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(status, 200, "{log}");
    let text = log.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains("hdr_value_SECRET_9876"),
        "{text}"
    );
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    let (failed, ok) = (&entries[0], &entries[1]);
    let key_id = live_key_id(&app).await;

    assert_eq!(ok["status"], 202);
    assert_eq!(ok["method"], "POST");
    assert_eq!(ok["url"], up.url("/hooks/one"));
    assert_eq!(ok["requestBody"], r#"{"report":"daily"}"#);
    assert_eq!(ok["responseBody"], r#"{"queued":"job_77"}"#);
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["apiKeyId"], key_id);
    assert_eq!(ok["integrationId"], id);
    assert!(ok["durationMs"].is_i64() || ok["durationMs"].is_u64());

    assert_eq!(failed["status"], Value::Null);
    assert_eq!(failed["errorCode"], "upstream_error");
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    assert_eq!(failed["apiKeyId"], key_id);

    let (_, page) = app
        .get_json(
            &app.live_key,
            &format!("/v1/integrations/{id}/calls?limit=1"),
        )
        .await;
    assert_eq!(page["hasMore"], true);
    assert_eq!(page["data"][0]["id"], failed["id"]);
}

#[suite_test]
async fn oversized_call_bodies_are_413() {
    let app = spawn_app().await;
    let up = Upstream::echo().await;
    let id = integration(&app, &up.origin, json!({})).await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let (status, body) = call(&app, &app.live_key, &id, json!({"body": huge})).await;
    assert_error(status, &body, 413, "payload_too_large", None);
    assert_eq!(up.count(), 0);
}

#[suite_test]
async fn the_openapi_document_covers_the_integration_routes() {
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
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/v1/integrations", &["get", "post"][..]),
        ("/v1/integrations/{id}", &["get", "patch", "delete"][..]),
        ("/v1/integrations/{id}/calls", &["get", "post"][..]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "Integration",
        "CallResult",
        "IntegrationCall",
        "AuthInput",
        "AuthView",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema} is missing");
    }
}
