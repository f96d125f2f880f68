//! The real binary's logs while OAuth2 tokens are fetched, refused and used, at debug level:
//! the token-endpoint failure is logged with the token server's error, and neither the client
//! secret, its Basic encoding, nor an issued access token appears in any line.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::harness::eventually;
use crate::upstream::Upstream;

const SECRET: &str = "cs_never_in_logs_7Hq2Lm9Xw4";
const ACCESS_TOKEN: &str = "at_never_in_logs_K3v8Pz1Ry6";

#[tokio::test]
async fn token_failures_are_logged_without_the_secret_or_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKD_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env(
            "HOOKD_DATABASE_URL",
            format!("sqlite://{}/hookd.db", dir.path().display()),
        )
        .env("HOOKD_LOG_FORMAT", "json")
        .env("RUST_LOG", "hookd=debug")
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        .env("HOOKD_RETRY_SCHEDULE", "1,1,1,1,1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookd");
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = Arc::clone(&lines);
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    let (key, base_url) = crate::cli_support::read_banner(child.stdout.take().unwrap()).await;
    let key = key.expect("first start prints a key");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base_url}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    // A token server that refuses the client until switched on, then issues ACCESS_TOKEN.
    let healthy = Arc::new(AtomicBool::new(false));
    let switch = Arc::clone(&healthy);
    let tokens = Upstream::start(move |_| {
        if switch.load(Ordering::SeqCst) {
            axum::Json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer"}))
                .into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({"error": "invalid_client", "error_description": "unknown client"}),
                ),
            )
                .into_response()
        }
    })
    .await;
    let receiver = Upstream::json(200, json!({})).await;
    let auth = json!({"type": "oauth2_client_credentials", "tokenUrl": tokens.url("/token"),
                      "clientId": "hookd", "clientSecret": SECRET});
    let created = post(
        "/v1/webhook-endpoints",
        json!({"name": "e", "url": receiver.url("/hook"), "events": ["post.created"], "auth": auth}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let integration: Value = post(
        "/v1/integrations",
        json!({"name": "i", "url": receiver.url("/api"), "auth": auth}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = integration["data"]["id"].as_str().unwrap().to_string();
    let call = post(&format!("/v1/integrations/{id}/calls"), json!({}))
        .await
        .unwrap();
    assert_eq!(call.status(), 502);
    post("/v1/events", json!({"type": "post.created", "data": {}}))
        .await
        .unwrap();

    let logged = |needle: &'static str| {
        let lines = Arc::clone(&lines);
        async move {
            let all = lines.lock().unwrap().join("\n");
            all.contains(needle).then_some(())
        }
    };
    eventually(Duration::from_secs(20), || {
        logged("OAuth2 token request failed")
    })
    .await;
    eventually(Duration::from_secs(20), || logged("invalid_client")).await;

    // The token server recovers: the delivery goes out with the token, the call succeeds.
    healthy.store(true, Ordering::SeqCst);
    eventually(Duration::from_secs(20), || async {
        (receiver.count() >= 1).then_some(())
    })
    .await;
    let call = post(&format!("/v1/integrations/{id}/calls"), json!({}))
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        receiver.last().header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );

    let basic = base64::engine::general_purpose::STANDARD.encode(format!("hookd:{SECRET}"));
    let all = lines.lock().unwrap().join("\n");
    for leak in [SECRET, basic.as_str(), ACCESS_TOKEN] {
        assert!(!all.contains(leak), "{leak} in the logs:\n{all}");
    }
}
