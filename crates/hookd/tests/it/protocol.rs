//! The common HTTP conventions every answer follows: `X-Request-Id` everywhere, the API version
//! header, the one error shape, JSON 404 and 405 answers, and the operational routes.

use std::collections::HashSet;

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

fn request_id(r: &Response) -> String {
    let id = r
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("{} {} has no X-Request-Id", r.status(), r.url()))
        .to_str()
        .unwrap()
        .to_string();
    assert!(!id.is_empty());
    id
}

/// Asserts the answer is exactly `{"error": {"code", "message", "param"}}`.
async fn error_shape(r: Response, want_status: u16, code: &str) -> Value {
    let (status, body) = into_parts(r).await;
    assert_error(status, &body, want_status, code, None);
    let mut outer: Vec<&String> = body.as_object().unwrap().keys().collect();
    outer.sort_unstable();
    assert_eq!(outer, ["error"], "{body}");
    let mut inner: Vec<&String> = body["error"].as_object().unwrap().keys().collect();
    inner.sort_unstable();
    assert_eq!(inner, ["code", "message", "param"], "{body}");
    body
}

#[suite_test]
async fn every_answer_carries_a_unique_request_id() {
    let app = spawn_app().await;
    let c = &app.client;
    let mut ids = HashSet::new();
    let answers = [
        (c.get(app.url("/healthz")).send().await.unwrap(), 200),
        (c.get(app.url("/readyz")).send().await.unwrap(), 200),
        (c.get(app.url("/metrics")).send().await.unwrap(), 200),
        (c.get(app.url("/openapi.json")).send().await.unwrap(), 200),
        (app.req(Method::GET, ENDPOINTS).send().await.unwrap(), 200),
        (c.get(app.url(ENDPOINTS)).send().await.unwrap(), 401),
        (app.req(Method::GET, "/v1/nope").send().await.unwrap(), 404),
        (c.get(app.url("/no/such/route")).send().await.unwrap(), 404),
        (app.req(Method::PUT, ENDPOINTS).send().await.unwrap(), 405),
        (c.delete(app.url("/healthz")).send().await.unwrap(), 405),
        (
            app.req(Method::POST, ENDPOINTS)
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024])
                .send()
                .await
                .unwrap(),
            413,
        ),
        (
            app.req(Method::POST, ENDPOINTS)
                .header("content-type", "text/plain")
                .body("{}")
                .send()
                .await
                .unwrap(),
            415,
        ),
    ];
    for (r, want) in answers {
        assert_eq!(r.status(), want, "{}", r.url());
        assert!(ids.insert(request_id(&r)), "request ids must be unique");
    }
}

#[suite_test]
async fn errors_have_the_documented_shape() {
    let app = spawn_app().await;
    let body = error_shape(
        app.client.get(app.url(ENDPOINTS)).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(body["error"]["param"], Value::Null);
    let r = app
        .req(Method::POST, ENDPOINTS)
        .json(&json!({"name": "", "url": URL, "events": ["post.created"]}))
        .send()
        .await
        .unwrap();
    let body = error_shape(r, 400, "invalid_request").await;
    assert_eq!(body["error"]["param"], "name");
}

#[suite_test]
async fn unknown_routes_are_json_404_and_wrong_methods_json_405() {
    let app = spawn_app().await;
    for path in [
        "/v1/nope",
        "/v1/webhook-endpoints/x/y/z",
        // `/` is the dashboard; any other unknown path is still the API's JSON 404.
        "/no-such-page",
        "/v2/webhook-endpoints",
    ] {
        let r = app.req(Method::GET, path).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        error_shape(r, 404, "not_found").await;
    }
    let wrong_methods = [
        (Method::PUT, ENDPOINTS.to_string()),
        (Method::DELETE, ENDPOINTS.to_string()),
        (
            Method::POST,
            format!("{ENDPOINTS}/whe_01jc8z6f3v2m9q4w7x5y8z0a1b"),
        ),
        (
            Method::GET,
            format!("{ENDPOINTS}/whe_01jc8z6f3v2m9q4w7x5y8z0a1b/rotate-secret"),
        ),
        (Method::POST, "/v1/event-types".to_string()),
        (Method::POST, "/healthz".to_string()),
        (Method::PUT, "/openapi.json".to_string()),
    ];
    for (method, path) in wrong_methods {
        let r = app.req(method.clone(), &path).send().await.unwrap();
        let allow = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let (status, body) = into_parts(r).await;
        assert_error(status, &body, 405, "method_not_allowed", None);
        assert!(
            allow.is_some_and(|a| !a.is_empty() && !a.contains(method.as_str())),
            "{method} {path}: a 405 names the allowed methods in Allow"
        );
    }
}

#[suite_test]
async fn the_api_version_is_echoed_and_unknown_versions_are_refused() {
    let app = spawn_app().await;
    let r = app.req(Method::GET, ENDPOINTS).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["scripe-api-version"],
        "2026-08-01",
        "default version"
    );

    let r = app
        .req(Method::GET, ENDPOINTS)
        .header("Scripe-Api-Version", "2026-08-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["scripe-api-version"], "2026-08-01");

    let r = app.client.get(app.url(ENDPOINTS)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["scripe-api-version"],
        "2026-08-01",
        "errors too"
    );

    for bad in ["1999-01-01", "garbage", "2026-8-1", "", "2026-08-01x"] {
        let r = app
            .req(Method::POST, ENDPOINTS)
            .header("Scripe-Api-Version", bad)
            .json(&new_endpoint("versioned"))
            .send()
            .await
            .unwrap();
        request_id(&r);
        let (status, body) = into_parts(r).await;
        assert_error(
            status,
            &body,
            400,
            "version_unsupported",
            Some("Scripe-Api-Version"),
        );
    }
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn health_readiness_and_metrics_need_no_key() {
    let app = spawn_app().await;
    let (status, body) =
        into_parts(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
    let (status, body) = into_parts(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ready"}));

    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(text.contains("hookd_deliveries_pending"), "{text}");
    assert!(text.contains("hookd_endpoints_disabled"), "{text}");
}

/// What a client can see of one answer, request id aside (it is unique per request).
async fn visible(r: Response) -> (u16, Option<String>, bool, Value) {
    let status = r.status().as_u16();
    let version = r
        .headers()
        .get("scripe-api-version")
        .map(|v| v.to_str().unwrap().to_string());
    let has_request_id = r.headers().contains_key("x-request-id");
    let (_, mut body) = into_parts(r).await;
    // A stored event's own fields differ between two publishes; its shape must not.
    if status == 202 {
        for field in ["id", "createdAt"] {
            assert!(body["data"][field].is_string(), "{body}");
            body["data"][field] = json!("…");
        }
    }
    (status, version, has_request_id, body)
}

/// A publish answers the same with and without an `Idempotency-Key` (with one, the pipeline's
/// idempotency step claims the key first): every other step is the same for both.
#[suite_test]
async fn a_publish_answers_the_same_with_or_without_an_idempotency_key() {
    let app = spawn_app().await;
    let event = json!({"type": "post.created", "data": {"n": 1}});
    let big = json!({"type": "post.created", "data": {"blob": "x".repeat(2 * 1024 * 1024)}});
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Option<&'a str>, Vec<u8>);
    let json_body = |v: &Value| serde_json::to_vec(v).unwrap();
    let live = format!("Bearer {}", app.live_key);
    let cases: Vec<Case> = vec![
        (
            "valid",
            vec![("authorization", live.clone())],
            Some("application/json"),
            json_body(&event),
        ),
        (
            "named version",
            vec![
                ("authorization", live.clone()),
                ("scripe-api-version", "2026-08-01".into()),
            ],
            Some("application/json"),
            json_body(&event),
        ),
        (
            "unknown version",
            vec![
                ("authorization", live.clone()),
                ("scripe-api-version", "1999-01-01".into()),
            ],
            Some("application/json"),
            json_body(&event),
        ),
        (
            "no key",
            vec![],
            Some("application/json"),
            json_body(&event),
        ),
        (
            "garbage key",
            vec![("authorization", "Bearer scripe_sk_live_nope".into())],
            Some("application/json"),
            json_body(&event),
        ),
        (
            "no content type",
            vec![("authorization", live.clone())],
            None,
            json_body(&event),
        ),
        (
            "text body",
            vec![("authorization", live.clone())],
            Some("text/plain"),
            json_body(&event),
        ),
        (
            "truncated JSON",
            vec![("authorization", live.clone())],
            Some("application/json"),
            b"{\"type\": \"post.created\", \"data\": {".to_vec(),
        ),
        (
            "missing type",
            vec![("authorization", live.clone())],
            Some("application/json"),
            json_body(&json!({"data": {}})),
        ),
        (
            "oversize",
            vec![("authorization", live.clone())],
            Some("application/json"),
            json_body(&big),
        ),
    ];
    let mut stored = 0;
    for (n, (name, headers, content_type, body)) in cases.into_iter().enumerate() {
        let send = |idempotency_key: Option<String>| {
            let mut request = app.client.post(app.url("/v1/events")).body(body.clone());
            for (header, value) in &headers {
                request = request.header(*header, value);
            }
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            request.send()
        };
        let direct = visible(send(None).await.unwrap()).await;
        let routed = visible(send(Some(format!("parity-{n}"))).await.unwrap()).await;
        assert_eq!(direct, routed, "{name}: direct path vs router");
        assert!(direct.2, "{name}: no X-Request-Id");
        assert_eq!(
            direct.1.as_deref(),
            Some("2026-08-01"),
            "{name}: version not echoed"
        );
        if direct.0 == 202 {
            stored += 2;
        }
    }
    assert_eq!(stored, 4, "the two valid cases publish, each twice");
    let (_, events) = app.get_json(&app.live_key, "/v1/events").await;
    assert_eq!(events["data"].as_array().unwrap().len(), stored, "{events}");
}
