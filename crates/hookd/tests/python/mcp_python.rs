//! The official Python MCP SDK (`mcp` on PyPI) as the client, over both transports: Streamable
//! HTTP at `/mcp` and `hookd mcp` over stdio. It initialises, lists the tools and finds
//! `internal_reporting_api`, calls it and gets the upstream's JSON, is refused a call outside
//! the integration's policy, disconnects the integration through the REST API, receives
//! `notifications/tools/list_changed`, no longer lists the tool and gets a tool error naming
//! the integration when calling it. The credentials appear nowhere in what it received.
//!
//! Needs [`PACKAGE`]; without it `main.rs` reports the tests ignored (under `CI`, fails the run).

use std::io::Write;
use std::process::Stdio;

use serde_json::{json, Value};

use crate::fixtures::create_integration;
use crate::harness::*;
use crate::upstream::{raw, Upstream};
use crate::Package;

/// The official Python MCP SDK, the version `.ci/run` installs.
pub const PACKAGE: Package = Package {
    name: "mcp",
    import: "import mcp.client.streamable_http, mcp.client.stdio",
    pip_install: "python3 -m pip install 'mcp==1.26.0'",
};
const TOKEN: &str = "tok_live_PYq3k9ZpX7mW2vR8sT4yB6";

/// Reads its configuration as JSON on stdin, prints one JSON document of what it saw.
const CLIENT: &str = r#"
import json, sys, urllib.request
import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

cfg = json.load(sys.stdin)
out = {"received": []}

def keep(result):
    out["received"].append(result.model_dump_json())
    return result

async def run(read, write):
    changed = anyio.Event()
    async def on_message(message):
        if isinstance(message, types.ServerNotification) and isinstance(
                message.root, types.ToolListChangedNotification):
            changed.set()
    async with ClientSession(read, write, message_handler=on_message) as session:
        init = keep(await session.initialize())
        out["server"] = init.serverInfo.name
        listed = keep(await session.list_tools())
        out["tools"] = [t.name for t in listed.tools]
        result = keep(await session.call_tool("internal_reporting_api", {"body": {"summary": "3 orders"}}))
        out["call"] = {"isError": result.isError, "text": result.content[0].text}
        result = keep(await session.call_tool(
            "call_integration", {"integration": "Internal reporting API", "method": "DELETE"}))
        out["refused"] = {"isError": result.isError, "text": result.content[0].text}
        request = urllib.request.Request(
            cfg["api"] + "/v1/integrations/" + cfg["id"], method="DELETE",
            headers={"Authorization": "Bearer " + cfg["key"]})
        urllib.request.urlopen(request).read()
        with anyio.fail_after(30):
            await changed.wait()
        listed = keep(await session.list_tools())
        out["tools_after"] = [t.name for t in listed.tools]
        result = keep(await session.call_tool("internal_reporting_api", {"body": {}}))
        out["gone"] = {"isError": result.isError, "text": result.content[0].text}

async def main():
    if cfg["transport"] == "http":
        headers = {"Authorization": "Bearer " + cfg["key"]}
        async with streamablehttp_client(cfg["api"] + "/mcp", headers=headers) as (read, write, _):
            await run(read, write)
    else:
        params = StdioServerParameters(command=cfg["hookd"], args=["mcp"], env={
            "HOOKD_API_URL": cfg["api"], "HOOKD_API_KEY": cfg["key"], "RUST_LOG": "warn"})
        async with stdio_client(params) as (read, write):
            await run(read, write)

anyio.run(main)
print(json.dumps(out))
"#;

/// Runs the Python client (in a blocking thread, so this runtime keeps serving the API).
async fn run_client(config: Value) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = crate::python()
            .args(["-c", CLIENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the Python interpreter");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(config.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the Python MCP client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the client prints JSON")
    })
    .await
    .unwrap()
}

async fn agent_session(transport: &str) {
    let app = spawn_app().await;
    let up = Upstream::start(|_| {
        raw(
            200,
            &[("content-type", "application/json")],
            r#"{"stored": true}"#,
        )
    })
    .await;
    let integration = create_integration(
        &app,
        &app.live_key,
        json!({"name": "Internal reporting API", "url": up.url("/v1/runs"),
               "auth": {"type": "bearer", "token": TOKEN}}),
    )
    .await;
    let id = integration["id"].as_str().unwrap();
    let seen = run_client(json!({
        "transport": transport, "api": app.base_url, "key": app.live_key, "id": id,
        "hookd": env!("CARGO_BIN_EXE_hookd"),
    }))
    .await;

    assert_eq!(seen["server"], "hookd");
    assert!(seen["tools"]
        .as_array()
        .unwrap()
        .contains(&json!("internal_reporting_api")));
    assert_eq!(seen["call"]["isError"], false, "{seen}");
    let answer: Value = serde_json::from_str(seen["call"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["body"], json!({"stored": true}));
    assert_eq!(up.last().json(), json!({"summary": "3 orders"}));
    assert_eq!(seen["refused"]["isError"], true);
    assert!(seen["refused"]["text"]
        .as_str()
        .unwrap()
        .starts_with("call_not_allowed: "));
    assert!(!seen["tools_after"]
        .as_array()
        .unwrap()
        .contains(&json!("internal_reporting_api")));
    assert_eq!(seen["gone"]["isError"], true);
    let gone = seen["gone"]["text"].as_str().unwrap();
    assert!(
        gone.starts_with("integration_disconnected: ") && gone.contains("Internal reporting API")
    );
    assert!(
        !seen.to_string().contains(TOKEN),
        "the token reached the client"
    );
    assert_eq!(up.count(), 1);
    let (_, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(log["data"][0]["via"], "mcp");
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_works_over_streamable_http() {
    agent_session("http").await;
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_works_over_stdio() {
    agent_session("stdio").await;
}
