//! The embedded SQLite backend: one file in WAL mode, `synchronous = FULL` (a commit is on disk
//! when it returns), one writer thread doing group commit, and a pool of readers that never wait
//! for it (WAL readers see the last commit without locking).
//!
//! Writes run on the writer thread with `rusqlite` (see `writer.rs` for why); reads go through
//! an async `sqlx` pool. Both link the one bundled SQLite library.

pub mod backup;
mod deliveries;
mod endpoints;
mod erasure;
mod error;
mod events;
mod idempotency;
mod insights;
mod integrations;
mod key_cache;
mod portal;
mod publish;
mod retention;
mod tenancy;
#[cfg(test)]
mod upgrade_tests;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

use crate::store::StoreResult;
use error::conflict_or;
use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    /// The database file (erasure checkpoints its WAL on a connection of its own).
    path: PathBuf,
    writer: Writer,
    readers: SqlitePool,
    key_cache: key_cache::KeyCache,
    /// The next free attempt slot of each rate-limited endpoint (unix microseconds). SQLite
    /// runs one node, so pacing needs no shared state and costs no write.
    rate_slots: std::sync::Mutex<std::collections::HashMap<crate::domain::ids::EndpointId, i64>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub async fn open(path: &Path, readers: u32) -> anyhow::Result<Self> {
        // Before SQLite opens it: a 0600 database gets 0600 `-wal`/`-shm` files.
        crate::data_dir::prepare(path)?;
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
        let mut migrate_conn = options
            .clone()
            .connect()
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        MIGRATOR
            .run(&mut migrate_conn)
            .await
            .with_context(|| format!("migrating SQLite database {}", path.display()))?;
        migrate_conn
            .close()
            .await
            .context("closing the migration connection")?;
        // A reader hands rows to the query's stream through a channel this many rows deep (50
        // by default): streamed lists (events, whose data runs to 1 MiB each) would otherwise
        // buffer up to 50 rows ahead of the page budget that stops reading them.
        let readers = SqlitePoolOptions::new()
            .max_connections(readers.max(2))
            .connect_with(options.read_only(true).row_buffer_size(4))
            .await
            .context("opening SQLite readers")?;
        let write_conn = open_writer(path)
            .with_context(|| format!("opening SQLite database {} for writing", path.display()))?;
        let writer = Writer::start(write_conn, writer::LINGER)
            .context("starting the SQLite writer thread")?;
        let key_cache = key_cache::KeyCache::open(path).with_context(|| {
            format!(
                "opening SQLite database {} for the key cache",
                path.display()
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            readers,
            key_cache,
            rate_slots: Default::default(),
        })
    }
}

/// The writer thread's connection, with the same durability settings as the readers'.
fn open_writer(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Deleted and overwritten content is zeroed, not left in free space: what erasure and
    // retention remove must be gone from the file. Costs extra page writes only for deletes.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Every statement the writer runs stays prepared.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Runs a cached statement on the writer connection; the number of rows it changed.
pub(super) fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Runs a cached query on the writer connection and maps every row.
pub(super) fn query_all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut map: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Like [`query_all`], for at most one row. Every row is still stepped through, so an
/// `UPDATE … RETURNING` always completes.
pub(super) fn query_opt<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    Ok(query_all(conn, sql, params, map)?.into_iter().next())
}
