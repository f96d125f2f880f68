//! Batched write-back of attempt results on PostgreSQL.
//!
//! Every delivery ends with a result to write: the attempt, the delivery's next state and the
//! endpoint's failing streak, all decided by `domain::delivery::outcome` before they get here.
//! One statement per result bounded fan-out at about 6k deliveries/s with a second of latency
//! (docs/performance.md), so results are collected by `batcher.rs` and written by one
//! statement per batch: data-modifying CTEs over arrays, which run to completion.
//!
//! A result is written only while its node still holds the delivery's lease (`lease_owner`):
//! a node whose lease expired while it was sending must not overwrite the result of the node
//! that took the delivery over. A delivery cancelled while in flight keeps its status, and its
//! attempt is still recorded — without its response body when the cancellation was an erasure
//! of its event (the answer may echo the erased data).
//!
//! Lock order: deliveries first, then their endpoints, as every other writer does (deleting an
//! endpoint included). An endpoint row is only locked when its streak changes (a failure, or
//! the first success after failures), so healthy traffic locks no endpoint at all. Two nodes'
//! batches that do lock several failing endpoints may still deadlock; PostgreSQL then aborts
//! one, and the batcher writes its results one by one.

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::batcher::Batcher;
use crate::domain::delivery::outcome::{net_streaks, AttemptRecord, StreakUpdate};
use crate::domain::time::Timestamp;
use crate::store::StoreResult;

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

/// Writes every result of `inputs` (see the module docs); for keyed deliveries it applies
/// `domain::ordering` in the same statement: a retry out of turn (after a manual retry) is held
/// behind the earlier delivery of its key (`ordering::retry_time`), and a delivery that ended
/// (`ordering::frees_key`: its status is no longer pending) makes the next of its key due now.
/// The statement's snapshot predates its own update, so the next is looked for among the
/// others (`h.id <> w.id`).
/// also used alone, inside a
/// transaction, for the rare result that may disable its endpoint. `streak` reads `delivery`
/// in full first, so the deliveries' rows are locked before any endpoint's.
pub(super) const WRITE_RESULTS: &str = "WITH input AS ( \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
                            $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[]) \
         AS t (attempt_id, delivery_id, started_at, duration_ms, status_code, error, response_body, \
               status, next_attempt_at, recorded_at, lease_owner)), \
     delivery AS ( \
       UPDATE deliveries d SET status = i.status, attempt_count = d.attempt_count + 1, \
         next_attempt_at = CASE WHEN d.ordering_key IS NOT NULL AND i.next_attempt_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM deliveries o WHERE o.endpoint_id = d.endpoint_id \
               AND o.ordering_key = d.ordering_key AND o.status = 'pending' \
               AND o.ordering_seq < d.ordering_seq) THEN NULL ELSE i.next_attempt_at END, \
         last_status_code = COALESCE(i.status_code, d.last_status_code), \
         updated_at = i.recorded_at, lease_owner = NULL, lease_until = NULL \
       FROM input i WHERE d.id = i.delivery_id AND d.status != 'cancelled' AND d.lease_owner = i.lease_owner \
       RETURNING d.id, d.endpoint_id, d.ordering_key, d.status, i.recorded_at), \
     promote AS ( \
       UPDATE deliveries n SET next_attempt_at = w.recorded_at, updated_at = w.recorded_at \
       FROM delivery w WHERE w.ordering_key IS NOT NULL AND w.status <> 'pending' \
         AND n.next_attempt_at IS NULL AND n.id = (SELECT h.id FROM deliveries h \
           WHERE h.endpoint_id = w.endpoint_id AND h.ordering_key = w.ordering_key \
             AND h.status = 'pending' AND h.id <> w.id ORDER BY h.ordering_seq LIMIT 1)), \
     attempt AS ( \
       INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_body) \
       SELECT attempt_id, delivery_id, started_at, duration_ms, status_code, error, \
         CASE WHEN i.delivery_id IN (SELECT id FROM delivery) THEN response_body \
           WHEN EXISTS (SELECT 1 FROM deliveries c JOIN events ev ON ev.id = c.event_id \
             WHERE c.id = i.delivery_id AND ev.data = 'null') THEN '' ELSE response_body END \
       FROM input i WHERE i.delivery_id IN (SELECT id FROM delivery) \
          OR EXISTS (SELECT 1 FROM deliveries c WHERE c.id = i.delivery_id AND c.status = 'cancelled')), \
     streak AS ( \
       SELECT s.* FROM UNNEST($12::text[], $13::text[], $14::bigint[]) AS s (endpoint_id, change, since), \
         (SELECT count(*) FROM delivery) AS written) \
     UPDATE endpoints e SET failing_since = CASE s.change WHEN 'clear' THEN NULL \
         WHEN 'start' THEN COALESCE(e.failing_since, s.since) ELSE s.since END \
     FROM streak s WHERE e.id = s.endpoint_id AND (s.change <> 'clear' OR e.failing_since IS NOT NULL)";

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
    let mut owners = Vec::with_capacity(inputs.len());
    for (record, now) in inputs {
        let a = &record.attempt;
        attempt_ids.push(a.id.to_string());
        delivery_ids.push(record.delivery_id.to_string());
        started.push(a.started_at.as_millis());
        durations.push(a.duration_ms);
        status_codes.push(a.status_code);
        errors.push(a.error.clone());
        bodies.push(a.response_body.clone());
        statuses.push(record.next.status().as_str());
        next_attempts.push(record.next.next_attempt_at().map(Timestamp::as_millis));
        recorded.push(now.as_millis());
        owners.push(record.lease_owner.clone());
    }
    let streaks = net_streaks(inputs.iter().map(|(record, _)| record));
    let mut endpoints = Vec::with_capacity(streaks.len());
    let mut changes = Vec::with_capacity(streaks.len());
    let mut since = Vec::with_capacity(streaks.len());
    for (endpoint, update) in streaks {
        endpoints.push(endpoint.to_string());
        let (change, at) = match update {
            StreakUpdate::Clear => ("clear", None),
            StreakUpdate::StartIfClear(at) => ("start", Some(at.as_millis())),
            StreakUpdate::Restart(at) => ("restart", Some(at.as_millis())),
        };
        changes.push(change);
        since.push(at);
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
        .bind(owners)
        .bind(endpoints)
        .bind(changes)
        .bind(since)
}

async fn write_batch(pool: &PgPool, inputs: &[Input]) -> StoreResult<Vec<()>> {
    if !inputs.iter().any(|(record, _)| record.ordered) {
        write_results_query(inputs).execute(pool).await?;
        return Ok(vec![(); inputs.len()]);
    }
    let mut tx = pool.begin().await?;
    lock_keys_of(&mut tx, inputs).await?;
    write_results_query(inputs).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(vec![(); inputs.len()])
}

/// Takes the ordering-key locks of the results' keyed deliveries (see
/// `publisher::LOCK_KEYS`), so that the next delivery of a key is looked for only after any
/// publish of that key in progress has committed: otherwise a delivery published behind the
/// one ending now could stay held with nothing left to end before it.
pub(super) async fn lock_keys_of(tx: &mut sqlx::PgConnection, inputs: &[Input]) -> StoreResult<()> {
    let ids: Vec<&str> = inputs
        .iter()
        .filter(|(record, _)| record.ordered)
        .map(|(record, _)| record.delivery_id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT workspace_id || chr(31) || mode || chr(31) || ordering_key FROM deliveries \
         WHERE id = ANY($1) AND ordering_key IS NOT NULL",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(super::publisher::LOCK_KEYS)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
