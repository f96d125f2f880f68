//! A cache of authenticated API keys that still honours revocation at once.
//!
//! Looking a key up costs a round trip to SQLite's reader thread on every request, which under
//! load was a large share of the CPU. Successful lookups are therefore cached — but a revoked key
//! must get 401 from the very next request, even when `hookd keys revoke` runs in another
//! process. So every revocation, after its commit, rewrites a marker file beside the database,
//! and every lookup first checks the marker's modification time (one `stat`, no thread hop): if
//! it changed, the whole cache is dropped. Unknown keys are never cached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::domain::ids::ApiKeyId;
use crate::domain::tenant::Tenant;

/// Bounds memory: past this many keys the cache starts over.
const MAX_ENTRIES: usize = 10_000;

/// The marker's time when a lookup missed the cache.
pub(super) struct Ticket(Option<SystemTime>);

pub(super) struct KeyCache {
    marker: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    marker_seen: Option<SystemTime>,
    keys: HashMap<String, (ApiKeyId, Tenant)>,
}

impl KeyCache {
    pub(super) fn new(database: &Path) -> Self {
        let mut marker = database.as_os_str().to_owned();
        marker.push(".revocations");
        Self {
            marker: PathBuf::from(marker),
            state: Mutex::new(State::default()),
        }
    }

    fn marker_time(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.marker)
            .and_then(|m| m.modified())
            .ok()
    }

    /// A cached key, or the ticket to present with the database's answer to [`KeyCache::put`].
    pub(super) fn get(&self, key_hash: &str) -> Result<(ApiKeyId, Tenant), Ticket> {
        let now = self.marker_time();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.marker_seen != now {
            state.keys.clear();
            state.marker_seen = now;
        }
        state.keys.get(key_hash).cloned().ok_or(Ticket(now))
    }

    /// Remembers a database answer, unless a revocation was marked since the ticket was taken
    /// (before the database was asked): then the answer may already be stale.
    pub(super) fn put(&self, key_hash: &str, found: &(ApiKeyId, Tenant), ticket: Ticket) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.marker_time() != ticket.0 || state.marker_seen != ticket.0 {
            return;
        }
        if state.keys.len() >= MAX_ENTRIES {
            state.keys.clear();
        }
        state.keys.insert(key_hash.to_string(), found.clone());
    }

    /// Marks that a key was revoked: every process's cache is dropped before its next lookup.
    pub(super) fn revoked(&self) {
        let stamp = format!("{:?}\n", SystemTime::now());
        if let Err(e) = std::fs::write(&self.marker, stamp) {
            tracing::error!(error = %e, path = %self.marker.display(), "could not mark a revocation");
        }
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .clear();
    }
}
