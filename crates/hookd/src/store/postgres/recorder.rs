//! Batched write-back of attempt results on PostgreSQL.
//!
//! Every delivery ends with a result to write: the attempt, the delivery's next state and the
//! endpoint's failing streak. One statement per result bounded fan-out at about 6k deliveries/s
//! with a second of latency (README, Performance), so results are collected by `batcher.rs` and
//! written by one statement per batch: data-modifying CTEs over arrays, which run to completion.
//!
//! Lock order: deliveries first, then their endpoints, as every other writer does (deleting an
//! endpoint included). An endpoint row is only locked when its streak changes (a failure, or
//! the first success after failures), so healthy traffic locks no endpoint at all. Two nodes'
//! batches that do lock several failing endpoints may still deadlock; PostgreSQL then aborts
//! one, and the batcher writes its results one by one.
//!
//! Within a batch, an endpoint's streak follows its latest result: healthy if that succeeded,
//! else failing since the earliest failure in the batch (or earlier, if already failing).

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::batcher::Batcher;
use crate::domain::time::Timestamp;
use crate::store::{AttemptRecord, DeliveryStatus, StoreResult};

/// Most results written by one statement.
const MAX_BATCH: usize = 512;

/// A result and when it was handed to the store.
pub(super) type Input = (AttemptRecord, Timestamp);

pub(super) type Recorder = Batcher<Input, ()>;

/// Starts the result batcher on the current runtime, on the asynchronous-commit pool.
pub(super) fn start(results: PgPool) -> Recorder {
    Batcher::start(
        results,
        MAX_BATCH,
        "hookd_store_result_batch_size",
        |pool, inputs| Box::pin(write_batch(pool, inputs)) as BoxFuture<'_, _>,
    )
}

/// The state a result moves its delivery to.
pub(super) fn next_status(record: &AttemptRecord) -> DeliveryStatus {
    match (record.succeeded, record.next_attempt_at) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    }
}

/// Writes every result of `inputs` (see the module docs); also used alone, inside a
/// transaction, for the rare result that may disable its endpoint.
pub(super) const WRITE_RESULTS: &str = "WITH input AS ( \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
                            $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bool[]) \
         AS t (attempt_id, delivery_id, started_at, duration_ms, status_code, error, response_body, \
               status, next_attempt_at, recorded_at, succeeded)), \
     delivery AS ( \
       UPDATE deliveries d SET status = i.status, attempt_count = d.attempt_count + 1, \
         next_attempt_at = i.next_attempt_at, last_status_code = COALESCE(i.status_code, d.last_status_code), \
         updated_at = i.recorded_at, lease_owner = NULL, lease_until = NULL \
       FROM input i WHERE d.id = i.delivery_id AND d.status != 'cancelled' \
       RETURNING d.endpoint_id, i.succeeded, i.started_at), \
     attempt AS ( \
       INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_body) \
       SELECT attempt_id, delivery_id, started_at, duration_ms, status_code, error, response_body FROM input), \
     streak AS ( \
       SELECT endpoint_id, (array_agg(succeeded ORDER BY started_at DESC))[1] AS healthy, \
              min(started_at) FILTER (WHERE NOT succeeded) AS first_failure \
       FROM delivery GROUP BY endpoint_id) \
     UPDATE endpoints e SET failing_since = CASE WHEN s.healthy THEN NULL \
         ELSE COALESCE(e.failing_since, s.first_failure) END \
     FROM streak s WHERE e.id = s.endpoint_id AND (NOT s.healthy OR e.failing_since IS NOT NULL)";

/// [`WRITE_RESULTS`] with its arrays bound.
pub(super) fn write_results_query(
    inputs: &[Input],
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut attempt_ids = Vec::with_capacity(inputs.len());
    let mut delivery_ids = Vec::with_capacity(inputs.len());
    let mut started = Vec::with_capacity(inputs.len());
    let mut durations = Vec::with_capacity(inputs.len());
    let mut status_codes = Vec::with_capacity(inputs.len());
    let mut errors = Vec::with_capacity(inputs.len());
    let mut bodies = Vec::with_capacity(inputs.len());
    let mut statuses = Vec::with_capacity(inputs.len());
    let mut next_attempts = Vec::with_capacity(inputs.len());
    let mut recorded = Vec::with_capacity(inputs.len());
    let mut succeeded = Vec::with_capacity(inputs.len());
    for (record, now) in inputs {
        let a = &record.attempt;
        attempt_ids.push(a.id.to_string());
        delivery_ids.push(record.delivery_id.to_string());
        started.push(a.started_at.as_millis());
        durations.push(a.duration_ms);
        status_codes.push(a.status_code);
        errors.push(a.error.clone());
        bodies.push(a.response_body.clone());
        statuses.push(next_status(record).as_str());
        next_attempts.push(record.next_attempt_at.map(Timestamp::as_millis));
        recorded.push(now.as_millis());
        succeeded.push(record.succeeded);
    }
    sqlx::query(WRITE_RESULTS)
        .bind(attempt_ids)
        .bind(delivery_ids)
        .bind(started)
        .bind(durations)
        .bind(status_codes)
        .bind(errors)
        .bind(bodies)
        .bind(statuses)
        .bind(next_attempts)
        .bind(recorded)
        .bind(succeeded)
}

async fn write_batch(pool: &PgPool, inputs: &[Input]) -> StoreResult<Vec<()>> {
    write_results_query(inputs).execute(pool).await?;
    Ok(vec![(); inputs.len()])
}
