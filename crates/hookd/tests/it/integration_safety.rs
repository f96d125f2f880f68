//! The safety properties of integrations: a call's `path` and `query` cannot reach any host or
//! path but the configured one, the egress policy refuses private targets at create and at call
//! time, and credentials never appear in answers or in the database.

use serde_json::{json, Value};

use crate::harness::*;
use crate::integrations::{call, create};
use crate::upstream::Upstream;

#[suite_test]
async fn paths_cannot_escape_the_integration_url() {
    let app = spawn_app().await;
    let intended = Upstream::echo().await;
    let evil = Upstream::echo().await;
    let evil_host = evil.origin.trim_start_matches("http://").to_string();
    let id = create(
        &app,
        &app.live_key,
        json!({"name": "Scoped", "url": intended.url("/api/v1"),
               "auth": {"type": "bearer", "token": "tok_never_leaves_12345"},
               "allowedPathPrefixes": ["/"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let attempts = [
        format!("//{evil_host}/steal"),
        format!("///{evil_host}"),
        format!("@{evil_host}"),
        format!("/@{evil_host}/x"),
        format!("http://{evil_host}/"),
        format!("https://{evil_host}/"),
        format!("x/http:%2F%2F{evil_host}"),
        "../..".to_string(),
        "../../admin".to_string(),
        "a/../../admin".to_string(),
        "%2e%2e/x".to_string(),
        "%2E%2e/%2e%2E/admin".to_string(),
        ".%2e/admin".to_string(),
        "%252e%252e/admin".to_string(),
        "a%2f..%2f..%2fadmin".to_string(),
        format!("\\\\{evil_host}\\x"),
        "a\\..\\..\\admin".to_string(),
        "a\r\nHost: evil".to_string(),
        "a%0d%0aX-Evil:%201".to_string(),
        "a?redirect=//evil".to_string(),
        "a#/../../admin".to_string(),
    ];
    for path in &attempts {
        let (status, body) = call(&app, &app.live_key, &id, json!({"path": path})).await;
        assert_error(status, &body, 400, "invalid_request", Some("path"));
    }
    for query in [json!("a=1#/../x"), json!("a=1\r\nHost: evil"), json!(["x"])] {
        let (status, body) = call(&app, &app.live_key, &id, json!({"query": query})).await;
        assert_error(status, &body, 400, "invalid_request", Some("query"));
    }
    assert_eq!(intended.count(), 0, "a rejected call reached the upstream");
    assert_eq!(evil.count(), 0, "a call reached an unintended host");

    // What is allowed lands exactly where it should.
    for (path, arrived) in [
        ("reports/x..y", "/api/v1/reports/x..y"),
        ("/users/@me", "/api/v1/users/@me"),
        ("items:batchGet", "/api/v1/items:batchGet"),
        ("", "/api/v1"),
    ] {
        let (status, body) = call(&app, &app.live_key, &id, json!({"path": path})).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(intended.last().path, arrived);
    }
    let (_, body) = call(
        &app,
        &app.live_key,
        &id,
        json!({"query": {"a": "1&b=2", "next": "http://evil/../x"}}),
    )
    .await;
    assert_eq!(body["data"]["status"], 200);
    let seen = intended.last();
    assert_eq!(seen.path, "/api/v1");
    assert_eq!(
        seen.query.as_deref(),
        Some("a=1%26b%3D2&next=http%3A%2F%2Fevil%2F..%2Fx")
    );
    assert_eq!(evil.count(), 0);
}

#[suite_test]
async fn private_targets_are_refused_when_not_allowlisted() {
    let app = spawn_app_with(|c| c.egress_allow_nets.clear()).await;
    let up = Upstream::echo().await;
    let port = up.origin.rsplit(':').next().unwrap().to_string();
    for url in [
        up.url("/x"),
        format!("http://localhost:{port}/x"),
        "https://10.0.0.8/hook".to_string(),
        "https://192.168.1.1/".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "https://[::1]/".to_string(),
        "https://[::ffff:127.0.0.1]/".to_string(),
        "https://0x7f000001/".to_string(),
        "https://2130706433/".to_string(),
    ] {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/integrations",
                &json!({"name": "Internal", "url": url}),
            )
            .await;
        assert_error(status, &body, 400, "url_not_allowed", Some("url"));
    }
    assert_eq!(up.count(), 0);

    // An integration stored while its network was allowed is refused at call time, and logged.
    let id = insert_directly(&app, &up.url("/x")).await;
    let (status, body) = call(&app, &app.live_key, &id, json!({"body": {"x": 1}})).await;
    assert_error(status, &body, 400, "url_not_allowed", Some("url"));
    assert_eq!(up.count(), 0);
    let (_, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(log["data"][0]["errorCode"], "url_not_allowed");
    assert_eq!(log["data"][0]["status"], Value::Null);
    // And the URL cannot be changed to a private one either.
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/integrations/{id}"),
            &json!({"url": "https://10.1.2.3/"}),
        )
        .await;
    assert_error(status, &body, 400, "url_not_allowed", Some("url"));
}

/// Writes an integration straight into the store, bypassing the API's create-time check.
async fn insert_directly(app: &TestApp, url: &str) -> String {
    use hookd::crypto::Cipher;
    use hookd::domain::ids::IntegrationId;
    use hookd::domain::integration::*;
    use hookd::domain::tenant::{Mode, Tenant};
    use hookd::domain::time::Timestamp;

    let workspace = app
        .store
        .find_workspace(hookd::admin::DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .unwrap();
    let tenant = Tenant {
        workspace_id: workspace.id,
        mode: Mode::Live,
    };
    let cipher = Cipher::new(&[0x11; 32]);
    let now = Timestamp::now();
    let stored = StoredIntegration {
        integration: Integration {
            id: IntegrationId::generate(),
            name: "Stored earlier".into(),
            description: None,
            url: url.into(),
            secret_query_params: Vec::new(),
            method: HttpMethod::Post,
            allowed_methods: vec![HttpMethod::Post],
            allowed_path_prefixes: Vec::new(),
            allow_caller_headers: false,
            headers: Default::default(),
            auth: AuthView::None,
            content_type: "application/json".into(),
            timeout_ms: 2000,
            created_at: now,
            updated_at: now,
            disconnected_at: None,
        },
        url_sealed: url.into(),
        headers_sealed: cipher.seal_json(&HeaderSecrets::new()),
        auth_sealed: cipher.seal_json(&AuthConfig::None),
    };
    app.store
        .insert_integration(&tenant, &stored)
        .await
        .unwrap();
    stored.integration.id.to_string()
}

#[suite_test]
async fn credentials_never_leave_in_answers_or_rest_in_plaintext() {
    let app = spawn_app().await;
    let up = Upstream::echo().await;
    let secrets = [
        "tok_bearer_PLAINTEXT_a1b2c3d4",
        "basic_user_PLAINTEXT",
        "basic_pass_PLAINTEXT_e5f6",
        "apikey_PLAINTEXT_g7h8i9",
        "hdrval_PLAINTEXT_j0k1l2",
        "rotated_PLAINTEXT_m3n4o5",
    ];
    let auths = [
        json!({"type": "bearer", "token": secrets[0]}),
        json!({"type": "basic", "username": secrets[1], "password": secrets[2]}),
        json!({"type": "header", "name": "X-API-Key", "value": secrets[3]}),
    ];
    let mut answers = Vec::new();
    for (i, auth) in auths.into_iter().enumerate() {
        let data = create(
            &app,
            &app.live_key,
            json!({"name": format!("secret {i}"), "url": up.url("/"), "auth": auth,
                   "headers": {"X-Extra": secrets[4]}}),
        )
        .await;
        let id = data["id"].as_str().unwrap().to_string();
        answers.push(data);
        let (status, body) = call(&app, &app.live_key, &id, json!({"body": {"n": i}})).await;
        assert_eq!(status, 200, "{body}");
        answers.push(body);
        let (_, patched) = app
            .patch_json(
                &app.live_key,
                &format!("/v1/integrations/{id}"),
                &json!({"headers": {"X-Extra": secrets[5]}}),
            )
            .await;
        answers.push(patched);
        answers.push(
            app.get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
                .await
                .1,
        );
    }
    answers.push(app.get_json(&app.live_key, "/v1/integrations").await.1);
    let shown = Value::Array(answers).to_string();
    // The upstream did get them (the echo shows the body only, not the headers).
    assert_eq!(up.seen()[0].header("x-extra"), Some(secrets[4]));

    let stored = app.raw_database_dump().await;
    assert!(!stored.is_empty());
    for secret in secrets {
        assert!(
            !shown.contains(secret),
            "{secret} appeared in an API answer"
        );
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in plaintext"
        );
    }
}
