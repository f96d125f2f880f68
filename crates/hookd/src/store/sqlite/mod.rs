//! The embedded SQLite backend: one file in WAL mode, `synchronous = FULL` (a commit is on disk
//! when it returns), one writer task doing group commit, and a pool of readers that never wait
//! for it (WAL readers see the last commit without locking).

mod batching;
mod deliveries;
mod endpoints;
mod events;
mod idempotency;
mod integrations;
mod key_cache;
mod tenancy;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    writer: Writer,
    readers: SqlitePool,
    publisher: batching::Batcher<batching::PublishInput, batching::PublishOutput>,
    recorder: batching::Batcher<batching::RecordInput, ()>,
    key_cache: key_cache::KeyCache,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub async fn open(path: &Path, readers: u32) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .context("building SQLite options")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .log_statements(tracing::log::LevelFilter::Trace);
        let mut write_conn = options
            .clone()
            .connect()
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        MIGRATOR
            .run(&mut write_conn)
            .await
            .with_context(|| format!("migrating SQLite database {}", path.display()))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(readers.max(2))
            .connect_with(options.read_only(true))
            .await
            .context("opening SQLite readers")?;
        write_conn.ping().await.context("pinging SQLite")?;
        let writer = Writer::start(write_conn);
        Ok(Self {
            publisher: batching::Batcher::start(writer.clone(), batching::publish_batch),
            recorder: batching::Batcher::start(writer.clone(), batching::record_batch),
            writer,
            readers,
            key_cache: key_cache::KeyCache::new(path),
        })
    }
}

/// Maps a unique-constraint failure to `Conflict(what)`, anything else to a database error.
pub(super) fn conflict_or(e: sqlx::Error, what: &'static str) -> crate::store::StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            crate::store::StoreError::Conflict(what)
        }
        _ => crate::store::StoreError::Database(e),
    }
}
