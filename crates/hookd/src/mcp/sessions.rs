//! The MCP sessions this node serves, by tenant, and the `notifications/tools/list_changed`
//! they are sent when an integration of their workspace and mode is created, edited or
//! disconnected.
//!
//! Scope: the sessions live in this process (rmcp keeps a session's state in memory), so the
//! node that served a change notifies its own sessions of that tenant. With several nodes on
//! PostgreSQL a session on another node is not told; it sees the change on its next
//! `tools/list` (and `hookd mcp` over stdio polls; see `stdio.rs`). A load balancer in front of
//! several nodes must route by the `Mcp-Session-Id` header, which every MCP session needs anyway.
//!
//! The registry also binds each session id to the API key that opened it, so a session id
//! presented with another key is refused (`http.rs`).

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::service::Peer;
use rmcp::RoleServer;

use crate::domain::ids::ApiKeyId;
use crate::domain::tenant::Tenant;

/// Every live session's peer, tagged with its tenant, plus the key each session id belongs to.
#[derive(Default)]
pub struct Sessions {
    peers: Mutex<Vec<(Tenant, Peer<RoleServer>)>>,
    owners: Mutex<HashMap<String, ApiKeyId>>,
}

impl Sessions {
    /// Remembers an initialised session of `tenant`, to notify it of changes.
    pub fn register(&self, tenant: Tenant, peer: Peer<RoleServer>) {
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.retain(|(_, p)| !p.is_transport_closed());
        peers.push((tenant, peer));
    }

    /// Records that the session `id` was opened with `key`.
    pub fn bind(&self, id: &str, key: &ApiKeyId) {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.insert(id.to_string(), key.clone());
    }

    /// Whether `key` may use the session `id`: true for its own sessions and for ids this node
    /// never issued (rmcp then answers "session not found" itself).
    pub fn may_use(&self, id: &str, key: &ApiKeyId) -> bool {
        let owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.get(id).is_none_or(|owner| owner == key)
    }

    /// Forgets a session (closed with DELETE).
    pub fn forget(&self, id: &str) {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.remove(id);
    }

    /// Sends `notifications/tools/list_changed` to every live session of `tenant`, in the
    /// background (a slow client never holds up the API answer that caused it).
    pub fn tools_changed(&self, tenant: &Tenant) {
        let targets: Vec<Peer<RoleServer>> = {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            peers.retain(|(_, p)| !p.is_transport_closed());
            peers
                .iter()
                .filter(|(t, _)| t == tenant)
                .map(|(_, p)| p.clone())
                .collect()
        };
        if targets.is_empty() {
            return;
        }
        metrics::counter!("hookd_mcp_list_changed_total").increment(targets.len() as u64);
        tokio::spawn(async move {
            for peer in targets {
                if let Err(e) = peer.notify_tool_list_changed().await {
                    tracing::debug!(error = %e, "could not notify an MCP session");
                }
            }
        });
    }
}
