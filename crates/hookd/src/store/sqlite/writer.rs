//! Group commit for SQLite, on a thread of its own.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` every commit costs an
//! fsync. Instead of letting each request commit (and queue on the write lock), every write is
//! sent to one writer thread that owns the only write connection. It takes whatever writes are
//! waiting, runs them in one transaction — each inside its own SAVEPOINT, so one failing write
//! rolls back alone — commits once, and only then answers each caller. Under load one fsync
//! covers hundreds of requests; an idle server still commits a lone write immediately.
//!
//! The thread runs the statements synchronously with `rusqlite` and cached prepared statements.
//! An earlier design drove an async `sqlx` connection from a tokio task: every statement was a
//! round trip between that task, SQLite's connection thread and the busy runtime workers, and
//! under load those hand-offs, not SQLite, bounded the write rate (README, Performance).

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, StoreResult};

/// Most writes committed together; bounds the latency one batch adds to the first caller.
const MAX_BATCH: usize = 1024;

/// One queued write: runs inside the open transaction, then learns how the commit went.
trait WriteJob: Send {
    /// Runs the write's statements; `false` when it failed (its savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's outcome is known (`Err` when the commit failed or
    /// the transaction could not begin).
    fn finish(self: Box<Self>, batch: Result<(), Arc<rusqlite::Error>>);
}

struct Typed<T, F> {
    write: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(write) = self.write.take() else {
            return false;
        };
        let result = write(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch: Result<(), Arc<rusqlite::Error>>) {
        let outcome = match (self.result, batch) {
            // A failed write keeps its own error; a successful one fails with the batch.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(StoreError::Commit(e)),
            (None, Ok(())) => Err(StoreError::WriterGone),
        };
        let _ = self.reply.send(outcome);
    }
}

type Job = Box<dyn WriteJob>;

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Connection) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel(8192);
        std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run(conn, rx))?;
        Ok(Self { jobs })
    }

    /// Runs `write` inside the next group commit and returns its value once the commit is
    /// durable. `write` runs on the writer thread: it must only execute statements.
    pub async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            write: Some(write),
            result: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let size = batch.len();
        commit_batch(&conn, &mut batch);
        metrics::histogram!("hookd_store_group_commit_size").record(size as f64);
    }
}

/// Runs one batch in one transaction, commits once, then answers every job.
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "could not begin a write transaction");
        let e = Arc::new(e);
        batch
            .drain(..)
            .for_each(|job| job.finish(Err(Arc::clone(&e))));
        return;
    }
    for job in batch.iter_mut() {
        if let Err(e) = statement(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed");
        }
        if !job.run(conn) {
            if let Err(e) = statement(conn, "ROLLBACK TO job") {
                tracing::error!(error = %e, "rolling back a savepoint failed");
            }
        }
        if let Err(e) = statement(conn, "RELEASE job") {
            tracing::error!(error = %e, "releasing a savepoint failed");
        }
    }
    let outcome = match statement(conn, "COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, batch = batch.len(), "group commit failed");
            // Leave the connection usable for the next batch.
            let _ = statement(conn, "ROLLBACK");
            Err(Arc::new(e))
        }
    };
    batch.drain(..).for_each(|job| job.finish(outcome.clone()));
}

fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
