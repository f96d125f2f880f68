//! Group commit for SQLite.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` every commit costs an
//! fsync. Instead of letting each request commit (and queue on the write lock), every write is
//! sent to one writer task that owns the only write connection. It takes whatever writes are
//! waiting, runs them in one transaction — each inside its own SAVEPOINT, so one failing write
//! rolls back alone — commits once, and only then answers each caller. Under load one fsync
//! covers hundreds of requests; an idle server still commits a lone write immediately.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, StoreResult};

/// Most writes committed together; bounds the latency one batch adds to the first caller.
const MAX_BATCH: usize = 512;

/// A write job. `run` executes its statements inside the open transaction and returns whether
/// they succeeded plus how to answer the caller once the commit outcome is known; `abort`
/// answers the caller when the batch could not even start.
struct Job {
    run: RunFn,
    abort: Reply,
}
type RunFn =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Reply)> + Send>;
type Reply = Box<dyn FnOnce(Option<Arc<sqlx::Error>>) + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `conn`; it runs until every `Writer` handle is dropped.
    pub fn start(conn: SqliteConnection) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run(conn, rx));
        Self { jobs }
    }

    /// Runs `f` inside the next group commit and returns its value after the commit is durable.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        // Exactly one of `run`'s reply and `abort` fires; both need the sender.
        let sender = Arc::new(Mutex::new(Some(tx)));
        let abort_sender = Arc::clone(&sender);
        let job = Job {
            run: Box::new(move |conn| {
                Box::pin(async move {
                    let result = f(conn).await;
                    let ok = result.is_ok();
                    let reply: Reply = Box::new(move |commit_error| {
                        let outcome = match (result, commit_error) {
                            (Ok(_), Some(e)) => Err(StoreError::Commit(e)),
                            (result, _) => result,
                        };
                        send(&sender, outcome);
                    });
                    (ok, reply)
                })
            }),
            abort: Box::new(move |error| {
                let error = error.expect("abort always carries its cause");
                send(&abort_sender, Err(StoreError::Commit(error)));
            }),
        };
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn send<T>(slot: &Mutex<Option<oneshot::Sender<T>>>, value: T) {
    let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(tx) = taken {
        let _ = tx.send(value);
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let size = jobs.len();
        commit_batch(&mut conn, jobs).await;
        // Jobs per commit; a job may itself be a batch of requests (see `batching.rs`).
        metrics::histogram!("hookd_store_group_commit_size").record(size as f64);
    }
    let _ = conn.close().await;
}

/// Runs one batch in one transaction, commits once, then answers every job.
///
/// Returns a boxed future: the concrete lifetime sidesteps a compiler limitation with sqlx's
/// higher-ranked `Executor` bounds inside spawned tasks.
fn commit_batch(conn: &mut SqliteConnection, jobs: Vec<Job>) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        if let Err(e) = execute(conn, "BEGIN").await {
            tracing::error!(error = %e, "could not begin a write transaction");
            let e = Arc::new(e);
            jobs.into_iter()
                .for_each(|job| (job.abort)(Some(Arc::clone(&e))));
            return;
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Err(e) = execute(conn, "SAVEPOINT job").await {
                tracing::error!(error = %e, "savepoint failed");
            }
            let (ok, reply) = (job.run)(conn).await;
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = execute(conn, end).await {
                tracing::error!(error = %e, "closing savepoint failed");
            }
            replies.push(reply);
        }
        let commit_error = match execute(conn, "COMMIT").await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, batch = replies.len(), "group commit failed");
                // Leave the connection usable for the next batch.
                let _ = execute(conn, "ROLLBACK").await;
                Some(Arc::new(e))
            }
        };
        for reply in replies {
            reply(commit_error.clone());
        }
    })
}

fn execute<'c>(
    conn: &'c mut SqliteConnection,
    sql: &'static str,
) -> BoxFuture<'c, Result<(), sqlx::Error>> {
    Box::pin(async move { sqlx::Executor::execute(conn, sql).await.map(|_| ()) })
}
