//! Batching of one kind of write on PostgreSQL: callers queue inputs, one task stores whatever
//! has gathered with one statement, and answers each caller.
//!
//! While a batch is being stored the next one gathers, so batches grow with load and an idle
//! node still writes at once. If a batch fails, each of its inputs is stored again alone, so one
//! bad input (or a deadlock with another node's batch) only fails itself.

use futures_util::future::BoxFuture;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::store::error::WriterStopped;
use crate::store::StoreResult;

/// Stores a batch with one statement; one output per input, in order.
pub(super) type StoreBatch<I, O> =
    for<'a> fn(&'a PgPool, &'a [I]) -> BoxFuture<'a, StoreResult<Vec<O>>>;

type Request<I, O> = (I, oneshot::Sender<StoreResult<O>>);

pub(super) struct Batcher<I, O> {
    requests: mpsc::Sender<Request<I, O>>,
}

impl<I, O> Batcher<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
{
    /// Starts the batching task on the current runtime; it stops when the batcher is dropped.
    /// `metric` is the histogram of batch sizes.
    pub(super) fn start(
        pool: PgPool,
        max_batch: usize,
        metric: &'static str,
        store: StoreBatch<I, O>,
    ) -> Self {
        let (requests, receiver) = mpsc::channel(8192);
        tokio::spawn(drive(pool, receiver, max_batch, metric, store));
        Self { requests }
    }

    /// Stores `input` with the next batch; returns once that batch is committed.
    pub(super) async fn write(&self, input: I) -> StoreResult<O> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((input, reply))
            .await
            .map_err(|_| WriterStopped)?;
        answer.await.map_err(|_| WriterStopped)?
    }
}

async fn drive<I, O>(
    pool: PgPool,
    mut receiver: mpsc::Receiver<Request<I, O>>,
    max_batch: usize,
    metric: &'static str,
    store: StoreBatch<I, O>,
) {
    let mut waiting = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut waiting, max_batch).await > 0 {
        let (inputs, replies): (Vec<I>, Vec<_>) = waiting.drain(..).unzip();
        metrics::histogram!(metric).record(inputs.len() as f64);
        match store(&pool, &inputs).await {
            Ok(outputs) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Err(e) if inputs.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) => {
                // Counted, and logged only at debug: an input that fails again alone is logged
                // once by its caller; one that succeeds alone was no error worth a line.
                metrics::counter!("hookd_store_batch_reruns_total").increment(1);
                tracing::debug!(error = %e, size = inputs.len(), batch = metric, "a write batch failed; storing its inputs one by one");
                for (input, reply) in inputs.into_iter().zip(replies) {
                    let result = store(&pool, std::slice::from_ref(&input)).await;
                    let _ = reply
                        .send(result.and_then(|mut out| out.pop().ok_or(WriterStopped.into())));
                }
            }
        }
    }
}
