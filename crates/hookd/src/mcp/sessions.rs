//! The MCP sessions this node serves: which API key opened each (so a session id presented with
//! another key is refused, see `http.rs`), its tenant, and its peer, which is sent
//! `notifications/tools/list_changed` when an integration of its workspace and mode is created,
//! edited or disconnected.
//!
//! Scope: the sessions live in this process (rmcp keeps a session's state in memory), so the
//! node that served a change notifies its own sessions of that tenant. With several nodes on
//! PostgreSQL a session on another node is not told; it sees the change on its next
//! `tools/list` (and `hookd mcp` over stdio polls; see `stdio.rs`). A load balancer in front of
//! several nodes must route by the `Mcp-Session-Id` header, which every MCP session needs anyway.
//!
//! Entries go when their session closes (its peer's transport is closed) or is deleted; sessions
//! that were opened but never initialised are dropped once there are too many of them.

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::service::Peer;
use rmcp::RoleServer;

use crate::domain::ids::ApiKeyId;
use crate::domain::tenant::Tenant;

/// Above this many entries, sessions never initialised are forgotten.
const MAX_UNINITIALISED: usize = 10_000;

struct Entry {
    key: ApiKeyId,
    tenant: Tenant,
    /// Set once the client sent `notifications/initialized`.
    peer: Option<Peer<RoleServer>>,
}

/// The live sessions, by session id.
#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the session `id` was opened with `key` for `tenant`.
    pub fn bind(&self, id: &str, key: &ApiKeyId, tenant: &Tenant) {
        let mut entries = self.entries();
        entries.retain(|_, e| !e.peer.as_ref().is_some_and(Peer::is_transport_closed));
        if entries.len() >= MAX_UNINITIALISED {
            entries.retain(|_, e| e.peer.is_some());
        }
        entries.entry(id.to_string()).or_insert_with(|| Entry {
            key: key.clone(),
            tenant: tenant.clone(),
            peer: None,
        });
    }

    /// Remembers the peer of an initialised session, to notify it of changes.
    pub fn register(&self, id: &str, peer: Peer<RoleServer>) {
        if let Some(entry) = self.entries().get_mut(id) {
            entry.peer = Some(peer);
        }
    }

    /// Whether `key` may use the session `id`: true for its own sessions and for ids this node
    /// does not know (rmcp then answers "session not found" itself).
    pub fn may_use(&self, id: &str, key: &ApiKeyId) -> bool {
        self.entries().get(id).is_none_or(|e| &e.key == key)
    }

    /// Forgets a session (closed with DELETE).
    pub fn forget(&self, id: &str) {
        self.entries().remove(id);
    }

    /// Sends `notifications/tools/list_changed` to every live session of `tenant`, in the
    /// background (a slow client never holds up the API answer that caused it).
    pub fn tools_changed(&self, tenant: &Tenant) {
        let targets: Vec<Peer<RoleServer>> = {
            let mut entries = self.entries();
            entries.retain(|_, e| !e.peer.as_ref().is_some_and(Peer::is_transport_closed));
            entries
                .values()
                .filter(|e| &e.tenant == tenant)
                .filter_map(|e| e.peer.clone())
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
