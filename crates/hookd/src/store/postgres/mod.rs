//! The PostgreSQL backend, for running any number of `hookd serve` processes on one database.
//!
//! Each write is its own transaction on a pooled connection; PostgreSQL already group-commits
//! concurrent transactions' WAL flushes, so no writer task is needed here. Work is shared through
//! leases: pollers claim due deliveries with `FOR UPDATE SKIP LOCKED`, so two nodes never claim
//! the same row, and a dead node's leases simply expire. Migrations run under sqlx's advisory
//! lock, so nodes starting together apply them once.

mod deliveries;
mod endpoints;
mod events;
mod idempotency;
mod integrations;
mod rate_limit;
mod tenancy;

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::store::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects, and applies migrations under an advisory lock (safe with nodes starting together).
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .context("connecting to PostgreSQL (HOOKD_DATABASE_URL)")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Maps a unique-constraint failure to `Conflict(what)`, anything else to a database error.
pub(super) fn conflict_or(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
