//! A database written by an earlier version keeps everything through the migrations that rebuild
//! its tables.

use std::path::Path;
use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::SqliteStore;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::{DeliveryId, EventId, WorkspaceId};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;
use crate::store::{DeliveryStore, EventStore, Lease, PageRequest};

/// The migrations up to the last one before the hot tables were rebuilt.
const BEFORE_REBUILD: [&str; 2] = ["0001_foundation.sql", "0002_integrations.sql"];

/// A migrator that knows only the migrations in [`BEFORE_REBUILD`] (copied into `scratch`).
async fn earlier_migrator(scratch: &Path) -> Migrator {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let earlier = scratch.join("earlier-migrations");
    std::fs::create_dir(&earlier).unwrap();
    for name in BEFORE_REBUILD {
        std::fs::copy(source.join(name), earlier.join(name)).unwrap();
    }
    Migrator::new(earlier.as_path()).await.unwrap()
}

/// Rows as the earlier schema held them: a tenant with an endpoint, two events (one delivered,
/// one waiting for a retry) and their attempts.
const EARLIER_ROWS: &str = "
    INSERT INTO workspaces (id, name, created_at) VALUES ('ws_01', 'acme', 1);
    INSERT INTO endpoints (id, workspace_id, mode, name, url, events, project_id, is_active,
        signing_keys, secret_last4, created_at, updated_at)
        VALUES ('whe_01', 'ws_01', 'live', 'hooks', 'https://example.com/hooks',
                '[\"post.created\"]', NULL, 1, x'00', 'abcd', 1, 1);
    INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, delivery_count)
        VALUES ('evt_01', 'ws_01', 'live', 'post.created', NULL, '{\"n\":1}', 1000, 1),
               ('evt_02', 'ws_01', 'live', 'post.created', NULL, '{\"n\":2}', 2000, 1);
    INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count,
        next_attempt_at, last_status_code, created_at, updated_at)
        VALUES ('dlv_01', 'ws_01', 'live', 'evt_01', 'whe_01', 'succeeded', 1, NULL, 200, 1000, 1100),
               ('dlv_02', 'ws_01', 'live', 'evt_02', 'whe_01', 'pending', 1, 2500, 500, 2000, 2100);
    INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_body)
        VALUES ('att_01', 'dlv_01', 1050, 12, 200, NULL, 'ok'),
               ('att_02', 'dlv_02', 2050, 30, 500, NULL, 'boom');
";

#[tokio::test]
async fn events_deliveries_and_attempts_survive_the_table_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookd.db");
    let earlier = earlier_migrator(dir.path()).await;
    let mut conn = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true)
        .connect()
        .await
        .unwrap();
    earlier.run(&mut conn).await.unwrap();
    sqlx::raw_sql(EARLIER_ROWS)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path, 2).await.unwrap();
    let tenant = Tenant {
        workspace_id: WorkspaceId::from_trusted("ws_01".into()),
        mode: Mode::Live,
    };
    let event = store
        .get_event(&tenant, &EventId::from_trusted("evt_01".into()))
        .await
        .unwrap()
        .expect("the event is still there");
    assert_eq!(event.data.get(), r#"{"n":1}"#);
    let page = store
        .list_events(
            &tenant,
            &crate::store::EventFilter::default(),
            &PageRequest::new(10, None),
        )
        .await
        .unwrap();
    let listed: Vec<_> = page.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed, ["evt_02", "evt_01"]);

    let (delivery, attempts) = store
        .get_delivery(&tenant, &DeliveryId::from_trusted("dlv_02".into()))
        .await
        .unwrap()
        .expect("the delivery is still there");
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_body, "boom");

    // The waiting delivery is still due, and its job carries its event's payload.
    let lease = Lease {
        owner: "node".into(),
        until: Timestamp::from_millis(10_000_000),
    };
    let jobs = store
        .claim_due(Timestamp::from_millis(3000), 10, &lease)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].delivery_id.as_str(), "dlv_02");
    let payload = String::from_utf8(jobs[0].payload.to_vec()).unwrap();
    assert!(payload.contains(r#""n":2"#), "{payload}");

    // Every reference still points at an existing row.
    let dangling: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&store.readers)
        .await
        .unwrap();
    assert!(dangling.is_empty(), "{dangling:?}");
}
