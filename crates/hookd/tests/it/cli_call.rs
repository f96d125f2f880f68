//! The "done when" scenario, run as a new user would: the built `hookd` binary calls an
//! integration by name over the API (`HOOKD_API_URL`, `HOOKD_API_KEY`), prints the upstream's
//! answer, and fails with a message naming the integration once it is disconnected.

use std::process::Output;

use serde_json::{json, Value};

use crate::harness::*;
use crate::integrations::create;
use crate::upstream::{raw, Upstream};

const TOKEN: &str = "tok_reporting_7Hq2Lx9Vb4Nc";

/// Runs `hookd <args>` against `app` with `key` (async, so this test's runtime keeps serving
/// the API while the child waits for it).
async fn hookd(app: &TestApp, key: Option<&str>, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"));
    command
        .args(args)
        .current_dir(dir.path())
        .env("HOOKD_API_URL", &app.base_url)
        .env_remove("HOOKD_API_KEY")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY");
    if let Some(key) = key {
        command.env("HOOKD_API_KEY", key);
    }
    command.output().await.expect("run hookd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[suite_test]
async fn call_by_name_from_the_cli_then_fail_after_disconnect() {
    let app = spawn_app().await;
    let up = Upstream::start(|seen| {
        let received: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        raw(
            200,
            &[("content-type", "application/json")],
            json!({"stored": true, "received": received}).to_string(),
        )
    })
    .await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "Internal reporting API", "url": up.url("/v1/runs"),
               "auth": {"type": "bearer", "token": TOKEN},
               "allowedMethods": ["POST", "PUT"], "allowedPathPrefixes": ["/daily"]}),
    )
    .await;

    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "--data", r#"{"x":1}"#],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let seen = up.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/v1/runs");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.json(), json!({"x": 1}));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("stdout is the upstream JSON");
    assert_eq!(printed, json!({"stored": true, "received": {"x": 1}}));
    assert!(
        text(&out.stderr).contains("HTTP 200"),
        "{}",
        text(&out.stderr)
    );

    // Case-insensitive name, method and path options, data from a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.json");
    std::fs::write(&file, r#"{"from": "file"}"#).unwrap();
    let data = format!("@{}", file.display());
    let out = hookd(
        &app,
        Some(&app.live_key),
        &[
            "call",
            "internal REPORTING api",
            "-X",
            "PUT",
            "--path",
            "/daily",
            "--data",
            &data,
        ],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let seen = up.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("PUT", "/v1/runs/daily")
    );
    assert_eq!(seen.json(), json!({"from": "file"}));

    let out = hookd(&app, Some(&app.live_key), &["integrations", "list"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains("Internal reporting API") && listed.contains("bearer"),
        "{listed}"
    );
    assert!(!listed.contains(TOKEN));

    let id = integration["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(status, 200);
    let before = up.count();
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "--data", r#"{"x":2}"#],
    )
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Internal reporting API"), "{stderr}");
    assert!(stderr.contains("disconnected"), "{stderr}");
    assert_eq!(up.count(), before, "a disconnected integration was called");
}

#[suite_test]
async fn cli_failures_are_clear_and_exit_non_zero() {
    let app = spawn_app().await;
    let up = Upstream::start(|_| raw(503, &[("content-type", "text/plain")], "maintenance")).await;
    create(
        &app,
        &app.live_key,
        json!({"name": "Flaky", "url": up.url("/")}),
    )
    .await;

    let out = hookd(&app, None, &["call", "Flaky"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("HOOKD_API_KEY"),
        "{}",
        text(&out.stderr)
    );

    // Upstream non-2xx: the body is still printed, the exit code says it failed.
    let out = hookd(&app, Some(&app.live_key), &["call", "Flaky"]).await;
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "maintenance\n");
    assert!(text(&out.stderr).contains("503"), "{}", text(&out.stderr));

    let out = hookd(&app, Some(&app.live_key), &["call", "Nope"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no integration named \"Nope\""),
        "{}",
        text(&out.stderr)
    );

    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Flaky", "--data", "{oops"],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not valid JSON"),
        "{}",
        text(&out.stderr)
    );

    // The API's validation message comes through.
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Flaky", "--path", "//evil.com"],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("path"), "{}", text(&out.stderr));
    assert_eq!(up.count(), 1);

    // The test key sees nothing of live mode.
    let out = hookd(&app, Some(&app.test_key), &["call", "Flaky"]).await;
    assert!(!out.status.success());
}

#[suite_test]
async fn the_cli_sends_and_prints_bytes_as_written_and_edits_the_call_policy() {
    let app = spawn_app().await;
    let answer = r#"{"zeta": 1.50, "alpha": {"n": 12345678901234567890}}"#;
    let up =
        Upstream::start(move |_| raw(200, &[("content-type", "application/json")], answer)).await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "Internal reporting API", "url": up.url("/v1/runs")}),
    )
    .await;

    // --data reaches the upstream as written; the upstream's body is printed as received.
    let written = r#"{"b": 1.50, "a": [2.0, 1e2]}"#;
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "--data", written],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(std::str::from_utf8(&up.last().body).unwrap(), written);
    assert_eq!(text(&out.stdout), format!("{answer}\n"));
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "--json"],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains(answer), "{}", text(&out.stdout));

    // Outside the call policy: refused, naming the rule, and nothing is sent.
    let before = up.count();
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "-X", "GET"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("call_not_allowed") && stderr.contains("allowedMethods"),
        "{stderr}"
    );
    assert_eq!(up.count(), before);

    // The owner widens it from the CLI.
    let out = hookd(
        &app,
        Some(&app.live_key),
        &[
            "integrations",
            "update",
            "internal reporting API",
            "--description",
            "Stores run summaries.",
            "--allowed-method",
            "POST,GET",
            "--allowed-path-prefix",
            "/daily",
            "--allow-caller-headers",
            "true",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let updated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(updated["description"], "Stores run summaries.");
    assert_eq!(updated["allowedMethods"], json!(["POST", "GET"]));
    assert_eq!(updated["allowedPathPrefixes"], json!(["/daily"]));
    assert_eq!(updated["allowCallerHeaders"], true);
    let out = hookd(
        &app,
        Some(&app.live_key),
        &[
            "call",
            "Internal reporting API",
            "-X",
            "GET",
            "--path",
            "/daily/mon",
        ],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (up.last().method.as_str(), up.last().path.as_str()),
        ("GET", "/v1/runs/daily/mon")
    );

    // Query parameters (a repeated name sent once per value) and, with allowCallerHeaders,
    // headers of the caller's own.
    let out = hookd(
        &app,
        Some(&app.live_key),
        &[
            "call",
            "Internal reporting API",
            "--query",
            "day=mon",
            "--query",
            "tag=a",
            "--query",
            "tag=b=c",
            "-H",
            "X-Run-Id: run_7",
        ],
    )
    .await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let seen = up.last();
    let query = seen.query.clone().unwrap_or_default();
    assert!(
        query.contains("day=mon") && query.contains("tag=a") && query.contains("tag=b"),
        "{query}"
    );
    assert_eq!(seen.header("x-run-id"), Some("run_7"));

    // By id too, as `integrations update` and MCP's call_integration take it.
    let id = integration["id"].as_str().unwrap();
    let before = up.count();
    let out = hookd(&app, Some(&app.live_key), &["call", id, "--data", "{}"]).await;
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(up.count(), before + 1);
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["call", "Internal reporting API", "--query", "oops"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Bad input is a usage error or the API's 400, never a crash.
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["integrations", "update", "Internal reporting API"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = hookd(
        &app,
        Some(&app.live_key),
        &[
            "integrations",
            "update",
            "Internal reporting API",
            "--allowed-path-prefix",
            "no-slash",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid_request"),
        "{}",
        text(&out.stderr)
    );
    let out = hookd(
        &app,
        Some(&app.live_key),
        &["integrations", "update", "Nobody", "--no-description"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not_found"),
        "{}",
        text(&out.stderr)
    );
}
