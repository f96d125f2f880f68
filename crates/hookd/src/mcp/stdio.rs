//! `hookd mcp`: MCP over stdio, for desktop agents that start their servers as processes.
//!
//! It holds no database: every tool is a request to a running hookd's HTTP API with
//! `HOOKD_API_KEY` (see `backend.rs`), so the key's workspace, mode, rate limit and revocation
//! apply exactly as over `/mcp`. Standard output carries only MCP messages; diagnostics go to
//! standard error.
//!
//! Standard input is read line by line by a small pump that keeps the raw `body` of each tool
//! call's `body` and `data` (see `raw_body.rs`) before handing the line to rmcp through an in-memory pipe.
//!
//! A process cannot be told of changes made through another server's API, so this one polls:
//! every [`POLL`] it lists the integrations and sends `notifications/tools/list_changed` when
//! the set (ids, names, settings) differs from the last one.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rmcp::ServiceExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::backend::{ApiRequest, Backend};
use super::raw_body::{tap, PendingBodies};
use super::server::HookdMcp;
use crate::client::ApiClient;

/// How often the integrations are checked for changes.
pub const POLL: Duration = Duration::from_secs(5);

/// A line longer than this is not a message a client sends; it is passed on and rmcp refuses it.
const PIPE_BUFFER: usize = 64 * 1024;

/// Serves MCP on stdin/stdout until the client closes stdin.
pub async fn run(client: ApiClient) -> anyhow::Result<()> {
    let client = Arc::new(client);
    let pending = Arc::new(PendingBodies::default());
    let (mut to_rmcp, from_pump) = tokio::io::duplex(PIPE_BUFFER);
    let pump_pending = Arc::clone(&pending);
    let pump = tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if let Some((id, raw)) = tap(&line) {
                pump_pending.put(id, raw);
            }
            if to_rmcp.write_all(&line).await.is_err() {
                break;
            }
        }
        // Dropping the pipe's end tells rmcp the client is gone.
    });
    let service = HookdMcp::remote(Arc::clone(&client), pending)
        .serve((from_pump, tokio::io::stdout()))
        .await
        .context("starting the MCP session on stdio")?;
    let peer = service.peer().clone();
    let backend = Backend::Remote(client);
    let poller = tokio::spawn(async move {
        let mut last = fingerprint(&backend).await;
        loop {
            tokio::time::sleep(POLL).await;
            let now = fingerprint(&backend).await;
            if now.is_some() && now != last {
                if last.is_some() && peer.notify_tool_list_changed().await.is_err() {
                    break;
                }
                last = now;
            }
        }
    });
    let outcome = service.waiting().await;
    poller.abort();
    pump.abort();
    outcome.context("serving MCP on stdio")?;
    Ok(())
}

/// What the tool list depends on: the connected integrations' JSON (first 100); `None` when the
/// API could not be asked.
async fn fingerprint(backend: &Backend) -> Option<bytes::Bytes> {
    let answer = backend
        .send(ApiRequest::get("/v1/integrations").query("limit", "100"))
        .await
        .ok()?;
    (answer.status == 200).then_some(answer.body)
}
