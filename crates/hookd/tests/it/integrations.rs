//! Custom webhook integrations, managed over the API: the write-only shape, validation of every
//! field, lookup by name, PATCH (keeping credentials), disconnect (410 vs 404) and isolation
//! between workspaces and modes. Calls are in `integration_calls.rs`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;

const TOKEN: &str = "tok_live_Q3k9ZpX7mW2vR8sT4yB6";

pub use crate::fixtures::create_integration as create;

/// `POST /v1/integrations/{id}/calls`.
pub async fn call(app: &TestApp, key: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.post_json(key, &format!("/v1/integrations/{id}/calls"), &body)
        .await
}

async fn create_err(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post_json(&app.live_key, "/v1/integrations", &body)
        .await
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[suite_test]
async fn create_answers_the_write_only_shape_with_defaults() {
    let app = spawn_app().await;
    let body = json!({
        "name": "Internal reporting API",
        "url": "http://127.0.0.1:9/v1/runs",
        "headers": {"X-Api-Version": "2026-08-01"},
        "auth": {"type": "bearer", "token": TOKEN},
    });
    let (status, answer) = app
        .post_json(&app.live_key, "/v1/integrations", &body)
        .await;
    assert_eq!(status, 201, "{answer}");
    assert!(!answer.to_string().contains(TOKEN));
    assert!(!answer.to_string().contains("2026-08-01"));
    let data = &answer["data"];
    assert_eq!(
        sorted_keys(data),
        [
            "allowCallerHeaders",
            "allowedMethods",
            "allowedPathPrefixes",
            "auth",
            "contentType",
            "createdAt",
            "description",
            "disconnectedAt",
            "headers",
            "id",
            "method",
            "name",
            "timeoutMs",
            "updatedAt",
            "url"
        ]
    );
    assert!(data["id"].as_str().unwrap().starts_with("int_"));
    assert_eq!(data["method"], "POST");
    // The call policy's defaults: the configured method only, no path, no caller headers.
    assert_eq!(data["allowedMethods"], json!(["POST"]));
    assert_eq!(data["allowedPathPrefixes"], json!([]));
    assert_eq!(data["allowCallerHeaders"], false);
    assert_eq!(data["description"], Value::Null);
    assert_eq!(data["contentType"], "application/json");
    assert_eq!(data["timeoutMs"], 10000);
    assert_eq!(data["disconnectedAt"], Value::Null);
    assert_eq!(
        data["auth"],
        json!({"type": "bearer", "tokenLast4": "4yB6"})
    );
    assert_eq!(
        data["headers"],
        json!({"X-Api-Version": {"valueLast4": "8-01"}})
    );

    let id = data["id"].as_str().unwrap();
    let (status, got) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(&got["data"], data);
}

#[suite_test]
async fn each_auth_type_is_shown_without_its_secret() {
    let app = spawn_app().await;
    let cases = [
        (json!({"type": "none"}), json!({"type": "none"})),
        (
            json!({"type": "header", "name": "X-API-Key", "value": "key_ABCDEFGH1234"}),
            json!({"type": "header", "name": "X-API-Key", "valueLast4": "1234"}),
        ),
        (
            json!({"type": "basic", "username": "reporting-bot", "password": "correct horse battery"}),
            json!({"type": "basic", "usernameLast4": "-bot", "passwordLast4": "tery"}),
        ),
        (
            json!({"type": "bearer", "token": "short"}),
            json!({"type": "bearer", "tokenLast4": null}),
        ),
    ];
    for (i, (auth, shown)) in cases.into_iter().enumerate() {
        let data = create(
            &app,
            &app.live_key,
            json!({"name": format!("api {i}"), "url": "http://127.0.0.1:9/", "auth": auth}),
        )
        .await;
        assert_eq!(data["auth"], shown);
    }
}

#[suite_test]
async fn names_are_checked_and_unique_ignoring_case() {
    let app = spawn_app().await;
    let url = "http://127.0.0.1:9/";
    for bad in [json!(""), json!("   "), json!("x".repeat(129)), json!(5)] {
        let (status, body) = create_err(&app, json!({"name": bad, "url": url})).await;
        assert_error(status, &body, 400, "invalid_request", Some("name"));
    }
    create(
        &app,
        &app.live_key,
        json!({"name": "x".repeat(128), "url": url}),
    )
    .await;
    create(
        &app,
        &app.live_key,
        json!({"name": "Reporting API", "url": url}),
    )
    .await;
    let (status, body) = create_err(&app, json!({"name": "REPORTING api", "url": url})).await;
    // A conflict with what exists, not a malformed request: 409 (the OpenAPI document's
    // promise is that a body it allows is never a 400).
    assert_error(status, &body, 400, "invalid_request", Some("name"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    // Another mode is another namespace.
    create(
        &app,
        &app.test_key,
        json!({"name": "reporting API", "url": url}),
    )
    .await;
}

#[suite_test]
async fn header_injection_is_impossible() {
    let app = spawn_app().await;
    let url = "http://127.0.0.1:9/";
    for name in [
        "X-A\r\nX-Evil",
        "X-A\nB",
        "X-A:",
        "X A",
        "",
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
    ] {
        let (status, body) = create_err(
            &app,
            json!({"name": "h", "url": url, "headers": {name: "v"}}),
        )
        .await;
        assert_error(status, &body, 400, "invalid_request", None);
        assert!(
            body["error"]["param"]
                .as_str()
                .unwrap()
                .starts_with("headers."),
            "{body}"
        );
    }
    for value in ["a\r\nX-Evil: 1", "a\nb", "a\u{0}b"] {
        let (status, body) = create_err(
            &app,
            json!({"name": "h", "url": url, "headers": {"X-Ok": value}}),
        )
        .await;
        assert_error(status, &body, 400, "invalid_request", Some("headers.X-Ok"));
    }
    let (status, body) = create_err(
        &app,
        json!({"name": "h", "url": url, "headers": {"Content-Type": "text/plain"}}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("headers.Content-Type"),
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("contentType"));
    // The auth's header cannot also be a custom header.
    let (status, body) = create_err(
        &app,
        json!({"name": "h", "url": url, "headers": {"authorization": "x"},
               "auth": {"type": "bearer", "token": TOKEN}}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("headers.authorization"),
    );
}

#[suite_test]
async fn auth_objects_with_missing_or_extra_fields_are_rejected() {
    let app = spawn_app().await;
    let cases = [
        (json!({"type": "bearer"}), "auth.token"),
        (
            json!({"type": "bearer", "token": TOKEN, "extra": 1}),
            "auth.extra",
        ),
        (json!({"type": "none", "token": TOKEN}), "auth.token"),
        (json!({"type": "header", "name": "X-API-Key"}), "auth.value"),
        (json!({"type": "header", "value": "v"}), "auth.name"),
        (json!({"type": "basic", "username": "u"}), "auth.password"),
        (json!({"type": "basic", "password": "p"}), "auth.username"),
        (json!({"token": TOKEN}), "auth.type"),
        (json!({"type": "oauth2"}), "auth.type"),
        (json!({"type": "bearer", "token": 42}), "auth.token"),
        (
            json!({"type": "bearer", "token": "a\r\nX-Evil: 1"}),
            "auth.token",
        ),
        (
            json!({"type": "header", "name": "X Key", "value": "v"}),
            "auth.name",
        ),
        (json!("bearer"), "auth"),
    ];
    for (auth, param) in cases {
        let (status, body) = create_err(
            &app,
            json!({"name": "a", "url": "http://127.0.0.1:9/", "auth": auth}),
        )
        .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
}

#[suite_test]
async fn other_fields_are_validated() {
    let app = spawn_app().await;
    let base = json!({"name": "v", "url": "http://127.0.0.1:9/"});
    let cases = [
        (json!({"method": "TRACE"}), "method"),
        (json!({"timeoutMs": 0}), "timeoutMs"),
        (json!({"timeoutMs": 60001}), "timeoutMs"),
        (json!({"contentType": "json"}), "contentType"),
        (
            json!({"contentType": "text/plain\r\nX-Evil: 1"}),
            "contentType",
        ),
        (json!({"url": "ftp://127.0.0.1/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "http://user:pass@127.0.0.1:9/"}), "url"),
        (json!({"color": "blue"}), "color"),
    ];
    for (patch, param) in cases {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        let (status, answer) = create_err(&app, body).await;
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }
    let data = create(
        &app,
        &app.live_key,
        json!({"name": "ok", "url": "http://127.0.0.1:9/", "method": "get",
               "timeoutMs": 60000, "contentType": "text/plain; charset=utf-8"}),
    )
    .await;
    assert_eq!(data["method"], "GET");
    assert_eq!(data["timeoutMs"], 60000);
}

#[suite_test]
async fn list_filters_by_name_case_insensitively_and_paginates() {
    let app = spawn_app().await;
    for i in 0..5 {
        create(
            &app,
            &app.live_key,
            json!({"name": format!("Service {i}"), "url": "http://127.0.0.1:9/"}),
        )
        .await;
    }
    let (_, page) = app
        .get_json(&app.live_key, "/v1/integrations?name=SERVICE%203")
        .await;
    let found = page["data"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{page}");
    assert_eq!(found[0]["name"], "Service 3");
    let (_, page) = app
        .get_json(&app.live_key, "/v1/integrations?name=Service")
        .await;
    assert_eq!(page["data"], json!([]));

    let (_, first) = app
        .get_json(&app.live_key, "/v1/integrations?limit=3")
        .await;
    assert_eq!(first["hasMore"], true);
    assert_eq!(first["data"][0]["name"], "Service 4", "newest first");
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = app
        .get_json(
            &app.live_key,
            &format!("/v1/integrations?limit=3&cursor={cursor}"),
        )
        .await;
    assert_eq!(second["hasMore"], false);
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    let (status, body) = app
        .get_json(&app.live_key, "/v1/integrations?limit=0")
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("limit"));
}

#[suite_test]
async fn patch_changes_fields_and_says_when_credentials_are_kept() {
    let app = spawn_app().await;
    let data = create(
        &app,
        &app.live_key,
        json!({"name": "Patchable", "url": "http://127.0.0.1:9/a",
               "auth": {"type": "bearer", "token": TOKEN}}),
    )
    .await;
    let path = format!("/v1/integrations/{}", data["id"].as_str().unwrap());
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"url": "http://127.0.0.1:10/b"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["url"], "http://127.0.0.1:10/b");
    assert_eq!(body["data"]["credentialsKept"], true);
    assert_eq!(body["data"]["auth"], data["auth"]);

    let (_, body) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"auth": {"type": "none"}, "method": "PUT", "timeoutMs": 500,
                    "headers": {"X-Team": "reporting"}}),
        )
        .await;
    assert_eq!(body["data"]["credentialsKept"], false);
    assert_eq!(body["data"]["auth"], json!({"type": "none"}));
    assert_eq!(body["data"]["method"], "PUT");
    assert_eq!(body["data"]["timeoutMs"], 500);
    assert_eq!(
        body["data"]["headers"],
        json!({"X-Team": {"valueLast4": "ting"}})
    );

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"auth": {"type": "bearer"}}))
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("auth.token"));
    create(
        &app,
        &app.live_key,
        json!({"name": "Taken", "url": "http://127.0.0.1:9/"}),
    )
    .await;
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "TAKEN"}))
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("name"));
}

#[suite_test]
async fn disconnected_integrations_answer_410_naming_them_and_unknown_ones_404() {
    let app = spawn_app().await;
    let data = create(
        &app,
        &app.live_key,
        json!({"name": "Order fulfillment service", "url": "http://127.0.0.1:9/"}),
    )
    .await;
    let id = data["id"].as_str().unwrap();
    let path = format!("/v1/integrations/{id}");
    let (status, body) = app.delete(&app.live_key, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"data": {"id": id, "deleted": true}}));

    let calls = format!("{path}/calls");
    let answers = [
        app.get_json(&app.live_key, &path).await,
        app.patch_json(&app.live_key, &path, &json!({"name": "x"}))
            .await,
        app.delete(&app.live_key, &path).await,
        app.post_json(&app.live_key, &calls, &json!({})).await,
    ];
    for (status, body) in answers {
        assert_error(status, &body, 410, "integration_disconnected", None);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Order fulfillment service"), "{message}");
        assert!(message.contains("disconnected"), "{message}");
    }
    // The call log stays readable: it is the audit trail.
    let (status, log) = app.get_json(&app.live_key, &calls).await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["data"], json!([]));

    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(list["data"], json!([]));
    let (_, list) = app
        .get_json(
            &app.live_key,
            "/v1/integrations?includeDisconnected=true&name=order%20FULFILLMENT%20service",
        )
        .await;
    assert_eq!(list["data"][0]["id"], id);
    assert!(list["data"][0]["disconnectedAt"].is_string());
    // The name is free again.
    create(
        &app,
        &app.live_key,
        json!({"name": "Order fulfillment service", "url": "http://127.0.0.1:9/"}),
    )
    .await;

    let never = "int_01jc8z6f3v2m9q4w7x5y8z0a1b";
    for (status, body) in [
        app.get_json(&app.live_key, &format!("/v1/integrations/{never}"))
            .await,
        app.delete(&app.live_key, &format!("/v1/integrations/{never}"))
            .await,
        app.post_json(
            &app.live_key,
            &format!("/v1/integrations/{never}/calls"),
            &json!({}),
        )
        .await,
        app.get_json(&app.live_key, "/v1/integrations/not-an-id")
            .await,
    ] {
        assert_error(status, &body, 404, "not_found", None);
    }
}

#[suite_test]
async fn workspaces_and_modes_are_isolated() {
    let app = spawn_app().await;
    let (other_live, _) = app.new_workspace("other").await;
    let data = create(
        &app,
        &app.live_key,
        json!({"name": "Private API", "url": "http://127.0.0.1:9/"}),
    )
    .await;
    let path = format!("/v1/integrations/{}", data["id"].as_str().unwrap());
    for key in [&other_live, &app.test_key] {
        let (status, body) = app.get_json(key, &path).await;
        assert_error(status, &body, 404, "not_found", None);
        let (status, _) = app.patch_json(key, &path, &json!({"name": "mine"})).await;
        assert_eq!(status, 404);
        let (status, _) = app
            .post_json(key, &format!("{path}/calls"), &json!({}))
            .await;
        assert_eq!(status, 404);
        let (status, _) = app.get_json(key, &format!("{path}/calls")).await;
        assert_eq!(status, 404);
        let (status, _) = app.delete(key, &path).await;
        assert_eq!(status, 404);
        let (_, list) = app
            .get_json(key, "/v1/integrations?includeDisconnected=true")
            .await;
        assert_eq!(list["data"], json!([]));
        // Same name, other tenant: allowed.
        create(
            &app,
            key,
            json!({"name": "Private API", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    }
    let (status, _) = app.get_json(&app.live_key, &path).await;
    assert_eq!(status, 200);
}

#[suite_test]
async fn description_and_call_policy_are_validated_and_editable() {
    let app = spawn_app().await;
    let url = "http://127.0.0.1:9/v1/runs";
    let bad = [
        (json!({"allowedMethods": []}), "allowedMethods"),
        (json!({"allowedMethods": ["TRACE"]}), "allowedMethods[0]"),
        (json!({"allowedMethods": "GET"}), "allowedMethods"),
        (
            json!({"allowedPathPrefixes": ["reports"]}),
            "allowedPathPrefixes[0]",
        ),
        (
            json!({"allowedPathPrefixes": ["/ok", "/../up"]}),
            "allowedPathPrefixes[1]",
        ),
        (
            json!({"allowedPathPrefixes": ["//evil.example"]}),
            "allowedPathPrefixes[0]",
        ),
        (
            json!({"allowedPathPrefixes": ["/a?b=1"]}),
            "allowedPathPrefixes[0]",
        ),
        (
            json!({"allowedPathPrefixes": vec!["/a"; 33]}),
            "allowedPathPrefixes",
        ),
        (
            json!({"allowedPathPrefixes": [format!("/{}", "a".repeat(300))]}),
            "allowedPathPrefixes[0]",
        ),
        (json!({"allowCallerHeaders": "yes"}), "allowCallerHeaders"),
        (json!({"description": "x".repeat(2001)}), "description"),
        (json!({"description": "bell\u{7}"}), "description"),
        (json!({"description": 5}), "description"),
    ];
    for (extra, param) in &bad {
        let mut body = json!({"name": "Reports", "url": url});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, answer) = create_err(&app, body).await;
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }

    let data = create(
        &app,
        &app.live_key,
        json!({"name": "Reports", "url": url, "description": "  Stores runs.\n",
               "allowedMethods": ["get", "POST", "GET"], "allowedPathPrefixes": ["/a/", "/b"],
               "allowCallerHeaders": true}),
    )
    .await;
    assert_eq!(data["description"], "Stores runs.");
    assert_eq!(data["allowedMethods"], json!(["GET", "POST"]));
    assert_eq!(data["allowedPathPrefixes"], json!(["/a", "/b"]));
    assert_eq!(data["allowCallerHeaders"], true);
    let path = format!("/v1/integrations/{}", data["id"].as_str().unwrap());
    for (extra, param) in &bad {
        let (status, answer) = app.patch_json(&app.live_key, &path, extra).await;
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }

    // null clears the description and returns allowedMethods to the configured method, which
    // it then follows.
    let (status, answer) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"description": null, "allowedMethods": null, "method": "PUT",
                    "allowedPathPrefixes": [], "allowCallerHeaders": false}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let updated = &answer["data"];
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["allowedMethods"], json!(["PUT"]));
    assert_eq!(updated["allowedPathPrefixes"], json!([]));
    assert_eq!(updated["allowCallerHeaders"], false);
    let (_, answer) = app
        .patch_json(&app.live_key, &path, &json!({"method": "PATCH"}))
        .await;
    assert_eq!(answer["data"]["allowedMethods"], json!(["PATCH"]));
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["allowedMethods"], json!(["PATCH"]));
    // "" also clears the description.
    let (_, answer) = app
        .patch_json(&app.live_key, &path, &json!({"description": "x"}))
        .await;
    assert_eq!(answer["data"]["description"], "x");
    let (_, answer) = app
        .patch_json(&app.live_key, &path, &json!({"description": ""}))
        .await;
    assert_eq!(answer["data"]["description"], Value::Null);
}
