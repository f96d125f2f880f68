//! Group commit for SQLite, on a thread of its own.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` every commit costs an
//! fsync. Instead of letting each request commit (and queue on the write lock), every write is
//! sent to one writer thread that owns the only write connection. It takes whatever writes are
//! waiting, runs them in one transaction, commits once, and only then answers each caller. Under
//! load one fsync covers hundreds of requests; an idle server still commits a lone write
//! immediately.
//!
//! One failing write must not take the others down with it, yet a SAVEPOINT around every write
//! costs a copy of each page it touches (a tenth of the writer's time in profiles). So a batch
//! first runs optimistically without savepoints; only if a write fails is the whole transaction
//! rolled back and the batch run again with one SAVEPOINT per write, so the failed write rolls
//! back alone. Writes are therefore closures that can run more than once (`Fn`): they only
//! execute statements, and nothing they did survives a rollback.
//!
//! Attempt results may wait for company: no request is waiting on them (the delivery engine
//! hands them over with [`Writer::write_then`] and hears back through a callback), and at low
//! rates each one would otherwise cost a commit (an fsync) of its own, as many as the
//! publishes. A batch made only of such writes waits up to [`LINGER`] for a write that cannot
//! wait (a publish, say) and commits with it, or commits when the time is up. Every write is
//! still durable before its caller hears back; only the moment moves.
//!
//! Some failures (a full disk, an I/O error, running out of memory) make SQLite roll the whole
//! transaction back by itself. Then nothing more of the batch may run: outside a transaction
//! each later write would commit on its own, and the batch would be half stored yet answered as
//! failed. The batch stops there and every write in it fails, none of it stored.
//!
//! The thread runs the statements synchronously with `rusqlite` and cached prepared statements.
//! An earlier design drove an async `sqlx` connection from a tokio task: every statement was a
//! round trip between that task, SQLite's connection thread and the busy runtime workers, and
//! under load those hand-offs, not SQLite, bounded the write rate (docs/performance.md).

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::GroupCommitFailed;
use crate::store::error::WriterStopped;
use crate::store::StoreResult;

/// Most writes committed together; bounds the latency one batch adds to the first caller.
const MAX_BATCH: usize = 1024;

/// Longest a batch of writes that may wait ([`Writer::write_when_convenient`]) waits for one that
/// cannot.
pub const LINGER: Duration = Duration::from_millis(5);

/// One queued write: runs inside the open transaction, then learns how the commit went.
trait WriteJob: Send {
    /// Runs the write's statements, replacing the result of any earlier run; `false` when it
    /// failed.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's outcome is known (`Err` when the commit failed or
    /// the transaction could not begin).
    fn finish(self: Box<Self>, batch: Result<(), Arc<rusqlite::Error>>);
    /// Whether the write may wait up to [`LINGER`] for others to share its commit.
    fn may_wait(&self) -> bool;
    /// Answers the caller that the write was never run: the writer thread is gone.
    fn abandon(self: Box<Self>);
}

/// Where a write's outcome goes: back to an awaiting caller, or into a callback that runs on
/// this thread once the commit is known (for a caller that does not wait).
enum Reply<T> {
    Awaited(oneshot::Sender<StoreResult<T>>),
    Callback(Callback<T>),
}

impl<T> Reply<T> {
    fn send(self, outcome: StoreResult<T>) {
        match self {
            Reply::Awaited(sender) => {
                let _ = sender.send(outcome);
            }
            Reply::Callback(mut done) => {
                if let Some(done) = done.0.take() {
                    done(outcome);
                }
            }
        }
    }
}

/// A callback that runs exactly once: with the write's outcome, or with
/// [`WriterStopped`] if its job is dropped unanswered (the writer thread panicked, or
/// its queue went away), so a caller that does not wait never waits forever. An awaiting
/// caller learns the same from its closed channel.
struct Callback<T>(Option<Box<dyn FnOnce(StoreResult<T>) + Send>>);

impl<T> Drop for Callback<T> {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            done(Err(WriterStopped.into()));
        }
    }
}

struct Typed<T, F> {
    write: F,
    may_wait: bool,
    result: Option<StoreResult<T>>,
    reply: Reply<T>,
}

impl<T, F> WriteJob for Typed<T, F>
where
    T: Send,
    F: Fn(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.write)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch: Result<(), Arc<rusqlite::Error>>) {
        let outcome = match (self.result, batch) {
            // A failed write keeps its own error; a successful one fails with the batch.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(GroupCommitFailed(e).into()),
            (None, Ok(())) => Err(WriterStopped.into()),
        };
        self.reply.send(outcome);
    }

    fn may_wait(&self) -> bool {
        self.may_wait
    }

    fn abandon(self: Box<Self>) {
        self.reply.send(Err(WriterStopped.into()));
    }
}

type Job = Box<dyn WriteJob>;

/// A handle to the writer thread; cheap to clone. The thread stops when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`; batches of writes that may wait do so up to `linger`.
    pub fn start(conn: Connection, linger: Duration) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel(8192);
        // Only for the linger's timer: the thread blocks on nothing else.
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run(conn, rx, &timer, linger))?;
        Ok(Self { jobs })
    }

    /// Runs `write` inside the next group commit and returns its value once the commit is
    /// durable. `write` runs on the writer thread, possibly twice (see the module docs): it must
    /// only execute statements.
    pub async fn write<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.queue(write, false).await
    }

    /// Like [`Writer::write`], for a write whose caller can wait a little: it may be held up to
    /// the linger for another write to share its commit.
    pub async fn write_when_convenient<T, F>(&self, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.queue(write, true).await
    }

    /// Like [`Writer::write_when_convenient`], for a caller that does not wait: returns at
    /// once, and `done` runs on the writer thread with the outcome once the commit is known.
    /// Must be called inside a tokio runtime (a full queue is waited out by a task).
    pub fn write_then<T, F>(&self, write: F, done: Box<dyn FnOnce(StoreResult<T>) + Send>)
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let job: Job = Box::new(Typed {
            write,
            may_wait: true,
            result: None,
            reply: Reply::Callback(Callback(Some(done))),
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::spawn(async move {
                    if let Err(refused) = jobs.send(job).await {
                        refused.0.abandon();
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(job)) => job.abandon(),
        }
    }

    async fn queue<T, F>(&self, write: F, may_wait: bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            write,
            may_wait,
            result: None,
            reply: Reply::Awaited(reply),
        });
        self.jobs.send(job).await.map_err(|_| WriterStopped)?;
        answer.await.map_err(|_| WriterStopped)?
    }
}

fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    timer: &tokio::runtime::Runtime,
    linger: Duration,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        take_waiting(&mut rx, &mut batch);
        if batch.iter().all(|job| job.may_wait()) {
            let deadline = tokio::time::Instant::now() + linger;
            while batch.len() < MAX_BATCH {
                // Built inside `block_on`: a timer needs the runtime it belongs to.
                let next =
                    timer.block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await });
                let Ok(Some(job)) = next else {
                    break; // the linger is over, or every handle is gone
                };
                let urgent = !job.may_wait();
                batch.push(job);
                take_waiting(&mut rx, &mut batch);
                if urgent {
                    break;
                }
            }
        }
        let size = batch.len();
        let started = std::time::Instant::now();
        commit_batch(&conn, &mut batch);
        // Per batch, not per write: two clock reads and three atomic updates.
        let metrics = crate::telemetry::hot();
        metrics
            .sqlite_commit_duration
            .record(started.elapsed().as_secs_f64());
        metrics.group_commit_size.record(size as f64);
        metrics.sqlite_writer_queue_depth.set(rx.len() as f64);
    }
}

/// Adds the writes already queued to `batch`, up to [`MAX_BATCH`].
fn take_waiting(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Runs one batch in one transaction, commits once, then answers every job.
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    let outcome = run_batch(conn, batch, false).and_then(|all_succeeded| {
        if all_succeeded {
            return Ok(());
        }
        // A write failed, perhaps halfway: undo everything and isolate each write this time.
        metrics::counter!("hookd_store_batch_reruns_total").increment(1);
        statement(conn, "ROLLBACK").map_err(Arc::new)?;
        run_batch(conn, batch, true).map(|_| ())
    });
    batch.drain(..).for_each(|job| job.finish(outcome.clone()));
}

/// Runs every job in one transaction and commits it unless a job failed without a savepoint
/// around it (`Ok(false)`: the transaction is left open for the caller to roll back).
fn run_batch(
    conn: &Connection,
    batch: &mut [Job],
    isolated: bool,
) -> Result<bool, Arc<rusqlite::Error>> {
    if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
        // Every write of the batch fails with this error and its caller logs it once (the
        // API's 5xx line, the engine's "could not record an attempt"): not again here.
        tracing::debug!(error = %e, "could not begin a write transaction");
        return Err(Arc::new(e));
    }
    let mut all_succeeded = true;
    for job in batch.iter_mut() {
        if !isolated {
            if !job.run(conn) {
                all_succeeded = false;
                stop_if_rolled_back(conn)?;
            }
            continue;
        }
        if let Err(e) = statement(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed");
        }
        if !job.run(conn) {
            stop_if_rolled_back(conn)?;
            if let Err(e) = statement(conn, "ROLLBACK TO job") {
                tracing::error!(error = %e, "rolling back a savepoint failed");
            }
        }
        if let Err(e) = statement(conn, "RELEASE job") {
            tracing::error!(error = %e, "releasing a savepoint failed");
        }
    }
    if !all_succeeded {
        return Ok(false);
    }
    match statement(conn, "COMMIT") {
        Ok(()) => Ok(true),
        Err(e) => {
            // Logged once by each caller, which gets this error (see `BEGIN` above).
            tracing::debug!(error = %e, batch = batch.len(), "group commit failed");
            // Leave the connection usable for the next batch.
            let _ = statement(conn, "ROLLBACK");
            Err(Arc::new(e))
        }
    }
}

/// After a failed write: `Err` when SQLite has rolled the whole transaction back by itself (see
/// the module docs), so the caller stops the batch and fails every write in it.
fn stop_if_rolled_back(conn: &Connection) -> Result<(), Arc<rusqlite::Error>> {
    if !conn.is_autocommit() {
        return Ok(());
    }
    tracing::debug!("SQLite rolled a write transaction back by itself; its batch failed");
    Err(Arc::new(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the transaction was rolled back after a failed write".into()),
    )))
}

fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn table(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT PRIMARY KEY);")
            .unwrap();
        conn
    }

    /// The write failed with its own SQLite error.
    fn own_error(outcome: StoreResult<()>) -> bool {
        outcome.is_err_and(|e| {
            e.cause::<rusqlite::Error>().is_some() && e.cause::<GroupCommitFailed>().is_none()
        })
    }

    /// The write succeeded but its batch's commit failed.
    fn batch_error(outcome: StoreResult<()>) -> bool {
        outcome.is_err_and(|e| e.cause::<GroupCommitFailed>().is_some())
    }

    fn insert(conn: &Connection, x: &str) -> StoreResult<()> {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
        Ok(())
    }

    fn rows(path: &std::path::Path) -> Vec<String> {
        let reader = Connection::open(path).unwrap();
        let mut statement = reader.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// A write that may wait is held (here for up to an hour) until a write that cannot wait
    /// arrives, and both commit in one transaction: when the second runs, another connection
    /// still cannot see the first.
    #[tokio::test]
    async fn a_write_that_may_wait_commits_with_the_next_that_cannot() {
        tokio::time::timeout(std::time::Duration::from_secs(30), shared_commit())
            .await
            .expect("the writer answered every write");
    }

    async fn shared_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Writer::start(table(&path), Duration::from_secs(3600)).unwrap();
        let (reply, patient) = oneshot::channel();
        let job = Typed {
            write: |conn: &Connection| insert(conn, "a"),
            may_wait: true,
            result: None,
            reply: Reply::Awaited(reply),
        };
        writer.jobs.send(Box::new(job)).await.unwrap();
        // Until the writer thread has taken it off the queue.
        while writer.jobs.capacity() < writer.jobs.max_capacity() {
            tokio::task::yield_now().await;
        }
        let other = Arc::new(Mutex::new(Connection::open(&path).unwrap()));
        let first_visible_to_others = writer
            .write(move |conn| {
                insert(conn, "b")?;
                let other = other.lock().unwrap();
                let seen: i64 =
                    other.query_row("SELECT COUNT(*) FROM t WHERE x = 'a'", [], |r| r.get(0))?;
                Ok(seen > 0)
            })
            .await
            .unwrap();
        assert!(
            !first_visible_to_others,
            "the first write was committed on its own, before the second"
        );
        assert!(patient.await.unwrap().is_ok());
        assert_eq!(rows(&path), ["a", "b"]);
    }

    /// With nothing else coming, a write that may wait commits when the linger is over.
    #[tokio::test]
    async fn a_lone_write_that_may_wait_commits_after_the_linger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Writer::start(table(&path), Duration::from_millis(1)).unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            writer.write_when_convenient(|conn| insert(conn, "a")),
        )
        .await
        .expect("the writer answered")
        .unwrap();
        assert_eq!(rows(&path), ["a"]);
    }

    /// A write nobody awaits tells its callback how it went, once it is committed (or failed).
    #[tokio::test]
    async fn a_write_nobody_awaits_reports_to_its_callback_after_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Writer::start(table(&path), Duration::from_millis(1)).unwrap();
        let (told, outcomes) = tokio::sync::mpsc::unbounded_channel();
        for x in ["a", "a"] {
            let told = told.clone();
            let committed_path = path.clone();
            writer.write_then(
                move |conn| insert(conn, x),
                Box::new(move |outcome: StoreResult<()>| {
                    // Visible to another connection by the time the callback runs.
                    let _ = told.send((outcome.is_ok(), rows(&committed_path)));
                }),
            );
        }
        let mut outcomes = outcomes;
        let first = tokio::time::timeout(Duration::from_secs(30), outcomes.recv()).await;
        let second = tokio::time::timeout(Duration::from_secs(30), outcomes.recv()).await;
        let mut seen = vec![first.unwrap().unwrap(), second.unwrap().unwrap()];
        seen.sort();
        // The duplicate failed alone; the other was committed before its callback ran.
        assert_eq!(
            seen,
            [
                (false, vec!["a".to_string()]),
                (true, vec!["a".to_string()])
            ]
        );
    }

    /// A write nobody awaits whose job is dropped unanswered still hears back, once.
    #[test]
    fn a_dropped_write_tells_its_callback_the_writer_is_gone() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let job: Job = Box::new(Typed {
            write: |conn: &Connection| insert(conn, "a"),
            may_wait: true,
            result: None,
            reply: Reply::Callback(Callback(Some(Box::new({
                let heard = Arc::clone(&heard);
                move |outcome: StoreResult<()>| {
                    heard
                        .lock()
                        .unwrap()
                        .push(outcome.is_err_and(|e| e.cause::<WriterStopped>().is_some()))
                }
            })))),
        });
        drop(job);
        assert_eq!(*heard.lock().unwrap(), [true]);
    }

    /// A write that fails halfway, in the same batch as two good ones: the good ones commit,
    /// nothing of the failed one does, and each caller gets its own answer.
    #[tokio::test]
    async fn a_write_failing_halfway_rolls_back_alone() {
        tokio::time::timeout(std::time::Duration::from_secs(30), failing_halfway())
            .await
            .expect("the writer answered every write");
    }

    /// A write that holds the writer thread until the returned gate is dropped, so the writes
    /// queued meanwhile run in one batch after it.
    async fn hold_the_writer(
        writer: &Writer,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<StoreResult<()>>,
    ) {
        let (open_gate, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let (entered, has_entered) = std::sync::mpsc::channel::<()>();
        let gatekeeper = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(move |_| {
                        let _ = entered.send(());
                        let _ = gate.lock().unwrap().recv();
                        Ok(())
                    })
                    .await
            }
        });
        while has_entered.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        (open_gate, gatekeeper)
    }

    /// Until `n` writes are queued behind the one holding the writer.
    async fn until_queued(writer: &Writer, n: usize) {
        while writer.jobs.max_capacity() - writer.jobs.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    async fn failing_halfway() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Writer::start(table(&path), LINGER).unwrap();
        let (open_gate, gatekeeper) = hold_the_writer(&writer).await;
        let first = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(|conn| insert(conn, "a")).await }
        });
        let halfway = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(|conn| {
                        insert(conn, "b")?;
                        insert(conn, "a")
                    })
                    .await
            }
        });
        let last = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(|conn| insert(conn, "c")).await }
        });
        until_queued(&writer, 3).await;
        drop(open_gate);
        assert!(gatekeeper.await.unwrap().is_ok());
        assert!(first.await.unwrap().is_ok());
        assert!(own_error(halfway.await.unwrap()));
        assert!(last.await.unwrap().is_ok());
        assert_eq!(rows(&path), ["a", "c"]);
    }

    /// A full disk (here: the database at its `max_page_count`) makes SQLite roll the whole
    /// transaction back: every write of the batch fails and none of it is stored, not the writes
    /// after the failing one committing one by one. The writer carries on afterwards.
    #[tokio::test]
    async fn a_full_disk_fails_the_whole_batch_and_stores_none_of_it() {
        tokio::time::timeout(std::time::Duration::from_secs(30), full_disk())
            .await
            .expect("the writer answered every write");
    }

    async fn full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = table(&path);
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 4))
            .unwrap();
        let writer = Writer::start(conn, LINGER).unwrap();
        let (open_gate, gatekeeper) = hold_the_writer(&writer).await;
        let spawn_insert = |x: String| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.write(move |conn| insert(conn, &x)).await })
        };
        let before = spawn_insert("a".into());
        until_queued(&writer, 1).await;
        let too_big = spawn_insert("x".repeat(200_000));
        until_queued(&writer, 2).await;
        let after = [spawn_insert("c".into()), spawn_insert("d".into())];
        until_queued(&writer, 4).await;
        drop(open_gate);
        assert!(gatekeeper.await.unwrap().is_ok());
        assert!(own_error(too_big.await.unwrap()));
        assert!(batch_error(before.await.unwrap()));
        for write in after {
            assert!(batch_error(write.await.unwrap()));
        }
        assert!(rows(&path).is_empty(), "{:?}", rows(&path));
        writer.write(|conn| insert(conn, "e")).await.unwrap();
        assert_eq!(rows(&path), ["e"]);
    }
}
