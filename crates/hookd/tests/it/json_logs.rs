//! The logs an operator follows, read from the real binary's stderr with
//! `HOOKD_LOG_FORMAT=json`: the access line's fields, an exhausted delivery's line, a failed
//! integration call with its causes as an array, and no secret anywhere.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::harness::*;

/// Every JSON line hookd wrote to stderr so far (a line that is not JSON fails the test).
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn parsed(&self) -> Vec<Value> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    async fn find(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some(line) = self.parsed().into_iter().find(|l| matches(l)) {
                    return line;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        found
            .unwrap_or_else(|_| panic!("no {what} line in:\n{}", self.0.lock().unwrap().join("\n")))
    }
}

#[tokio::test]
async fn json_logs_carry_ids_as_fields_causes_as_an_array_and_no_secrets() {
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
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        .env("HOOKD_RETRY_SCHEDULE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookd");
    let lines = Lines::default();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.0.lock().unwrap().push(line);
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

    // An endpoint that always fails: its delivery exhausts after two attempts.
    let failing = Receiver::scripted(|_| (500, "down".into())).await;
    let created = post(
        "/v1/webhook-endpoints",
        json!({"name": "f", "url": failing.url, "events": ["post.created"]}),
    )
    .await
    .unwrap();
    let request_id = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let endpoint: Value = created.json().await.unwrap();
    let secret = endpoint["data"]["secret"].as_str().unwrap().to_string();
    let endpoint_id = endpoint["data"]["id"].as_str().unwrap().to_string();
    let event: Value = post("/v1/events", json!({"type": "post.created", "data": {}}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = event["data"]["id"].as_str().unwrap().to_string();
    // An integration with a credential whose upstream refuses the connection.
    let token = "tok_do_not_log_me_0123456789";
    let integration: Value = post(
        "/v1/integrations",
        json!({"name": "Closed", "url": "http://127.0.0.1:1/api", "auth": {"type": "bearer", "token": token}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let integration_id = integration["data"]["id"].as_str().unwrap().to_string();
    let call = post(
        &format!("/v1/integrations/{integration_id}/calls"),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(call.status(), 502);

    let access = lines
        .find("access", |l| {
            l["target"] == "hookd::access" && l["request_id"] == request_id.as_str()
        })
        .await;
    assert_eq!(access["level"], "INFO", "{access}");
    assert_eq!(access["method"], "POST", "{access}");
    assert_eq!(access["route"], "/v1/webhook-endpoints", "{access}");
    assert_eq!(access["status"], 201, "{access}");
    assert!(access["duration_ms"].as_f64().is_some(), "{access}");
    assert!(
        access["key_id"].as_str().unwrap().starts_with("key_"),
        "{access}"
    );
    assert!(
        access["workspace"].as_str().unwrap().starts_with("ws_"),
        "{access}"
    );
    assert_eq!(access["mode"], "live", "{access}");
    assert_eq!(access["message"], "request", "{access}");
    let templated = lines
        .find("templated access", |l| {
            l["route"] == "/v1/integrations/{id}/calls"
        })
        .await;
    assert_eq!(templated["status"], 502, "{templated}");

    let exhausted = lines
        .find("exhausted", |l| l["message"] == "delivery exhausted")
        .await;
    assert_eq!(exhausted["level"], "WARN", "{exhausted}");
    assert_eq!(exhausted["endpoint"], endpoint_id.as_str(), "{exhausted}");
    assert_eq!(exhausted["event"], event_id.as_str(), "{exhausted}");
    assert!(
        exhausted["delivery"].as_str().unwrap().starts_with("dlv_"),
        "{exhausted}"
    );
    assert_eq!(exhausted["last_status_code"], 500, "{exhausted}");
    assert_eq!(exhausted["attempts"], 2, "{exhausted}");
    assert_eq!(exhausted["mode"], "live", "{exhausted}");

    let failed = lines
        .find("integration failure", |l| {
            l["message"] == "integration call failed"
        })
        .await;
    assert_eq!(failed["integration"], integration_id.as_str(), "{failed}");
    assert!(
        failed["call"].as_str().unwrap().starts_with("call_"),
        "{failed}"
    );
    assert_eq!(failed["code"], "upstream_error", "{failed}");
    let causes = failed["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("causes is an array: {failed}"));
    assert!(
        !causes.is_empty() && causes.iter().all(Value::is_string),
        "{failed}"
    );
    // Logged once: the API's 502 adds no "request failed" line of its own.
    let request_failed = lines
        .parsed()
        .into_iter()
        .filter(|l| l["message"] == "request failed")
        .count();
    assert_eq!(request_failed, 0);

    let all = lines.0.lock().unwrap().join("\n");
    for secret in [key.as_str(), secret.as_str(), token, "Bearer"] {
        assert!(
            !all.contains(secret),
            "{secret:?} leaked into the logs:\n{all}"
        );
    }
    child.kill().await.unwrap();
}

/// Starts the real binary with JSON logs at `rust_log` on the database in `dir`, the egress
/// policy allowing loopback when `allow_loopback`, returning it, its captured lines, the first
/// start's live key (`None` on a later start) and its base URL.
async fn serve_with_json_logs(
    dir: &std::path::Path,
    rust_log: &str,
    allow_loopback: bool,
) -> (tokio::process::Child, Lines, Option<String>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookd"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HOOKD_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    if allow_loopback {
        command.env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8");
    }
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env(
            "HOOKD_DATABASE_URL",
            format!("sqlite://{}/hookd.db", dir.display()),
        )
        .env("HOOKD_LOG_FORMAT", "json")
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_RETRY_SCHEDULE", "0")
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookd");
    let lines = Lines::default();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.0.lock().unwrap().push(line);
        }
    });
    let (key, base_url) = crate::cli_support::read_banner(child.stdout.take().unwrap()).await;
    (child, lines, key, base_url)
}

/// Every way an outbound request fails (an error status, a closed port, the egress policy
/// refusing the destination at connect time) is logged without the URL's query string, where
/// credentials travel, even at trace level.
#[tokio::test]
async fn failed_upstream_calls_are_logged_without_the_query_string() {
    const SECRETS: [&str; 4] = [
        "qs_secret_answering",
        "qs_secret_closed",
        "qs_secret_integration",
        "qs_secret_call",
    ];
    let dir = tempfile::tempdir().unwrap();
    let (mut child, first_lines, key, base_url) =
        serve_with_json_logs(dir.path(), "trace", true).await;
    let key = key.expect("first start prints a key");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |base_url: &str, path: &str, body: Value| {
        client
            .post(format!("{base_url}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    // Deliveries to an endpoint that answers 500 and to a closed port: both exhaust.
    let failing = Receiver::scripted(|_| (500, "down".into())).await;
    for url in [
        format!("{}?token=qs_secret_answering", failing.url),
        "http://127.0.0.1:1/hook?token=qs_secret_closed".to_string(),
    ] {
        let created = post(
            &base_url,
            "/v1/webhook-endpoints",
            json!({"name": "q", "url": url, "events": ["post.created"]}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), 201);
    }
    // An integration whose URL and call carry query parameters, on a closed port.
    let integration: Value = post(
        &base_url,
        "/v1/integrations",
        json!({"name": "Closed", "url": "http://127.0.0.1:1/api?api_key=qs_secret_integration"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let calls = format!(
        "/v1/integrations/{}/calls",
        integration["data"]["id"].as_str().unwrap()
    );
    let call_body = json!({"query": {"sig": "qs_secret_call"}});
    let exhausted = |l: &Value| l["message"] == "delivery exhausted";
    let failed_call = |l: &Value| l["message"] == "integration call failed";

    let event = post(
        &base_url,
        "/v1/events",
        json!({"type": "post.created", "data": {}}),
    )
    .await
    .unwrap();
    assert_eq!(event.status(), 202);
    let call = post(&base_url, &calls, call_body.clone()).await.unwrap();
    assert_eq!(call.status(), 502);
    eventually(Duration::from_secs(20), || async {
        let lines = first_lines.parsed();
        (lines.iter().filter(|l| exhausted(l)).count() == 2 && lines.iter().any(failed_call))
            .then_some(())
    })
    .await;
    child.kill().await.unwrap();
    child.wait().await.unwrap();

    // The operator tightens the egress policy: loopback is refused when the requests are made.
    let (mut child, second_lines, _, base_url) =
        serve_with_json_logs(dir.path(), "trace", false).await;
    let event = post(
        &base_url,
        "/v1/events",
        json!({"type": "post.created", "data": {}}),
    )
    .await
    .unwrap();
    assert_eq!(event.status(), 202);
    let call = post(&base_url, &calls, call_body).await.unwrap();
    assert_eq!(call.status(), 400, "refused by the policy");
    eventually(Duration::from_secs(20), || async {
        let lines = second_lines.parsed();
        (lines.iter().filter(|l| exhausted(l)).count() == 2 && lines.iter().any(failed_call))
            .then_some(())
    })
    .await;
    child.kill().await.unwrap();

    for lines in [first_lines, second_lines] {
        let all = lines.0.lock().unwrap().join("\n");
        assert!(
            all.contains("127.0.0.1"),
            "the destinations are named:\n{all}"
        );
        for secret in SECRETS {
            assert!(
                !all.contains(secret),
                "{secret:?} leaked into the logs:\n{all}"
            );
        }
    }
}
