//! What the writer thread knows about endpoints between statements: each publish's fan-out
//! (which endpoints an event of this tenant, project and type goes to) and which endpoints are
//! known not to be failing, so the hot writes skip a query and an `UPDATE` per event.
//!
//! Both answers are only ever reused while nothing about any endpoint can have changed:
//! - every change this process makes goes through the writer connection, whose update hook
//!   forgets everything the moment a row of `endpoints` is inserted, updated or deleted (the
//!   table has rowids, so the hook sees every change to it);
//! - a change by any other connection (another process on the same file, a CLI command) moves
//!   `PRAGMA data_version`, which the writer reads at the start of every batch, inside its write
//!   transaction, before any write of the batch runs;
//! - a rolled-back transaction forgets everything too, because what was learnt inside it may
//!   describe rows that no longer exist.
//!
//! The state lives in a thread local: only the writer thread's closures use it, and every
//! store has its own writer thread, so two stores in one process never share it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::domain::ids::EndpointId;

/// Fan-outs remembered at most; past this, everything is forgotten and learnt again (a
/// workspace with more distinct tenant × project × type combinations than this just queries).
const MAX_FAN_OUTS: usize = 4096;
/// Endpoints remembered as healthy at most, for the same reason.
const MAX_HEALTHY: usize = 16_384;

/// A fan-out's inputs: workspace, mode, project and the event type (quoted as the query wants).
pub(super) type FanOutKey = (String, String, Option<String>, String);

#[derive(Default)]
struct Known {
    fan_outs: HashMap<FanOutKey, Vec<EndpointId>>,
    healthy: HashSet<EndpointId>,
    /// `PRAGMA data_version` when the state above was last known valid.
    data_version: Option<i64>,
}

impl Known {
    fn clear(&mut self) {
        self.fan_outs.clear();
        self.healthy.clear();
    }
}

thread_local! {
    static KNOWN: RefCell<Known> = RefCell::new(Known::default());
}

/// Forgets everything (an endpoint changed, or a transaction rolled back).
pub(super) fn forget() {
    KNOWN.with_borrow_mut(Known::clear);
}

/// Called right after the writer begins a transaction, holding the write lock (so no other
/// connection can commit until it ends): forgets everything when another connection committed
/// since the last call, or when that cannot be told.
pub(super) fn transaction_began(conn: &rusqlite::Connection) {
    let version = conn
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)));
    KNOWN.with_borrow_mut(|known| {
        let version = version
            .inspect_err(|e| tracing::warn!(error = %e, "could not read data_version"))
            .ok();
        if version.is_none() || known.data_version != version {
            known.clear();
            known.data_version = version;
        }
    });
}

/// The remembered fan-out for `key`, if any.
pub(super) fn fan_out(key: &FanOutKey) -> Option<Vec<EndpointId>> {
    KNOWN.with_borrow(|known| known.fan_outs.get(key).cloned())
}

/// Remembers a fan-out just read inside the current transaction.
pub(super) fn remember_fan_out(key: FanOutKey, endpoints: &[EndpointId]) {
    KNOWN.with_borrow_mut(|known| {
        if known.fan_outs.len() >= MAX_FAN_OUTS {
            known.fan_outs.clear();
        }
        known.fan_outs.insert(key, endpoints.to_vec());
    });
}

/// Whether `endpoint` is known to have no failing streak.
pub(super) fn is_healthy(endpoint: &EndpointId) -> bool {
    KNOWN.with_borrow(|known| known.healthy.contains(endpoint))
}

/// Remembers that `endpoint` has no failing streak (just made so inside the transaction).
pub(super) fn remember_healthy(endpoint: &EndpointId) {
    KNOWN.with_borrow_mut(|known| {
        if known.healthy.len() >= MAX_HEALTHY {
            known.healthy.clear();
        }
        known.healthy.insert(endpoint.clone());
    });
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use crate::domain::event::NewEvent;
    use crate::domain::ids::EventId;
    use crate::domain::tenant::{Mode, Tenant};
    use crate::domain::time::Timestamp;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{AdminStore, EventStore, Lease};

    /// Another connection to the file (another process, in real life) adds an endpoint and
    /// then deactivates it: the very next publish through the store follows each change, though
    /// the writer had remembered the fan-out from the publish before.
    #[tokio::test]
    async fn a_change_by_another_connection_reaches_the_next_publish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookd.db");
        let store = SqliteStore::open(&path, 2).await.unwrap();
        let workspace = store.create_workspace("acme").await.unwrap();
        let tenant = Tenant {
            workspace_id: workspace.id.clone(),
            mode: Mode::Live,
        };
        let deliveries = || async {
            let event = NewEvent {
                id: EventId::generate(),
                event_type: "post.created".into(),
                project_id: None,
                data: RawValue::from_string("{}".into()).unwrap(),
                created_at: Timestamp::now(),
            };
            let lease = Lease {
                owner: "node".into(),
                until: Timestamp::now().plus_millis(60_000),
            };
            let (stored, _) = store.publish_event(&tenant, event, &lease).await.unwrap();
            stored.delivery_count
        };
        assert_eq!(deliveries().await, 0);
        assert_eq!(deliveries().await, 0);

        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute(
                "INSERT INTO endpoints (id, workspace_id, mode, name, url, events, project_id, \
                 is_active, signing_keys, secret_last4, created_at, updated_at) \
                 VALUES ('whe_other', ?1, 'live', 'hooks', 'https://example.com/hooks', \
                 '[\"post.created\"]', NULL, 1, x'00', 'abcd', 1, 1)",
                [workspace.id.as_str()],
            )
            .unwrap();
        assert_eq!(deliveries().await, 1);
        assert_eq!(deliveries().await, 1);

        other
            .execute(
                "UPDATE endpoints SET is_active = 0 WHERE id = 'whe_other'",
                [],
            )
            .unwrap();
        assert_eq!(deliveries().await, 0);
    }
}
