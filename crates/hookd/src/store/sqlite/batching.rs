//! Statement-level batching on top of group commit, for the two hot writes.
//!
//! Group commit already pays one fsync per batch, but each statement still costs a round trip to
//! SQLite's connection thread, and per event that was most of the CPU time. So concurrent
//! publishes (and attempt results) are coalesced: a [`Batcher`] collects whatever requests are
//! waiting and writes them all in one writer job with a handful of set-based statements, the rows
//! passed as one JSON array through `json_each` (so the SQL text is fixed and stays prepared).
//! If a batch fails, each request is retried alone, so one bad request only fails itself.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

use super::writer::Writer;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::payload;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::RowExt;
use crate::store::{
    AttemptRecord, DeliveryJob, DeliveryStatus, Event, HealthRule, Lease, NewEvent, StoreError,
    StoreResult,
};

/// Most requests written by one batch.
const MAX_BATCH: usize = 512;

type BatchFn<I, O> =
    for<'c> fn(&'c mut SqliteConnection, Arc<Vec<I>>) -> BoxFuture<'c, StoreResult<Vec<O>>>;
type Request<I, O> = (I, oneshot::Sender<StoreResult<O>>);

pub(super) struct Batcher<I, O> {
    requests: mpsc::Sender<Request<I, O>>,
}

impl<I: Clone + Send + Sync + 'static, O: Send + 'static> Batcher<I, O> {
    pub(super) fn start(writer: Writer, run: BatchFn<I, O>) -> Self {
        let (requests, receiver) = mpsc::channel(8192);
        tokio::spawn(drive(writer, run, receiver));
        Self { requests }
    }

    pub(super) async fn submit(&self, input: I) -> StoreResult<O> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((input, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Takes what is waiting, writes it as one batch, answers; while a batch commits the next one
/// gathers, so batches grow with load.
async fn drive<I: Clone + Send + Sync + 'static, O: Send + 'static>(
    writer: Writer,
    run: BatchFn<I, O>,
    mut receiver: mpsc::Receiver<Request<I, O>>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let (inputs, replies): (Vec<I>, Vec<_>) = waiting.drain(..).unzip();
        // Requests coalesced per batch (the writer's group-commit metric counts batches).
        metrics::histogram!("hookd_store_write_batch_size").record(inputs.len() as f64);
        let inputs = Arc::new(inputs);
        let batch = Arc::clone(&inputs);
        match writer.write(move |conn| run(conn, batch)).await {
            Ok(outputs) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Err(e) if inputs.len() == 1 => {
                let _ = replies.into_iter().next().map(|reply| reply.send(Err(e)));
            }
            Err(e) => {
                tracing::warn!(error = %e, size = inputs.len(), "a write batch failed; writing its requests one by one");
                for (input, reply) in inputs.iter().zip(replies) {
                    let single = Arc::new(vec![input.clone()]);
                    let result = writer.write(move |conn| run(conn, single)).await;
                    let _ = reply
                        .send(result.and_then(|mut out| out.pop().ok_or(StoreError::WriterGone)));
                }
            }
        }
    }
}

// --- publishing ---

pub(super) type PublishInput = (Tenant, NewEvent, Lease);
pub(super) type PublishOutput = (Event, Vec<DeliveryJob>);

#[derive(Serialize)]
struct EventRow<'a> {
    id: &'a str,
    ws: &'a str,
    mode: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    project: Option<&'a str>,
    data: &'a str,
    at: i64,
    count: usize,
}

#[derive(Serialize)]
struct DeliveryRow<'a> {
    id: String,
    ws: &'a str,
    mode: &'a str,
    event: &'a str,
    endpoint: String,
    at: i64,
    owner: &'a str,
    until: i64,
}

const FAN_OUT: &str =
    "SELECT id FROM endpoints WHERE workspace_id = ?1 AND mode = ?2 AND is_active = 1 \
     AND deleted_at IS NULL AND (project_id IS NULL OR project_id = ?3) AND instr(events, ?4) > 0";
const INSERT_EVENTS: &str = "INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, \
     delivery_count) SELECT value->>'id', value->>'ws', value->>'mode', value->>'type', value->>'project', \
     value->>'data', value->>'at', value->>'count' FROM json_each(?1)";
const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, \
     attempt_count, next_attempt_at, created_at, updated_at, lease_owner, lease_until) \
     SELECT value->>'id', value->>'ws', value->>'mode', value->>'event', value->>'endpoint', 'pending', 0, \
     value->>'at', value->>'at', value->>'at', value->>'owner', value->>'until' FROM json_each(?1)";

/// Fans out and stores a batch of events: one query per distinct (tenant, project, type), then
/// one insert for all events and one for all deliveries.
pub(super) fn publish_batch(
    conn: &mut SqliteConnection,
    inputs: Arc<Vec<PublishInput>>,
) -> BoxFuture<'_, StoreResult<Vec<PublishOutput>>> {
    Box::pin(async move {
        let mut fan_out: HashMap<(&str, &str, Option<&str>, &str), Vec<EndpointId>> =
            HashMap::new();
        for (tenant, event, _) in inputs.iter() {
            let key = (
                tenant.workspace_id.as_str(),
                tenant.mode.as_str(),
                event.project_id.as_deref(),
                event.event_type.as_str(),
            );
            if fan_out.contains_key(&key) {
                continue;
            }
            let rows = sqlx::query(FAN_OUT)
                .bind(key.0)
                .bind(key.1)
                .bind(key.2)
                .bind(format!("\"{}\"", key.3))
                .fetch_all(&mut *conn)
                .await?;
            let ids = rows
                .iter()
                .map(|r| r.text("id").map(EndpointId::from_trusted))
                .collect::<StoreResult<_>>()?;
            fan_out.insert(key, ids);
        }
        let mut events = Vec::with_capacity(inputs.len());
        let mut deliveries = Vec::new();
        let mut outputs = Vec::with_capacity(inputs.len());
        for (tenant, event, lease) in inputs.iter() {
            let key = (
                tenant.workspace_id.as_str(),
                tenant.mode.as_str(),
                event.project_id.as_deref(),
                event.event_type.as_str(),
            );
            let targets = &fan_out[&key];
            let at = event.created_at.as_millis();
            events.push(EventRow {
                id: event.id.as_str(),
                ws: key.0,
                mode: key.1,
                event_type: key.3,
                project: key.2,
                data: event.data.get(),
                at,
                count: targets.len(),
            });
            let body = Arc::new(payload::render(
                &event.id,
                &event.event_type,
                event.created_at,
                event.project_id.as_deref(),
                &event.data,
            ));
            let mut jobs = Vec::with_capacity(targets.len());
            for endpoint_id in targets {
                let delivery_id = DeliveryId::generate();
                deliveries.push(DeliveryRow {
                    id: delivery_id.to_string(),
                    ws: key.0,
                    mode: key.1,
                    event: event.id.as_str(),
                    endpoint: endpoint_id.to_string(),
                    at,
                    owner: &lease.owner,
                    until: lease.until.as_millis(),
                });
                jobs.push(DeliveryJob {
                    delivery_id,
                    endpoint_id: endpoint_id.clone(),
                    event_id: event.id.clone(),
                    attempt_count: 0,
                    payload: Arc::clone(&body),
                    lease_until: lease.until,
                });
            }
            let stored = Event {
                id: event.id.clone(),
                event_type: event.event_type.clone(),
                project_id: event.project_id.clone(),
                data: event.data.clone(),
                created_at: event.created_at,
                delivery_count: jobs.len() as i64,
            };
            outputs.push((stored, jobs));
        }
        sqlx::query(INSERT_EVENTS)
            .bind(to_json(&events)?)
            .execute(&mut *conn)
            .await?;
        if !deliveries.is_empty() {
            sqlx::query(INSERT_DELIVERIES)
                .bind(to_json(&deliveries)?)
                .execute(&mut *conn)
                .await?;
        }
        Ok(outputs)
    })
}

fn to_json<T: Serialize>(rows: &T) -> StoreResult<String> {
    serde_json::to_string(rows).map_err(|e| StoreError::Corrupt(format!("encoding a batch: {e}")))
}

// --- attempt results ---

pub(super) type RecordInput = (AttemptRecord, HealthRule, Timestamp);

#[derive(Serialize)]
struct AttemptRow<'a> {
    id: &'a str,
    d: &'a str,
    e: &'a str,
    start: i64,
    dur: i64,
    code: Option<i64>,
    err: Option<&'a str>,
    body: &'a str,
    ok: bool,
    status: &'static str,
    next: Option<i64>,
    now: i64,
}

const INSERT_ATTEMPTS: &str = "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, \
     response_body) SELECT value->>'id', value->>'d', value->>'start', value->>'dur', value->>'code', value->>'err', \
     value->>'body' FROM json_each(?1)";
/// A delivery cancelled while in flight stays cancelled.
const UPDATE_DELIVERIES: &str = "UPDATE deliveries SET status = v.status, attempt_count = attempt_count + 1, \
     next_attempt_at = v.next, last_status_code = COALESCE(v.code, last_status_code), updated_at = v.now, \
     lease_owner = NULL, lease_until = NULL \
     FROM (SELECT value->>'d' AS id, value->>'status' AS status, value->>'next' AS next, value->>'code' AS code, \
           value->>'now' AS now FROM json_each(?1)) AS v \
     WHERE deliveries.id = v.id AND deliveries.status != 'cancelled'";
/// Failures first, then successes: a success in the same batch ends the failing streak.
const MARK_FAILING: &str = "UPDATE endpoints SET failing_since = COALESCE(failing_since, v.at) \
     FROM (SELECT value->>'e' AS id, MIN(value->>'start') AS at FROM json_each(?1) WHERE value->>'ok' = 0 \
           GROUP BY 1) AS v WHERE endpoints.id = v.id";
const MARK_HEALTHY: &str =
    "UPDATE endpoints SET failing_since = NULL WHERE failing_since IS NOT NULL \
     AND id IN (SELECT value->>'e' FROM json_each(?1) WHERE value->>'ok' = 1)";
const DISABLE_GONE: &str =
    "UPDATE endpoints SET is_active = 0, disabled_reason = 'gone', updated_at = ?2 \
     WHERE id = ?1 AND is_active = 1";
/// Exhausted: disable the endpoint if it has been failing long enough, with enough exhausted
/// deliveries in the streak.
const DISABLE_FAILING: &str =
    "UPDATE endpoints SET is_active = 0, disabled_reason = 'failing', updated_at = ?2 \
     WHERE id = ?1 AND is_active = 1 AND failing_since <= ?3 \
       AND (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = ?1 AND d.status = 'failed' \
            AND d.updated_at >= endpoints.failing_since) >= ?4";

/// Writes a batch of attempt results: their attempts, their deliveries' next states and their
/// endpoints' health. A delivery appearing twice is written in two rounds, in order.
pub(super) fn record_batch(
    conn: &mut SqliteConnection,
    inputs: Arc<Vec<RecordInput>>,
) -> BoxFuture<'_, StoreResult<Vec<()>>> {
    Box::pin(async move {
        let mut rounds: Vec<Vec<&RecordInput>> = Vec::new();
        let mut seen: HashMap<&DeliveryId, usize> = HashMap::new();
        for input in inputs.iter() {
            let round = seen
                .entry(&input.0.delivery_id)
                .and_modify(|n| *n += 1)
                .or_insert(0);
            if rounds.len() <= *round {
                rounds.push(Vec::new());
            }
            rounds[*round].push(input);
        }
        for round in rounds {
            record_round(conn, &round).await?;
        }
        Ok(vec![(); inputs.len()])
    })
}

async fn record_round(conn: &mut SqliteConnection, inputs: &[&RecordInput]) -> StoreResult<()> {
    let rows: Vec<AttemptRow<'_>> = inputs
        .iter()
        .map(|(record, _, now)| {
            let a = &record.attempt;
            let status = match (record.succeeded, record.next_attempt_at) {
                (true, _) => DeliveryStatus::Succeeded,
                (false, Some(_)) => DeliveryStatus::Pending,
                (false, None) => DeliveryStatus::Failed,
            };
            AttemptRow {
                id: a.id.as_str(),
                d: record.delivery_id.as_str(),
                e: record.endpoint_id.as_str(),
                start: a.started_at.as_millis(),
                dur: a.duration_ms,
                code: a.status_code,
                err: a.error.as_deref(),
                body: &a.response_body,
                ok: record.succeeded,
                status: status.as_str(),
                next: record.next_attempt_at.map(Timestamp::as_millis),
                now: now.as_millis(),
            }
        })
        .collect();
    let json = to_json(&rows)?;
    sqlx::query(INSERT_ATTEMPTS)
        .bind(&json)
        .execute(&mut *conn)
        .await?;
    sqlx::query(UPDATE_DELIVERIES)
        .bind(&json)
        .execute(&mut *conn)
        .await?;
    if rows.iter().any(|r| !r.ok) {
        sqlx::query(MARK_FAILING)
            .bind(&json)
            .execute(&mut *conn)
            .await?;
    }
    if rows.iter().any(|r| r.ok) {
        sqlx::query(MARK_HEALTHY)
            .bind(&json)
            .execute(&mut *conn)
            .await?;
    }
    for (record, rule, now) in inputs.iter().filter(|(r, _, _)| !r.succeeded) {
        let endpoint = record.endpoint_id.as_str();
        if record.endpoint_gone {
            sqlx::query(DISABLE_GONE)
                .bind(endpoint)
                .bind(now.as_millis())
                .execute(&mut *conn)
                .await?;
        }
        if record.next_attempt_at.is_none() {
            sqlx::query(DISABLE_FAILING)
                .bind(endpoint)
                .bind(now.as_millis())
                .bind(now.as_millis() - rule.failing_for_ms)
                .bind(rule.min_exhausted)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
