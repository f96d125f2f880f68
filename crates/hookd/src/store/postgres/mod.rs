//! The PostgreSQL backend, for running any number of `hookd serve` processes on one database.
//!
//! Each write is its own transaction on a pooled connection; PostgreSQL already group-commits
//! concurrent transactions' WAL flushes. Publishes, the hot acknowledged write, are collected
//! into one statement per batch by `publisher.rs` (one flush for many events). Attempt results are
//! batched the same way by `recorder.rs`, and go through a second, smaller pool whose sessions commit asynchronously
//! (`synchronous_commit = off`): they are the delivery engine's bookkeeping, not an accepted
//! event, and if PostgreSQL crashes before flushing one, the delivery is simply attempted again
//! (at-least-once; a duplicate only around a crash). That pool also plans without sequential
//! scans where an index serves (`enable_seqscan = off`): its statements reach deliveries by key,
//! and a plan made while a fresh table was small kept scanning it whole as it grew (see `open`,
//! and docs/performance.md). Everything the API acknowledges, a publish
//! above all, still waits for its WAL flush. Work is shared through
//! leases: pollers claim due deliveries with `FOR UPDATE SKIP LOCKED`, so two nodes never claim
//! the same row, and a dead node's leases simply expire. Migrations run under sqlx's advisory
//! lock, so nodes starting together apply them once.

mod batcher;
mod deliveries;
mod endpoints;
mod erasure;
mod error;
mod events;
mod idempotency;
mod insights;
mod integrations;
mod pacing;
mod portal;
mod publisher;
mod rate_limit;
mod recorder;
mod retention;
mod tenancy;

use std::time::Duration;

use anyhow::Context;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use error::conflict_or;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PostgresStore {
    pool: PgPool,
    /// Asynchronous commit, for attempt results only (see the module docs).
    results: PgPool,
    /// Group commit of concurrent publishes (see `publisher.rs`).
    publisher: publisher::Publisher,
    /// Batched write-back of attempt results, on `results` (see `recorder.rs`).
    recorder: recorder::Recorder,
    /// Batched admissions of the shared rate limit (see `rate_limit.rs`).
    limiter: rate_limit::Limiter,
    /// Batched API key look-ups (see `tenancy.rs`).
    key_lookups: tenancy::KeyLookups,
}

impl PostgresStore {
    /// Connects, and applies migrations under an advisory lock (safe with nodes starting together).
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("HOOKD_DATABASE_URL is not a PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .context("connecting to PostgreSQL (HOOKD_DATABASE_URL)")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        let results = PgPoolOptions::new()
            .max_connections(max_connections.div_ceil(2))
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.options([
                ("synchronous_commit", "off"),
                // Every statement on this pool reaches deliveries by key. Its plan is made
                // once per connection, often while the table is still small, and the planner
                // then picks a sequential scan that it keeps as the table grows: a burst on a
                // fresh database read about 200 delivery rows per result that way.
                ("enable_seqscan", "off"),
            ]))
            .await
            .context("connecting to PostgreSQL (HOOKD_DATABASE_URL)")?;
        Ok(Self {
            publisher: publisher::start(pool.clone()),
            recorder: recorder::start(results.clone()),
            limiter: rate_limit::start(pool.clone()),
            key_lookups: tenancy::start_key_lookups(pool.clone()),
            pool,
            results,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
