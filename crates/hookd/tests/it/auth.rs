//! API keys and rate limits: every way to present a wrong key is a 401 `unauthorized`, a revoked
//! key stops working on the very next request, and each key has its own rate limit. Two
//! `Authorization` headers are a 400 whatever they hold.

use hookd::admin;
use hookd::domain::tenant::Mode;
use reqwest::Method;

use crate::fixtures::*;
use crate::harness::*;

async fn with_authorization(
    app: &TestApp,
    value: Option<&str>,
) -> (axum::http::StatusCode, serde_json::Value) {
    let mut request = app.client.get(app.url(ENDPOINTS));
    if let Some(value) = value {
        request = request.header("authorization", value);
    }
    into_parts(request.send().await.unwrap()).await
}

#[suite_test]
async fn missing_malformed_and_unknown_keys_are_401() {
    let app = spawn_app().await;
    let unknown_live = format!("scripe_sk_live_{}", "a".repeat(40));
    let unknown_test = format!("scripe_sk_test_{}", "Z9".repeat(20));
    let lowercase_scheme = format!("bearer {}", app.live_key);
    let cases = [
        None,
        Some("".to_string()),
        Some("Bearer".to_string()),
        Some("Bearer ".to_string()),
        Some(format!("Basic {}", "dXNlcjpwYXNz")),
        Some(format!("Basic {}", app.live_key)),
        Some(format!("Token {}", app.live_key)),
        Some(app.live_key.clone()),
        Some("Bearer scripe_sk_live_short".to_string()),
        Some("Bearer sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_string()),
        Some(format!("Bearer {}!", app.live_key)),
        Some(format!(
            "Bearer {}",
            &app.live_key[..app.live_key.len() - 1]
        )),
        Some(format!("Bearer {unknown_live}")),
        Some(format!("Bearer {unknown_test}")),
    ];
    for value in &cases {
        let (status, body) = with_authorization(&app, value.as_deref()).await;
        assert_error(status, &body, 401, "unauthorized", None);
        assert_eq!(body["error"]["param"], serde_json::Value::Null);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains(&app.live_key),
            "never echo a key: {message}"
        );
    }
    let (status, body) = with_authorization(&app, Some(&lowercase_scheme)).await;
    assert_eq!(status, 200, "the auth scheme is case-insensitive: {body}");
}

#[suite_test]
async fn writes_without_a_key_change_nothing() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let anonymous = [
        app.client
            .post(app.url(ENDPOINTS))
            .json(&new_endpoint("anon")),
        app.client
            .patch(app.url(&path))
            .json(&serde_json::json!({"name": "anon"})),
        app.client.delete(app.url(&path)),
        app.client.post(app.url(&format!("{path}/rotate-secret"))),
        app.client.get(app.url("/v1/event-types")),
    ];
    for request in anonymous {
        let (status, body) = into_parts(request.send().await.unwrap()).await;
        assert_error(status, &body, 401, "unauthorized", None);
    }
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["name"], created["name"]);
    assert_eq!(read["data"]["secretLast4"], created["secretLast4"]);
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);
}

#[suite_test]
async fn a_revoked_key_is_refused_on_the_very_next_request() {
    let app = spawn_app().await;
    let (status, _) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_eq!(status, 200);

    let keys = admin::list_keys(&app.store, Some(admin::DEFAULT_WORKSPACE))
        .await
        .unwrap();
    let live = keys
        .iter()
        .find(|k| app.live_key.starts_with(&k.prefix) && app.live_key.ends_with(&k.last4))
        .filter(|k| k.mode == hookd::domain::tenant::Mode::Live)
        .expect("the live key is listed");
    assert!(live.revoked_at.is_none());
    admin::revoke_key(&app.store, live.id.as_str())
        .await
        .unwrap();

    let (status, body) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_error(status, &body, 401, "unauthorized", None);
    let (status, body) = app
        .post_json(&app.live_key, ENDPOINTS, &new_endpoint("after revoke"))
        .await;
    assert_error(status, &body, 401, "unauthorized", None);

    let (status, _) = app.get_json(&app.test_key, ENDPOINTS).await;
    assert_eq!(status, 200, "the workspace's other key still works");
    assert_no_endpoints(&app, &app.test_key).await;
    let listed = admin::list_keys(&app.store, None).await.unwrap();
    let revoked = listed.iter().find(|k| k.id == live.id).unwrap();
    assert!(revoked.revoked_at.is_some());
}

/// The server caches authenticated keys; a revocation by the CLI, a separate process, must still
/// take effect on the very next request.
#[suite_test]
async fn a_key_revoked_by_the_cli_process_is_refused_on_the_very_next_request() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let (status, _) = app.get_json(&app.live_key, ENDPOINTS).await;
        assert_eq!(status, 200);
    }
    let keys = admin::list_keys(&app.store, Some(admin::DEFAULT_WORKSPACE))
        .await
        .unwrap();
    let live = keys
        .iter()
        .find(|k| k.mode == hookd::domain::tenant::Mode::Live && app.live_key.ends_with(&k.last4))
        .expect("the live key is listed");
    revoke_with_the_cli(&app, live.id.as_str());

    let (status, body) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_error(status, &body, 401, "unauthorized", None);
    let (status, _) = app.get_json(&app.test_key, ENDPOINTS).await;
    assert_eq!(status, 200, "the workspace's other key still works");
}

/// Two revocations by the CLI in quick succession, the second right after the server cached the
/// key again: each holds from the very next request.
#[suite_test]
async fn two_keys_revoked_by_the_cli_in_quick_succession_are_each_refused_at_once() {
    let app = spawn_app().await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let (record, key) = admin::create_key(&app.store, admin::DEFAULT_WORKSPACE, Mode::Live)
            .await
            .unwrap();
        for _ in 0..2 {
            let (status, _) = app.get_json(&key, ENDPOINTS).await;
            assert_eq!(status, 200);
        }
        keys.push((record, key));
    }
    let [(first, first_key), (second, second_key)] = &keys[..] else {
        unreachable!()
    };

    revoke_with_the_cli(&app, first.id.as_str());
    let (status, body) = app.get_json(first_key, ENDPOINTS).await;
    assert_error(status, &body, 401, "unauthorized", None);
    let (status, _) = app.get_json(second_key, ENDPOINTS).await;
    assert_eq!(status, 200, "the second key is cached again");

    revoke_with_the_cli(&app, second.id.as_str());
    let (status, body) = app.get_json(second_key, ENDPOINTS).await;
    assert_error(status, &body, 401, "unauthorized", None);
    let (status, _) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_eq!(status, 200, "the workspace's other key still works");
}

/// Runs `hookd keys revoke ID`, a separate process, against the app's database.
fn revoke_with_the_cli(app: &TestApp, id: &str) {
    let master_key = app
        .config
        .master_key
        .as_ref()
        .map(|k| k.0.clone())
        .unwrap_or_default();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(["keys", "revoke", id])
        .current_dir(app.dir.path())
        .env("HOOKD_DATABASE_URL", &app.config.database_url)
        .env("HOOKD_MASTER_KEY", master_key)
        .output()
        .expect("run hookd keys revoke");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[suite_test]
async fn concurrent_requests_each_get_their_own_keys_answer() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(&app.live_key, ENDPOINTS, &new_endpoint("live-only"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (other_live, _) = app.new_workspace("other").await;
    let unknown = format!("scripe_sk_live_{}", "Q".repeat(40));
    // At once, so on PostgreSQL the keys are looked up together (one statement per batch).
    let keys = [&app.live_key, &app.test_key, &unknown, &other_live];
    let answers = futures_util::future::join_all(
        keys.iter()
            .cycle()
            .take(16)
            .map(|key| app.get_json(key, ENDPOINTS)),
    )
    .await;
    for (n, (status, body)) in answers.iter().enumerate() {
        let listed = || body["data"].as_array().map(Vec::len);
        match n % 4 {
            0 => assert_eq!((status.as_u16(), listed()), (200, Some(1)), "{body}"),
            1 | 3 => assert_eq!((status.as_u16(), listed()), (200, Some(0)), "{body}"),
            _ => assert_error(*status, body, 401, "unauthorized", None),
        }
    }
}

#[suite_test]
async fn concurrent_requests_are_admitted_up_to_the_burst_and_no_further() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 5;
    })
    .await;
    // Twelve at once: on PostgreSQL they are admitted together (one batch per key), which must
    // admit the burst and refuse the rest, like one at a time would.
    let answers = futures_util::future::join_all(
        (0..12).map(|_| app.req(Method::GET, "/v1/event-types").send()),
    )
    .await;
    let statuses: Vec<u16> = answers
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted + limited, 12, "{statuses:?}");
    // One more token accrues per second; a slow machine may see it before the last request.
    assert!((5..=6).contains(&admitted), "{statuses:?}");
}

#[suite_test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 2;
    })
    .await;
    for _ in 0..2 {
        let (status, body) = app.get_json(&app.live_key, ENDPOINTS).await;
        assert_eq!(status, 200, "{body}");
    }
    let r = app.req(Method::GET, ENDPOINTS).send().await.unwrap();
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .expect("429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(retry_after >= 1, "{retry_after}");
    assert!(r.headers().get("x-request-id").is_some());
    let (status, body) = into_parts(r).await;
    assert_error(status, &body, 429, "rate_limited", None);

    let (status, body) = app
        .post_json(&app.live_key, ENDPOINTS, &new_endpoint("limited"))
        .await;
    assert_error(status, &body, 429, "rate_limited", None);

    let (status, body) = app.get_json(&app.test_key, ENDPOINTS).await;
    assert_eq!(status, 200, "another key has its own budget: {body}");
    assert_no_endpoints(&app, &app.test_key).await;
    let (b_live, _) = app.new_workspace("b").await;
    let (status, _) = app.get_json(&b_live, ENDPOINTS).await;
    assert_eq!(status, 200);
}

#[suite_test]
async fn two_authorization_headers_are_400_whichever_comes_first() {
    let app = spawn_app().await;
    let live = format!("Bearer {}", app.live_key);
    let test = format!("Bearer {}", app.test_key);
    let unknown = format!("Bearer scripe_sk_live_{}", "a".repeat(40));
    // Which one a proxy or framework honours is a guess; so neither is.
    for (first, second) in [
        (&live, &live),
        (&live, &test),
        (&live, &unknown),
        (&unknown, &live),
    ] {
        let request = app
            .client
            .post(app.url(ENDPOINTS))
            .header("authorization", first)
            .header("authorization", second)
            .json(&new_endpoint("twice"));
        let (status, body) = into_parts(request.send().await.unwrap()).await;
        assert_error(status, &body, 400, "invalid_request", Some("Authorization"));
    }
    assert_no_endpoints(&app, &app.live_key).await;
    assert_no_endpoints(&app, &app.test_key).await;
}
