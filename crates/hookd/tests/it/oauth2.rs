//! OAuth2 client credentials end to end, for webhook endpoints and integrations: a real local
//! token server (counting its hits) and real receivers/upstreams. One token fetch serves many
//! requests; a token is refreshed after it expires and after a 401; token-endpoint failures are
//! recorded on the attempt or call and retried; bad configuration is a 400 naming the field; the
//! client secret never appears in an answer after create or in the database in plaintext.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::delivery::{
    create_endpoint_json, delivery, only_delivery, publish, wait_delivery, WAIT,
};
use crate::harness::*;
use crate::integrations::{call, create};
use crate::upstream::{self, raw, Seen, Upstream};

const SECRET: &str = "cs_Zq8WvN3pL6tR9yK2mB5x";
const CLIENT_ID: &str = "hookd-client";

/// A token server issuing `tok-1`, `tok-2`, … (one per request), each with `expires_in`.
async fn token_server(expires_in: Option<u64>) -> Upstream {
    let issued = Arc::new(AtomicUsize::new(0));
    Upstream::start(move |_| {
        let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body = json!({"access_token": format!("tok-{n}"), "token_type": "Bearer"});
        if let Some(seconds) = expires_in {
            body["expires_in"] = json!(seconds);
        }
        axum::Json(body).into_response()
    })
    .await
}

/// The auth object pointing at `tokens`.
fn oauth(tokens: &Upstream) -> Value {
    json!({"type": "oauth2_client_credentials", "tokenUrl": tokens.url("/oauth/token"),
           "clientId": CLIENT_ID, "clientSecret": SECRET, "scope": "webhooks:write",
           "audience": "https://receiver.example"})
}

fn endpoint_body(receiver: &Upstream, auth: Value) -> Value {
    json!({"name": "crm", "url": receiver.url("/hook"), "events": ["post.created"], "auth": auth})
}

fn bearer(seen: &Seen) -> Option<&str> {
    seen.header("authorization")
}

/// The token request is RFC 6749 §4.4: a form POST with the client's Basic credentials.
fn assert_token_request(seen: &Seen) {
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/oauth/token");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&seen.body)
        .into_owned()
        .collect();
    assert_eq!(
        form,
        [
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("scope".to_string(), "webhooks:write".to_string()),
            (
                "audience".to_string(),
                "https://receiver.example".to_string()
            ),
        ]
    );
    let basic = seen.header("authorization").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, format!("{CLIENT_ID}:{SECRET}").as_bytes());
}

#[suite_test]
async fn deliveries_carry_a_bearer_token_fetched_once_for_many() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    let receiver = Upstream::json(200, json!({"ok": true})).await;
    let created = create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;
    assert_eq!(
        created["auth"],
        json!({"type": "oauth2_client_credentials", "tokenUrl": tokens.url("/oauth/token"),
               "clientId": CLIENT_ID, "clientSecretLast4": "mB5x", "scope": "webhooks:write",
               "audience": "https://receiver.example"})
    );
    assert!(!created.to_string().contains(SECRET));
    let signing_secret = created["secret"].as_str().unwrap().to_string();

    let publishes = (0..20).map(|n| {
        let app = &app;
        async move {
            publish(
                app,
                &app.live_key,
                &json!({"type": "post.created", "data": {"n": n}}),
            )
            .await
        }
    });
    futures_util::future::join_all(publishes).await;
    eventually(WAIT, || async { (receiver.count() >= 20).then_some(()) }).await;

    let received = receiver.seen();
    assert_eq!(received.len(), 20);
    for seen in &received {
        assert_eq!(bearer(seen), Some("Bearer tok-1"));
        // The Standard Webhooks signature is still there, beside the token.
        standardwebhooks::Webhook::new(&signing_secret)
            .unwrap()
            .verify(&seen.body, &seen.headers)
            .unwrap();
    }
    assert_eq!(tokens.count(), 1, "one token fetch for 20 deliveries");
    assert_token_request(&tokens.last());
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"hookd_oauth2_token_requests_total{outcome="fetched"}"#),
        "{metrics}"
    );
}

#[suite_test]
async fn a_401_from_the_receiver_refreshes_the_token_once_and_retries() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    // The receiver revoked tok-1 and accepts anything newer.
    let receiver = Upstream::start(|seen| {
        let status = if bearer(seen) == Some("Bearer tok-1") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        status.into_response()
    })
    .await;
    create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;

    let event = publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_delivery(&app, &id, "succeeded", |d| d["status"] == "succeeded").await;
    // One attempt: the 401 and the retry with a fresh token are one exchange.
    assert_eq!(done["attemptCount"], 1, "{done:#}");
    assert_eq!(done["attempts"][0]["statusCode"], 200);
    let tokens_seen: Vec<_> = receiver
        .seen()
        .iter()
        .map(|s| bearer(s).unwrap().to_string())
        .collect();
    assert_eq!(tokens_seen, ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(tokens.count(), 2);

    // The fresh token is kept for the next delivery.
    publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    eventually(WAIT, || async { (receiver.count() == 3).then_some(()) }).await;
    assert_eq!(bearer(&receiver.last()), Some("Bearer tok-2"));
    assert_eq!(tokens.count(), 2);
}

#[suite_test]
async fn deliveries_refresh_the_token_after_it_expires() {
    let app = spawn_app().await;
    // Two seconds of lifetime: kept for one, then refreshed.
    let tokens = token_server(Some(2)).await;
    let receiver = Upstream::json(200, json!({})).await;
    create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;
    // One delivery at a time until one carries the second token.
    let delivered = eventually(WAIT, || async {
        let sent = receiver.count();
        publish(
            &app,
            &app.live_key,
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
        eventually(WAIT, || async {
            (receiver.count() == sent + 1).then_some(())
        })
        .await;
        (bearer(&receiver.last()) == Some("Bearer tok-2")).then(|| receiver.count())
    })
    .await;
    let used: Vec<_> = receiver
        .seen()
        .iter()
        .map(|s| bearer(s).unwrap().to_string())
        .collect();
    assert!(delivered >= 2, "{used:?}");
    assert!(
        used[..delivered - 1].iter().all(|t| t == "Bearer tok-1"),
        "{used:?}"
    );
    assert_eq!(tokens.count(), 2, "one fetch per token lifetime");
}

#[suite_test]
async fn token_endpoint_failures_are_recorded_retried_and_hold_back_no_other_endpoint() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![1; 10]).await;
    let healthy = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&healthy);
    let tokens = Upstream::start(move |_| {
        if switch.load(Ordering::SeqCst) {
            axum::Json(json!({"access_token": "tok-ok", "token_type": "bearer"})).into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client",
                                  "error_description": "Client authentication failed"})),
            )
                .into_response()
        }
    })
    .await;
    let with_oauth = Upstream::json(200, json!({})).await;
    let plain = Upstream::json(200, json!({})).await;
    let guarded = create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&with_oauth, oauth(&tokens)),
    )
    .await;
    create_endpoint_json(
        &app,
        &app.live_key,
        json!({"name": "plain", "url": plain.url("/hook"), "events": ["post.created"]}),
    )
    .await;

    let event = publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    // The endpoint without OAuth2 gets its delivery at once, without a token.
    eventually(WAIT, || async { (plain.count() == 1).then_some(()) }).await;
    assert_eq!(bearer(&plain.last()), None);

    let deliveries =
        crate::delivery::deliveries_of_event(&app, &app.live_key, event["id"].as_str().unwrap())
            .await;
    let failing = deliveries
        .iter()
        .find(|d| d["endpointId"] == guarded["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = wait_delivery(&app, &failing, "attempted", |d| d["attemptCount"] == 1).await;
    let attempt = &failed["attempts"][0];
    assert_eq!(attempt["statusCode"], Value::Null);
    let error = attempt["error"].as_str().unwrap();
    for part in [
        "401",
        "invalid_client",
        "Client authentication failed",
        "/oauth/token",
    ] {
        assert!(error.contains(part), "{error}");
    }
    assert_eq!(failed["status"], "pending", "a failed attempt, retried");
    assert!(!failed.to_string().contains(SECRET));
    assert_eq!(with_oauth.count(), 0, "nothing sent without a token");

    // The token server recovers: the retry delivers, nothing lost.
    healthy.store(true, Ordering::SeqCst);
    let done = wait_delivery(&app, &failing, "succeeded", |d| d["status"] == "succeeded").await;
    assert!(done["attemptCount"].as_i64().unwrap() >= 2);
    assert_eq!(with_oauth.count(), 1);
    assert_eq!(bearer(&with_oauth.last()), Some("Bearer tok-ok"));
}

#[suite_test]
async fn a_token_server_answering_garbage_makes_a_failed_attempt_that_says_why() {
    let app = spawn_app().await;
    let tokens = Upstream::start(|_| raw(200, &[("content-type", "text/html")], "<html>hi")).await;
    let receiver = Upstream::json(200, json!({})).await;
    create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;
    let event = publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = wait_delivery(&app, &id, "attempted", |d| d["attemptCount"] == 1).await;
    let error = failed["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("not a JSON object"), "{error}");
    assert_eq!(receiver.count(), 0);
}

#[suite_test]
async fn the_test_route_sends_the_token_too() {
    let app = spawn_app().await;
    let tokens = token_server(None).await;
    let receiver = Upstream::json(200, json!({})).await;
    let created = create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!(
                "/v1/webhook-endpoints/{}/test",
                created["id"].as_str().unwrap()
            ),
            &json!({"event": "post.created"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["statusCode"], 200);
    assert_eq!(bearer(&receiver.last()), Some("Bearer tok-1"));
}

#[suite_test]
async fn patch_replaces_or_removes_the_auth() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    let receiver = Upstream::json(200, json!({})).await;
    let created = create_endpoint_json(
        &app,
        &app.live_key,
        json!({"name": "crm", "url": receiver.url("/hook"), "events": ["post.created"]}),
    )
    .await;
    assert!(
        created.get("auth").is_none(),
        "no auth, no field: {created}"
    );
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"auth": oauth(&tokens)}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["auth"]["clientSecretLast4"], "mB5x");
    assert!(!body.to_string().contains(SECRET));
    publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    eventually(WAIT, || async { (receiver.count() == 1).then_some(()) }).await;
    assert_eq!(bearer(&receiver.last()), Some("Bearer tok-1"));

    // A PATCH of another field keeps the auth.
    let (_, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "renamed"}))
        .await;
    assert_eq!(body["data"]["auth"]["type"], "oauth2_client_credentials");

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"auth": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].get("auth").is_none(), "{body}");
    publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    eventually(WAIT, || async { (receiver.count() == 2).then_some(()) }).await;
    assert_eq!(bearer(&receiver.last()), None);
}

#[suite_test]
async fn integration_calls_refresh_the_token_after_it_expires() {
    let app = spawn_app().await;
    // Two seconds of lifetime: used for one, then refreshed.
    let tokens = token_server(Some(2)).await;
    let upstream = Upstream::echo().await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "reports", "url": upstream.url("/v1"), "auth": oauth(&tokens)}),
    )
    .await;
    assert_eq!(integration["auth"]["type"], "oauth2_client_credentials");
    assert_eq!(integration["auth"]["clientSecretLast4"], "mB5x");
    assert!(!integration.to_string().contains(SECRET));
    let id = integration["id"].as_str().unwrap().to_string();

    let (status, body) = call(&app, &app.live_key, &id, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bearer(&upstream.last()), Some("Bearer tok-1"));
    assert_token_request(&tokens.last());

    // Call until the token was replaced: every call before used tok-1, one fetch served them.
    let calls = eventually(WAIT, || async {
        let (status, _) = call(&app, &app.live_key, &id, json!({})).await;
        assert_eq!(status, 200);
        (bearer(&upstream.last()) == Some("Bearer tok-2")).then(|| upstream.count())
    })
    .await;
    assert!(calls >= 3, "tok-1 served several calls before expiring");
    let used: Vec<_> = upstream
        .seen()
        .iter()
        .map(|s| bearer(s).unwrap().to_string())
        .collect();
    assert!(
        used[..calls - 1].iter().all(|t| t == "Bearer tok-1"),
        "{used:?}"
    );
    assert_eq!(tokens.count(), 2);
}

#[suite_test]
async fn an_integration_upstream_answering_401_gets_one_retry_with_a_fresh_token() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    let upstream = Upstream::json(401, json!({"error": "nope"})).await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "strict", "url": upstream.url("/v1"), "auth": oauth(&tokens)}),
    )
    .await;
    let id = integration["id"].as_str().unwrap();
    let (status, body) = call(&app, &app.live_key, id, json!({})).await;
    // The upstream's answer is data: 200 carrying its 401, after exactly one retry.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], 401);
    let used: Vec<_> = upstream
        .seen()
        .iter()
        .map(|s| bearer(s).unwrap().to_string())
        .collect();
    assert_eq!(used, ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(tokens.count(), 2);
    let (_, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log["data"][0]["status"], 401);
}

#[suite_test]
async fn integration_token_failures_are_upstream_errors_in_the_call_log() {
    let app = spawn_app().await;
    let upstream = Upstream::echo().await;
    let refusing = Upstream::json(
        400,
        json!({"error": "invalid_scope", "error_description": "webhooks:write is unknown"}),
    )
    .await;
    let hanging = upstream::silent().await;
    let cases = [
        (
            refusing.url("/oauth/token"),
            502,
            "upstream_error",
            "invalid_scope: webhooks:write is unknown",
        ),
        (
            format!("{hanging}/oauth/token"),
            504,
            "upstream_timeout",
            "timed out",
        ),
        (
            format!("{}/oauth/token", upstream::closed().await),
            502,
            "upstream_error",
            "connection refused",
        ),
    ];
    for (n, (token_url, code, error_code, detail)) in cases.into_iter().enumerate() {
        let mut auth = oauth(&refusing);
        auth["tokenUrl"] = json!(token_url);
        let integration = create(
            &app,
            &app.live_key,
            json!({"name": format!("i{n}"), "url": upstream.url("/v1"), "auth": auth,
                   "timeoutMs": 1000}),
        )
        .await;
        let id = integration["id"].as_str().unwrap();
        let (status, body) = call(&app, &app.live_key, id, json!({})).await;
        assert_error(status, &body, code, error_code, None);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(detail) && message.contains("token"),
            "{message}"
        );
        assert!(!body.to_string().contains(SECRET));
        let (_, log) = app
            .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
            .await;
        let entry = &log["data"][0];
        assert_eq!(entry["errorCode"], error_code, "{log}");
        assert!(entry["error"].as_str().unwrap().contains(detail), "{log}");
        assert!(!log.to_string().contains(SECRET));
    }
    assert_eq!(upstream.count(), 0, "no call went out without a token");
}

#[suite_test]
async fn bad_configuration_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let valid = json!({"type": "oauth2_client_credentials", "tokenUrl": "https://127.0.0.1:9/token",
                       "clientId": CLIENT_ID, "clientSecret": SECRET});
    let with = |field: &str, value: Value| {
        let mut auth = valid.clone();
        if value.is_null() {
            auth.as_object_mut().unwrap().remove(field);
        } else {
            auth[field] = value;
        }
        auth
    };
    let cases = [
        (
            with("tokenUrl", json!("not a url")),
            400,
            "invalid_request",
            "auth.tokenUrl",
        ),
        (
            with("tokenUrl", json!("ftp://auth.example.com/t")),
            400,
            "invalid_request",
            "auth.tokenUrl",
        ),
        (
            with(
                "tokenUrl",
                json!(format!("https://a.example.com/{}", "x".repeat(1100))),
            ),
            400,
            "invalid_request",
            "auth.tokenUrl",
        ),
        (
            with("tokenUrl", json!("https://10.1.2.3/token")),
            400,
            "url_not_allowed",
            "auth.tokenUrl",
        ),
        (
            with("tokenUrl", json!("https://169.254.169.254/token")),
            400,
            "url_not_allowed",
            "auth.tokenUrl",
        ),
        (
            with("tokenUrl", Value::Null),
            400,
            "invalid_request",
            "auth.tokenUrl",
        ),
        (
            with("clientId", Value::Null),
            400,
            "invalid_request",
            "auth.clientId",
        ),
        (
            with("clientId", json!("")),
            400,
            "invalid_request",
            "auth.clientId",
        ),
        (
            with("clientId", json!("x".repeat(2000))),
            400,
            "invalid_request",
            "auth.clientId",
        ),
        (
            with("clientSecret", json!("")),
            400,
            "invalid_request",
            "auth.clientSecret",
        ),
        (
            with("clientSecret", Value::Null),
            400,
            "invalid_request",
            "auth.clientSecret",
        ),
        (
            with("clientSecret", json!("s".repeat(5000))),
            400,
            "invalid_request",
            "auth.clientSecret",
        ),
        (
            with("clientSecret", json!(12345678)),
            400,
            "invalid_request",
            "auth.clientSecret",
        ),
        (
            with("scope", json!("a\"b")),
            400,
            "invalid_request",
            "auth.scope",
        ),
        (
            with("audience", json!("x".repeat(2000))),
            400,
            "invalid_request",
            "auth.audience",
        ),
        (
            with("extra", json!(true)),
            400,
            "invalid_request",
            "auth.extra",
        ),
    ];
    for (auth, code, error_code, param) in cases {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/webhook-endpoints",
                &json!({"name": "e", "url": "https://127.0.0.1:9/hook", "events": ["post.created"],
                        "auth": auth}),
            )
            .await;
        assert_error(status, &body, code, error_code, Some(param));
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/integrations",
                &json!({"name": "i", "url": "https://127.0.0.1:9/", "auth": auth}),
            )
            .await;
        assert_error(status, &body, code, error_code, Some(param));
    }
    // Endpoints take only OAuth2 client credentials.
    for (auth, param) in [
        (json!({"type": "bearer", "token": "t"}), "auth.type"),
        (json!({"clientId": "x"}), "auth.type"),
        (json!("oauth2"), "auth"),
    ] {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/webhook-endpoints",
                &json!({"name": "e", "url": "https://127.0.0.1:9/hook", "events": ["post.created"],
                        "auth": auth}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
    // Nothing was created by any of them.
    let (_, list) = app.get_json(&app.live_key, "/v1/webhook-endpoints").await;
    assert_eq!(list["data"], json!([]));
    // PATCH checks the same way, and a refused PATCH changes nothing.
    let endpoint = crate::delivery::create_endpoint_json(
        &app,
        &app.live_key,
        json!({"name": "e", "url": "https://127.0.0.1:9/hook", "events": ["post.created"],
                "auth": valid}),
    )
    .await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "i", "url": "https://127.0.0.1:9/", "auth": valid}),
    )
    .await;
    for path in [
        format!("/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap()),
        format!("/v1/integrations/{}", integration["id"].as_str().unwrap()),
    ] {
        for (auth, code, error_code, param) in [
            (
                with("tokenUrl", json!("https://10.9.8.7/token")),
                400,
                "url_not_allowed",
                "auth.tokenUrl",
            ),
            (
                with("clientSecret", json!("")),
                400,
                "invalid_request",
                "auth.clientSecret",
            ),
        ] {
            let (status, body) = app
                .patch_json(&app.live_key, &path, &json!({"auth": auth}))
                .await;
            assert_error(status, &body, code, error_code, Some(param));
        }
        let (_, unchanged) = app.get_json(&app.live_key, &path).await;
        assert_eq!(
            unchanged["data"]["auth"]["tokenUrl"],
            "https://127.0.0.1:9/token"
        );
    }
}

#[suite_test]
async fn plain_http_token_urls_follow_the_egress_policy() {
    let app = spawn_app_with(|c| c.egress_allow_http = false).await;
    let auth = json!({"type": "oauth2_client_credentials", "tokenUrl": "http://127.0.0.1:9/token",
                      "clientId": CLIENT_ID, "clientSecret": SECRET});
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &json!({"name": "e", "url": "https://127.0.0.1:9/hook", "events": ["post.created"],
                    "auth": auth}),
        )
        .await;
    assert_error(status, &body, 400, "url_not_allowed", Some("auth.tokenUrl"));
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &json!({"name": "i", "url": "https://127.0.0.1:9/", "auth": auth}),
        )
        .await;
    assert_error(status, &body, 400, "url_not_allowed", Some("auth.tokenUrl"));
}

#[suite_test]
async fn the_client_secret_is_write_only_and_sealed_at_rest() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    let receiver = Upstream::json(200, json!({})).await;
    let endpoint = create_endpoint_json(
        &app,
        &app.live_key,
        endpoint_body(&receiver, oauth(&tokens)),
    )
    .await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "reports", "url": receiver.url("/v1"), "auth": oauth(&tokens)}),
    )
    .await;
    let endpoint_path = format!("/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap());
    let integration_path = format!("/v1/integrations/{}", integration["id"].as_str().unwrap());
    let mut answers = vec![endpoint.clone(), integration.clone()];
    for path in [
        endpoint_path.as_str(),
        "/v1/webhook-endpoints",
        integration_path.as_str(),
        "/v1/integrations",
    ] {
        let (status, body) = app.get_json(&app.live_key, path).await;
        assert_eq!(status, 200);
        answers.push(body);
    }
    let (_, patched) = app
        .patch_json(
            &app.live_key,
            &integration_path,
            &json!({"timeoutMs": 5000}),
        )
        .await;
    answers.push(patched);
    // Used once, so the secret went through a token request too.
    publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    eventually(WAIT, || async { (receiver.count() == 1).then_some(()) }).await;
    let (status, _) = call(
        &app,
        &app.live_key,
        integration["id"].as_str().unwrap(),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    for answer in &answers {
        assert!(!answer.to_string().contains(SECRET), "{answer}");
    }
    let dump = app.raw_database_dump().await;
    assert!(
        !dump.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the client secret is in the database in plaintext"
    );
    // The delivery's attempt shows no secret either.
    let (_, events) = app.get_json(&app.live_key, "/v1/events").await;
    let event_id = events["data"][0]["id"].as_str().unwrap();
    let one = only_delivery(&app, event_id).await;
    let detail = delivery(&app, one["id"].as_str().unwrap()).await;
    assert!(!detail.to_string().contains(SECRET));
}

#[suite_test]
async fn the_openapi_document_describes_the_auth() {
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
    for (schema, field) in [
        ("CreateEndpoint", "auth"),
        ("UpdateEndpoint", "auth"),
        ("Endpoint", "auth"),
        ("ClientCredentialsInput", "clientSecret"),
        ("ClientCredentialsInput", "tokenUrl"),
        ("ClientCredentialsView", "clientSecretLast4"),
    ] {
        assert!(
            schemas[schema]["properties"].get(field).is_some(),
            "{schema}.{field} missing: {:#}",
            schemas[schema]
        );
    }
    assert!(schemas["ClientCredentialsView"]["properties"]
        .get("clientSecret")
        .is_none());
    for schema in ["AuthInput", "AuthView", "EndpointAuth", "EndpointAuthInput"] {
        assert!(
            schemas[schema]
                .to_string()
                .contains("oauth2_client_credentials"),
            "{schema}: {:#}",
            schemas[schema]
        );
    }
}

#[suite_test]
async fn the_cli_sets_shows_and_removes_an_endpoints_auth() {
    let app = spawn_app().await;
    let tokens = token_server(Some(3600)).await;
    let receiver = Upstream::json(200, json!({})).await;
    let key = Some(app.live_key.as_str());
    // The secret comes from the environment, not the command line.
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::cli_support::command(dir.path());
    command
        .args([
            "endpoints",
            "create",
            "--json",
            "--name",
            "cli",
            "--url",
            &receiver.url("/hook"),
            "--event",
            "post.created",
            "--oauth2-token-url",
            &tokens.url("/oauth/token"),
            "--oauth2-client-id",
            CLIENT_ID,
            "--oauth2-scope",
            "webhooks:write",
            "--oauth2-audience",
            "https://receiver.example",
        ])
        .env("HOOKD_API_URL", &app.base_url)
        .env("HOOKD_API_KEY", &app.live_key)
        .env("HOOKD_OAUTH2_CLIENT_SECRET", SECRET);
    let run = crate::cli_support::finish(command).await;
    let created = run.json();
    assert_eq!(created["auth"]["clientSecretLast4"], "mB5x", "{created}");
    assert!(!run.stdout.contains(SECRET));
    let id = created["id"].as_str().unwrap().to_string();

    publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "data": {}}),
    )
    .await;
    eventually(WAIT, || async { (receiver.count() == 1).then_some(()) }).await;
    assert_eq!(bearer(&receiver.last()), Some("Bearer tok-1"));
    assert_token_request(&tokens.last());

    let shown = crate::cli_support::api(&app, key, &["endpoints", "get", &id]).await;
    let out = shown.ok();
    assert!(
        out.contains("oauth2_client_credentials") && out.contains("…mB5x"),
        "{out}"
    );
    assert!(!out.contains(SECRET));

    crate::cli_support::api(&app, key, &["endpoints", "update", &id, "--no-auth"])
        .await
        .ok();
    let (_, fetched) = app
        .get_json(&app.live_key, &format!("/v1/webhook-endpoints/{id}"))
        .await;
    assert!(fetched["data"].get("auth").is_none(), "{fetched}");

    crate::cli_support::api(
        &app,
        key,
        &["endpoints", "update", &id, "--oauth2-client-id", "x"],
    )
    .await
    .fails(2, "--oauth2-token-url");
    // A token URL without a client id or secret is a usage error, caught before sending.
    crate::cli_support::api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            &id,
            "--oauth2-token-url",
            &tokens.url("/oauth/token"),
            "--oauth2-client-id",
            "x",
        ],
    )
    .await
    .fails(2, "--oauth2-client-id and the client secret");
    // A bad field is the API's 400, naming it.
    crate::cli_support::api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            &id,
            "--oauth2-token-url",
            "not a url",
            "--oauth2-client-id",
            "x",
            "--oauth2-client-secret",
            "a-client-secret",
        ],
    )
    .await
    .fails(1, "auth.tokenUrl");
}
