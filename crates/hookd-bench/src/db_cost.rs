//! What the database spent per delivery, measured from the database's side.
//!
//! PostgreSQL (a connection of the harness's own to the `--postgres-url` database, so none of
//! its queries are counted against the benchmark database):
//! - `cpu_us_per_delivery`: `utime + stime` from `/proc/<pid>/stat` of every backend
//!   `pg_stat_activity` lists for the benchmark database, sampled every 100 ms from the first
//!   publish until the last delivery arrived. Each PID keeps the highest reading seen (a
//!   backend that exits keeps the CPU it had at its last sample) minus its reading at the start
//!   (zero for a backend that connected during the run, whose start-up is then counted). hookd's
//!   pools keep their connections for minutes, so in practice no backend exits mid-run.
//! - `wal_bytes_per_delivery`: `pg_wal_lsn_diff` of `pg_current_wal_lsn()` over the same window.
//!   WAL is server-wide: other databases' writes at the same moment would count too.
//! - `statements_per_delivery`, `round_trips_per_delivery`, `statement_wal_bytes_per_delivery`
//!   (the WAL of this database's statements alone, `wal_bytes`): from `pg_stat_statements` (reset
//!   for the benchmark database at the start, read at the end of the same window; `null` when
//!   the extension is not loaded). Statements exclude transaction control (`BEGIN`, `COMMIT`,
//!   …); round trips count every call, since hookd (sqlx) sends each statement, `BEGIN` and
//!   `COMMIT` included, as its own request and waits for its answer.
//! - `transactions_per_delivery` (`xact_commit`) and `rows_written_per_delivery`
//!   (`tup_inserted + tup_updated + tup_deleted`) from `pg_stat_database`. Backends publish
//!   these counters lazily (about once a second while busy), so the end is read after the
//!   server stopped, when its backends have exited and flushed: the window also covers the
//!   settle period and shutdown, when an idle hookd commits only its few polling transactions.
//!
//! SQLite: `write_bytes_per_delivery`, the `write_bytes` of `/proc/<pid>/io` of the server
//! process(es) over the delivery window: bytes the process caused to be written to storage
//! (counted when it dirties page-cache pages: WAL appends and checkpoints alike; a checkpoint
//! after the last delivery is not in the window).
//!
//! All of it is Linux-only (`/proc`); elsewhere the figures are `null`, like `cpu.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::cpu;

const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The database's cost per delivery; `null` where unknown or not applicable to the backend.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
pub struct DbCost {
    pub cpu_us_per_delivery: Option<f64>,
    pub wal_bytes_per_delivery: Option<f64>,
    pub transactions_per_delivery: Option<f64>,
    pub rows_written_per_delivery: Option<f64>,
    pub statements_per_delivery: Option<f64>,
    pub round_trips_per_delivery: Option<f64>,
    /// WAL the benchmark database's own statements wrote (`pg_stat_statements.wal_bytes`):
    /// unlike `wal_bytes_per_delivery`, untouched by other databases on the server.
    pub statement_wal_bytes_per_delivery: Option<f64>,
    /// Distinct backends (connections) of the benchmark database seen during the run.
    pub backends: Option<u64>,
    /// SQLite: bytes the server wrote to storage per delivery.
    pub write_bytes_per_delivery: Option<f64>,
    /// Growth of the database per accepted event, read after the server stopped:
    /// `pg_database_size`, or the SQLite file with its `-wal`.
    pub database_bytes_per_event: Option<f64>,
}

/// What is read once the server has stopped.
pub enum AfterStop {
    Postgres(PgWindow),
    Sqlite { file: PathBuf, size_before: u64 },
    Nothing,
}

impl AfterStop {
    /// Completes `cost` (the delivery window's figures) with what needs the server stopped.
    pub async fn finish(self, cost: DbCost, deliveries: u64, events: u64) -> DbCost {
        match self {
            AfterStop::Postgres(window) => window.finish(cost, deliveries, events).await,
            AfterStop::Sqlite { file, size_before } => DbCost {
                database_bytes_per_event: sqlite_size(&file)
                    .and_then(|after| after.checked_sub(size_before))
                    .and_then(|grown| per(grown as f64, events)),
                ..cost
            },
            AfterStop::Nothing => cost,
        }
    }
}

/// The size of a SQLite database: its file and its write-ahead log.
pub fn sqlite_size(file: &Path) -> Option<u64> {
    let main = std::fs::metadata(file).ok()?.len();
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    Some(main + std::fs::metadata(wal).map_or(0, |m| m.len()))
}

/// The PostgreSQL side of a run in progress.
pub struct PgProbe {
    pool: PgPool,
    dbid: i64,
    wal_start: String,
    stats_start: DbStats,
    size_start: i64,
    statements: bool,
    cpu: Arc<Mutex<BackendCpu>>,
    sampler: tokio::task::JoinHandle<()>,
}

/// What the delivery window measured, before the server stops.
pub struct PgWindow {
    pool: PgPool,
    dbid: i64,
    stats_start: DbStats,
    size_start: i64,
    /// The statements the database ran most often, for the progress output.
    top: Vec<(i64, String)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct DbStats {
    commits: i64,
    rows_written: i64,
}

impl PgProbe {
    /// Starts measuring database `name` on the server at `admin_url`.
    pub async fn start(admin_url: &str, name: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url} to measure the database"))?;
        let dbid: i64 = sqlx::query_scalar("SELECT oid::int8 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&pool)
            .await
            .with_context(|| format!("finding database {name}"))?;
        let statements = reset_statements(&pool, dbid).await;
        let stats_start = db_stats(&pool, dbid).await?;
        let size_start = db_size(&pool, dbid).await?;
        let wal_start: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&pool)
            .await?;
        let cpu = Arc::new(Mutex::new(BackendCpu::default()));
        let pids = backend_pids(&pool, dbid).await?;
        cpu.lock()
            .unwrap_or_else(|p| p.into_inner())
            .start(pids.iter().map(|&pid| (pid, cpu::used_by(pid))));
        let sampler = tokio::spawn(sample(pool.clone(), dbid, Arc::clone(&cpu)));
        Ok(Self {
            pool,
            dbid,
            wal_start,
            stats_start,
            size_start,
            statements,
            cpu,
            sampler,
        })
    }

    /// Ends the delivery window: CPU, WAL and statements are read now, into the returned cost.
    pub async fn delivered(self, deliveries: u64) -> anyhow::Result<(DbCost, PgWindow)> {
        self.sampler.abort();
        let pids = backend_pids(&self.pool, self.dbid).await?;
        let (cpu_us, backends) = {
            let mut cpu = self.cpu.lock().unwrap_or_else(|p| p.into_inner());
            cpu.sample(pids.iter().map(|&pid| (pid, cpu::used_by(pid))));
            (cpu.spent_us(), cpu.seen())
        };
        let wal: f64 = sqlx::query_scalar(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::float8",
        )
        .bind(&self.wal_start)
        .fetch_one(&self.pool)
        .await?;
        let (calls, top) = if self.statements {
            read_statements(&self.pool, self.dbid).await.ok().unzip()
        } else {
            (None, None)
        };
        let cost = DbCost {
            cpu_us_per_delivery: cpu_us.and_then(|us| per(us, deliveries)),
            wal_bytes_per_delivery: per(wal, deliveries),
            statements_per_delivery: calls
                .and_then(|c: Calls| per(c.statements as f64, deliveries)),
            round_trips_per_delivery: calls.and_then(|c| per(c.all as f64, deliveries)),
            statement_wal_bytes_per_delivery: calls.and_then(|c| per(c.wal_bytes, deliveries)),
            backends: Some(backends),
            ..DbCost::default()
        };
        Ok((
            cost,
            PgWindow {
                pool: self.pool,
                dbid: self.dbid,
                stats_start: self.stats_start,
                size_start: self.size_start,
                top: top.unwrap_or_default(),
            },
        ))
    }
}

impl PgWindow {
    /// The most frequent statements, one line each: calls per delivery and the query's start.
    pub fn top_lines(&self, deliveries: u64) -> Vec<String> {
        self.top
            .iter()
            .map(|(calls, query)| {
                let query: String = query
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(150)
                    .collect();
                format!(
                    "  {:>7.2}  {query}",
                    *calls as f64 / deliveries.max(1) as f64
                )
            })
            .collect()
    }

    /// Completes the figures once the server has stopped (its backends flushed their counters).
    async fn finish(self, mut cost: DbCost, deliveries: u64, events: u64) -> DbCost {
        if let Ok(size) = db_size(&self.pool, self.dbid).await {
            cost.database_bytes_per_event = per((size - self.size_start) as f64, events);
        }
        if let Ok(end) = db_stats(&self.pool, self.dbid).await {
            cost.transactions_per_delivery =
                per((end.commits - self.stats_start.commits) as f64, deliveries);
            cost.rows_written_per_delivery = per(
                (end.rows_written - self.stats_start.rows_written) as f64,
                deliveries,
            );
        }
        self.pool.close().await;
        cost
    }
}

/// Resets `pg_stat_statements` for the database; whether the extension can be used. It is
/// created in the `--postgres-url` database when the server preloads its library (creating the
/// extension only adds its views; without the library they cannot be read).
async fn reset_statements(pool: &PgPool, dbid: i64) -> bool {
    let reset = || {
        sqlx::query("SELECT pg_stat_statements_reset(0, $1::int8::oid, 0)")
            .bind(dbid)
            .execute(pool)
    };
    if reset().await.is_ok() {
        return true;
    }
    let preloaded: bool = sqlx::query_scalar(
        "SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'",
    )
    .fetch_one(pool)
    .await
    .unwrap_or(false);
    preloaded
        && sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .is_ok()
        && reset().await.is_ok()
}

#[derive(Clone, Copy, Debug)]
struct Calls {
    all: i64,
    statements: i64,
    wal_bytes: f64,
}

async fn read_statements(pool: &PgPool, dbid: i64) -> anyhow::Result<(Calls, Vec<(i64, String)>)> {
    let rows: Vec<(i64, String, f64)> = sqlx::query_as(
        "SELECT calls, query, wal_bytes::float8 FROM pg_stat_statements \
         WHERE dbid = $1::int8::oid ORDER BY calls DESC",
    )
    .bind(dbid)
    .fetch_all(pool)
    .await?;
    let mut calls = Calls {
        all: 0,
        statements: 0,
        wal_bytes: 0.0,
    };
    for (n, query, wal) in &rows {
        calls.all += n;
        calls.wal_bytes += wal;
        if !is_transaction_control(query) {
            calls.statements += n;
        }
    }
    let top = rows.into_iter().take(12).map(|(n, q, _)| (n, q)).collect();
    Ok((calls, top))
}

/// `BEGIN`, `COMMIT` and their kin: round trips, but not work of their own.
fn is_transaction_control(query: &str) -> bool {
    let first = query
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches(';')
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "BEGIN" | "COMMIT" | "ROLLBACK" | "START" | "END" | "SAVEPOINT" | "RELEASE"
    )
}

async fn db_stats(pool: &PgPool, dbid: i64) -> anyhow::Result<DbStats> {
    let (commits, rows_written): (i64, i64) = sqlx::query_as(
        "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted \
         FROM pg_stat_database WHERE datid = $1::int8::oid",
    )
    .bind(dbid)
    .fetch_one(pool)
    .await?;
    Ok(DbStats {
        commits,
        rows_written,
    })
}

async fn db_size(pool: &PgPool, dbid: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT pg_database_size($1::int8::oid)")
        .bind(dbid)
        .fetch_one(pool)
        .await?)
}

async fn backend_pids(pool: &PgPool, dbid: i64) -> anyhow::Result<Vec<u32>> {
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datid = $1::int8::oid")
            .bind(dbid)
            .fetch_all(pool)
            .await?;
    Ok(pids
        .into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect())
}

async fn sample(pool: PgPool, dbid: i64, cpu: Arc<Mutex<BackendCpu>>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        if let Ok(pids) = backend_pids(&pool, dbid).await {
            let readings: Vec<_> = pids.iter().map(|&pid| (pid, cpu::used_by(pid))).collect();
            cpu.lock()
                .unwrap_or_else(|p| p.into_inner())
                .sample(readings);
        }
    }
}

/// CPU time of a changing set of processes: per PID the reading at the start (or zero for one
/// that appeared later) and the highest reading since.
#[derive(Default, Debug)]
struct BackendCpu {
    /// pid → (at start, highest seen)
    pids: HashMap<u32, (Duration, Duration)>,
    /// Whether `/proc` could be read at all.
    readable: bool,
}

impl BackendCpu {
    fn start(&mut self, readings: impl IntoIterator<Item = (u32, Option<Duration>)>) {
        for (pid, used) in readings {
            if let Some(used) = used {
                self.readable = true;
                self.pids.insert(pid, (used, used));
            }
        }
    }

    fn sample(&mut self, readings: impl IntoIterator<Item = (u32, Option<Duration>)>) {
        for (pid, used) in readings {
            if let Some(used) = used {
                self.readable = true;
                let entry = self.pids.entry(pid).or_insert((Duration::ZERO, used));
                entry.1 = entry.1.max(used);
            }
        }
    }

    /// CPU microseconds spent since the start; `None` when no backend could be read.
    fn spent_us(&self) -> Option<f64> {
        self.readable.then(|| {
            self.pids
                .values()
                .map(|(start, max)| max.saturating_sub(*start).as_secs_f64() * 1e6)
                .sum()
        })
    }

    fn seen(&self) -> u64 {
        self.pids.len() as u64
    }
}

/// Bytes process `pid` caused to be written to storage so far (`write_bytes` of
/// `/proc/<pid>/io`).
pub fn write_bytes(pid: u32) -> Option<u64> {
    parse_io_write_bytes(&std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?)
}

/// The sum over several processes; `None` unless every one could be read.
pub fn write_bytes_all(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| write_bytes(pid)).sum()
}

fn parse_io_write_bytes(io: &str) -> Option<u64> {
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// SQLite's cost: bytes written per delivery between two readings.
pub fn sqlite_cost(before: Option<u64>, after: Option<u64>, deliveries: u64) -> DbCost {
    DbCost {
        write_bytes_per_delivery: after
            .zip(before)
            .and_then(|(a, b)| a.checked_sub(b))
            .and_then(|bytes| per(bytes as f64, deliveries)),
        ..DbCost::default()
    }
}

/// Per unit, to two decimals (statements per delivery are well below one when batched);
/// `None` for no units or a negative amount.
fn per(amount: f64, units: u64) -> Option<f64> {
    (units > 0 && amount >= 0.0).then(|| (amount / units as f64 * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bytes_is_read_from_proc_io() {
        let io = "rchar: 12\nwchar: 999\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\n\
                  write_bytes: 81920\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io_write_bytes(io), Some(81_920));
        assert_eq!(parse_io_write_bytes("rchar: 12\n"), None);
        assert_eq!(parse_io_write_bytes("write_bytes: lots\n"), None);
        assert_eq!(
            sqlite_cost(Some(1000), Some(21_000), 10).write_bytes_per_delivery,
            Some(2000.0)
        );
        assert_eq!(sqlite_cost(None, Some(21_000), 10), DbCost::default());
        assert_eq!(sqlite_cost(Some(5), Some(1), 10), DbCost::default());
    }

    #[test]
    fn a_sqlite_database_is_its_file_and_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hookd.db");
        assert_eq!(sqlite_size(&file), None);
        std::fs::write(&file, [0u8; 4096]).unwrap();
        assert_eq!(sqlite_size(&file), Some(4096));
        std::fs::write(dir.path().join("hookd.db-wal"), [0u8; 100]).unwrap();
        assert_eq!(sqlite_size(&file), Some(4196));
    }

    #[test]
    fn our_own_write_bytes_are_readable() {
        assert!(write_bytes(std::process::id()).is_some());
        assert_eq!(write_bytes_all(&[std::process::id(), u32::MAX]), None);
    }

    #[test]
    fn backend_cpu_counts_new_and_exited_backends() {
        let ms = Duration::from_millis;
        let mut cpu = BackendCpu::default();
        assert_eq!(cpu.spent_us(), None);
        // Backend 1 was there at the start with 500 ms; backend 2 connects during the run.
        cpu.start([(1, Some(ms(500)))]);
        cpu.sample([(1, Some(ms(700))), (2, Some(ms(30)))]);
        // Backend 2 exited: it keeps its last reading. Unreadable entries change nothing.
        cpu.sample([(1, Some(ms(900))), (3, None)]);
        assert_eq!(cpu.spent_us(), Some(430_000.0));
        assert_eq!(cpu.seen(), 2);
    }

    #[test]
    fn transaction_control_is_told_from_work() {
        for q in [
            "BEGIN",
            "begin",
            "COMMIT",
            "ROLLBACK",
            "START TRANSACTION",
            "SAVEPOINT a",
            "END;",
        ] {
            assert!(is_transaction_control(q), "{q}");
        }
        for q in [
            "SELECT 1",
            "INSERT INTO deliveries VALUES ($1)",
            "",
            "WITH x AS (SELECT 1) SELECT 1",
        ] {
            assert!(!is_transaction_control(q), "{q}");
        }
    }

    #[test]
    fn per_delivery_figures() {
        assert_eq!(per(1000.0, 3), Some(333.33));
        assert_eq!(per(1000.0, 0), None);
        assert_eq!(per(-1.0, 3), None);
    }
}
