//! `hookd mcp` over stdio, the real binary against a running server's API: the rmcp client
//! through a child process (tools, a call, `list_changed` after a change made through the API,
//! the disconnected tool's error), and hand-written JSON-RPC lines for what a typed client
//! cannot send (a body's exact bytes, garbage lines).

use std::process::Stdio;

use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::cli_support;
use crate::harness::*;
use crate::integrations::create;
use crate::mcp_support::*;
use crate::upstream::{raw, Upstream};

const TOKEN: &str = "tok_live_STDIOq3k9ZpX7mW2vR8sT4";
/// Longer than `hookd mcp`'s poll interval (5 s), with room for a slow machine.
const POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn hookd_mcp(app: &TestApp, key: &str, dir: &std::path::Path) -> tokio::process::Command {
    let mut command = cli_support::command(dir);
    command
        .arg("mcp")
        .env("HOOKD_API_URL", &app.base_url)
        .env("HOOKD_API_KEY", key);
    command
}

async fn upstream() -> Upstream {
    Upstream::start(|_| {
        raw(
            200,
            &[("content-type", "application/json")],
            r#"{"ok": true}"#,
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_over_stdio_lists_calls_and_hears_of_changes() {
    let app = spawn_app().await;
    let up = upstream().await;
    let integration = create(
        &app,
        &app.live_key,
        json!({"name": "Internal reporting API", "url": up.url("/v1/runs"),
               "description": "Stores run summaries.",
               "auth": {"type": "bearer", "token": TOKEN}}),
    )
    .await;
    let id = integration["id"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let watcher = Watcher::default();
    let transport = TokioChildProcess::new(hookd_mcp(&app, &app.live_key, dir.path())).unwrap();
    let client = watcher
        .clone()
        .serve(transport)
        .await
        .expect("initialize over stdio");

    let listed = tools(&client).await;
    let tool = listed
        .iter()
        .find(|t| t.name == "internal_reporting_api")
        .expect("the integration's tool");
    assert!(tool
        .description
        .as_deref()
        .unwrap()
        .starts_with("Stores run summaries."));
    let result = call(
        &client,
        "internal_reporting_api",
        json!({"body": {"summary": "ran"}}),
    )
    .await;
    assert_eq!(ok_json(&result)["body"], json!({"ok": true}));
    assert_eq!(up.last().json(), json!({"summary": "ran"}));
    assert_eq!(
        up.last().header("authorization").unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert!(!serde_json::to_string(&listed).unwrap().contains(TOKEN));
    assert!(!serde_json::to_string(&result).unwrap().contains(TOKEN));
    let (_, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(log["data"][0]["via"], "mcp", "{log}");

    let refused = call(
        &client,
        "call_integration",
        json!({"integration": "Internal reporting API", "method": "GET"}),
    )
    .await;
    assert_tool_error(&refused, "call_not_allowed", Some("allowedMethods"));

    // Disconnected through the API: the stdio server notices, tells the client, drops the tool.
    let (status, _) = app
        .delete(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(status, 200);
    eventually(POLL_WAIT, || async {
        (watcher.changes() >= 1).then_some(())
    })
    .await;
    assert!(!names(&tools(&client).await).contains(&"internal_reporting_api".to_string()));
    let gone = call(&client, "internal_reporting_api", json!({})).await;
    assert_tool_error(&gone, "integration_disconnected", None);
    assert!(text(&gone).contains("Internal reporting API"));
    assert_eq!(up.count(), 1);
    client.cancel().await.unwrap();
}

/// A `hookd mcp` process driven line by line.
struct Lines {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Lines {
    fn start(mut command: tokio::process::Command) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start hookd mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    async fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The answer to request `id` (skipping notifications).
    async fn answer(&mut self, id: u64) -> Value {
        let read = async {
            loop {
                let line = self.stdout.next_line().await.unwrap().expect("a line");
                let message: Value =
                    serde_json::from_str(&line).expect("stdout carries JSON-RPC only");
                if message["id"] == id {
                    return message;
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(20), read)
            .await
            .expect("an answer within 20 s")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_sends_the_callers_bytes_and_survives_garbage() {
    let app = spawn_app().await;
    let up = upstream().await;
    create(
        &app,
        &app.live_key,
        json!({"name": "Internal reporting API", "url": up.url("/")}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut mcp = Lines::start(hookd_mcp(&app, &app.live_key, dir.path()));
    mcp.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"lines","version":"1"}}}"#).await;
    let init = mcp.answer(1).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "hookd", "{init}");
    mcp.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;

    // Garbage lines: answered with errors or ignored, never the end of the server.
    for garbage in [
        "{",
        "[1, 2]",
        "null",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/frobnicate"}"#,
    ] {
        mcp.send(garbage).await;
    }
    let unknown = mcp.answer(2).await;
    assert!(unknown["error"]["code"].is_i64(), "{unknown}");

    let written = r#"{"zeta": 1.50, "alpha": [3, 2.0, 1e2], "nested": {"b": 1, "a": 2}}"#;
    mcp.send(&format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"internal_reporting_api","arguments":{{"body":{written}}}}}}}"#
    ))
    .await;
    let answer = mcp.answer(3).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(std::str::from_utf8(&up.last().body).unwrap(), written);

    mcp.send(
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#,
    )
    .await;
    let unknown_tool = mcp.answer(4).await;
    assert_eq!(unknown_tool["error"]["code"], -32602, "{unknown_tool}");
    assert_eq!(up.count(), 1);

    // Closing stdin ends the server cleanly.
    drop(mcp.stdin);
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), mcp.child.wait())
        .await
        .expect("hookd mcp exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn stdio_without_a_usable_key_fails_clearly() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = cli_support::command(dir.path());
    command.arg("mcp").env("HOOKD_API_URL", &app.base_url);
    let run = cli_support::finish(command).await;
    run.fails(2, "HOOKD_API_KEY");

    // A revoked or unknown key: the server starts, and every tool answers the API's 401.
    let mut mcp = Lines::start(hookd_mcp(
        &app,
        "scripe_sk_live_0000000000000000000000000000000000",
        dir.path(),
    ));
    mcp.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"lines","version":"1"}}}"#).await;
    mcp.answer(1).await;
    mcp.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    mcp.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_event_types","arguments":{}}}"#).await;
    let answer = mcp.answer(2).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["error"]["code"],
        "unauthorized"
    );
    mcp.send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#)
        .await;
    let listed = mcp.answer(3).await;
    assert!(
        listed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unauthorized"),
        "{listed}"
    );
}
