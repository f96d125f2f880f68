//! Group commit for publishes on PostgreSQL (batched by `batcher.rs`).
//!
//! Every publish must wait for its WAL flush before the API answers 202, and with one commit per
//! publish those flushes bound a node at about 2k events/s (`LWLock:WALWrite` and `IO:WALSync`
//! dominated `pg_stat_activity`). So concurrent publishes are collected and stored together: the
//! fan-out reads, then one statement inserting every event and every delivery of the batch (a
//! data-modifying CTE over arrays), one commit, one flush.
//!
//! A batch with keyed events (`domain::ordering`) runs in a transaction that first takes its
//! keys' advisory locks and reads where each (endpoint, key) stands, so each delivery gets the
//! next place in its key's order and only a key's head is leased; batches without keys take
//! the single-statement path unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::batcher::Batcher;
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::ordering::{Admission, OrderingKey};
use crate::domain::tenant::Tenant;
use crate::store::rows::RowExt;
use crate::store::{DeliveryJob, Lease, StoreResult};

/// Most publishes stored by one statement.
const MAX_BATCH: usize = 512;

type Input = (Tenant, NewEvent, Lease);
type Output = (Event, Vec<DeliveryJob>);

pub(super) type Publisher = Batcher<Input, Output>;

/// Starts the publish batcher on the current runtime.
pub(super) fn start(pool: PgPool) -> Publisher {
    Batcher::start(
        pool,
        MAX_BATCH,
        "hookd_store_publish_batch_size",
        |pool, inputs| Box::pin(store_batch(pool, inputs)) as BoxFuture<'_, _>,
    )
}

/// The endpoints an event goes to, read once per distinct (tenant, project, type) of a batch.
type FanOutKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

fn fan_out_key((tenant, event, _): &Input) -> FanOutKey<'_> {
    (
        tenant.workspace_id.as_str(),
        tenant.mode.as_str(),
        event.project_id.as_deref(),
        event.event_type.as_str(),
    )
}

/// The columns of a batch, as the arrays the insert statement unnests.
#[derive(Default)]
struct Columns<'a> {
    event_ids: Vec<&'a str>,
    workspaces: Vec<&'a str>,
    modes: Vec<&'a str>,
    types: Vec<&'a str>,
    projects: Vec<Option<&'a str>>,
    data: Vec<&'a str>,
    created: Vec<i64>,
    counts: Vec<i64>,
    event_keys: Vec<Option<&'a str>>,
    delivery_ids: Vec<String>,
    delivery_workspaces: Vec<&'a str>,
    delivery_modes: Vec<&'a str>,
    delivery_events: Vec<&'a str>,
    delivery_endpoints: Vec<&'a str>,
    delivery_at: Vec<i64>,
    /// Due time, lease owner and lease end: `None` for a held keyed delivery.
    next_at: Vec<Option<i64>>,
    owners: Vec<Option<&'a str>>,
    lease_until: Vec<Option<i64>>,
    delivery_keys: Vec<Option<&'a str>>,
    seqs: Vec<Option<i64>>,
}

const INSERT_BATCH: &str = "WITH stored AS ( \
       INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, delivery_count, \
         ordering_key) \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                            $7::bigint[], $8::bigint[], $9::text[])) \
     INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count, \
       next_attempt_at, created_at, updated_at, lease_owner, lease_until, ordering_key, ordering_seq) \
     SELECT d, ws, m, ev, ep, 'pending', 0, nx, at, at, o, u, k, sq \
     FROM UNNEST($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[], \
                 $16::bigint[], $17::text[], $18::bigint[], $19::text[], $20::bigint[]) \
       AS t (d, ws, m, ev, ep, at, nx, o, u, k, sq)";

/// Serializes the publishes, results and cancellations of the batch's ordering keys across
/// nodes until the transaction ends, in one global order (sorted lock ids), so two batches
/// never wait on each other in a cycle. The two-key form keeps these locks apart from any
/// single-key advisory lock.
pub(super) const LOCK_KEYS: &str = "SELECT pg_advisory_xact_lock(26, h) \
     FROM (SELECT DISTINCT hashtext(k) AS h FROM UNNEST($1::text[]) AS k) s ORDER BY h";

/// The lock name of an ordering key (scoped to its tenant, like the key itself).
pub(super) fn lock_name(tenant: &Tenant, key: &str) -> String {
    // The same string `recorder::lock_keys_of` builds in SQL from a delivery's columns.
    format!(
        "{}\u{1f}{}\u{1f}{key}",
        tenant.workspace_id.as_str(),
        tenant.mode.as_str()
    )
}

/// Where each (endpoint, key) of the batch stands: the last place taken, and whether any of
/// its deliveries is pending. Both are index lookups (`deliveries_by_key` backwards, and
/// `deliveries_pending_by_key`), however long the key's history.
const KEY_STATES: &str = "SELECT p.endpoint_id, p.ordering_key, \
       COALESCE((SELECT MAX(d.ordering_seq) FROM deliveries d \
         WHERE d.endpoint_id = p.endpoint_id AND d.ordering_key = p.ordering_key), 0) AS last, \
       EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = p.endpoint_id \
         AND d.ordering_key = p.ordering_key AND d.status = 'pending') AS busy \
     FROM (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[]) AS t (endpoint_id, ordering_key)) p";

/// (endpoint, key) → (last place taken, a delivery is pending).
type KeyStates = HashMap<(String, String), (i64, bool)>;

/// Stores a batch of events with their deliveries in one statement (one commit). A batch with
/// keyed events first takes its keys' locks and reads where they stand, in one transaction
/// (`domain::ordering`: each delivery takes the next place, and only a key's head is leased).
async fn store_batch(pool: &PgPool, inputs: &[Input]) -> StoreResult<Vec<Output>> {
    let mut fan_out: HashMap<FanOutKey<'_>, Vec<EndpointId>> = HashMap::new();
    for input in inputs {
        let key = fan_out_key(input);
        if fan_out.contains_key(&key) {
            continue;
        }
        let rows = sqlx::query(
            "SELECT id FROM endpoints WHERE workspace_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL \
             AND (project_id IS NULL OR project_id = $3) AND events ? $4",
        )
        .bind(key.0)
        .bind(key.1)
        .bind(key.2)
        .bind(key.3)
        .fetch_all(pool)
        .await?;
        let ids = rows
            .iter()
            .map(|row| row.text("id").map(EndpointId::from_trusted))
            .collect::<StoreResult<Vec<_>>>()?;
        fan_out.insert(key, ids);
    }
    let keyed = inputs
        .iter()
        .any(|(_, event, _)| event.ordering_key.is_some());
    if !keyed {
        let (columns, outputs) = columns(inputs, &fan_out, &mut KeyStates::new());
        insert(&columns).execute(pool).await?;
        return Ok(outputs);
    }
    let mut tx = pool.begin().await?;
    let mut locks = Vec::new();
    let (mut pair_endpoints, mut pair_keys) = (Vec::new(), Vec::new());
    for input in inputs {
        let (tenant, event, _) = input;
        let Some(key) = &event.ordering_key else {
            continue;
        };
        locks.push(lock_name(tenant, key.as_str()));
        for endpoint in &fan_out[&fan_out_key(input)] {
            pair_endpoints.push(endpoint.as_str());
            pair_keys.push(key.as_str());
        }
    }
    sqlx::query(LOCK_KEYS)
        .bind(&locks)
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(KEY_STATES)
        .bind(&pair_endpoints)
        .bind(&pair_keys)
        .fetch_all(&mut *tx)
        .await?;
    let mut states = KeyStates::new();
    for row in &rows {
        states.insert(
            (row.text("endpoint_id")?, row.text("ordering_key")?),
            (row.int("last")?, row.flag("busy")?),
        );
    }
    let (columns, outputs) = columns(inputs, &fan_out, &mut states);
    insert(&columns).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(outputs)
}

/// The batch's rows as columns, and each publish's answer. `states` is where each keyed
/// (endpoint, key) stands; it moves on with every delivery placed.
fn columns<'a>(
    inputs: &'a [Input],
    fan_out: &'a HashMap<FanOutKey<'a>, Vec<EndpointId>>,
    states: &mut KeyStates,
) -> (Columns<'a>, Vec<Output>) {
    let mut columns = Columns::default();
    let mut outputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let key = fan_out_key(input);
        let (_, event, lease) = input;
        let targets = &fan_out[&key];
        let at = event.created_at.as_millis();
        let ordering_key = event.ordering_key.as_ref().map(OrderingKey::as_str);
        columns.event_ids.push(event.id.as_str());
        columns.workspaces.push(key.0);
        columns.modes.push(key.1);
        columns.types.push(key.3);
        columns.projects.push(key.2);
        columns.data.push(event.data.get());
        columns.created.push(at);
        columns.counts.push(targets.len() as i64);
        columns.event_keys.push(ordering_key);
        let body = Arc::new(event.payload());
        let mut jobs = Vec::with_capacity(targets.len());
        for endpoint_id in targets {
            // Unkeyed: dispatched at once, as always. Keyed: the next place, head or held.
            let (head, seq) = match ordering_key {
                None => (true, None),
                Some(k) => {
                    let state = states
                        .entry((endpoint_id.to_string(), k.to_string()))
                        .or_insert((0, false));
                    let admission = Admission::at_publish(state.1);
                    *state = (state.0 + 1, true);
                    (admission.dispatches(), Some(state.0))
                }
            };
            let delivery_id = DeliveryId::generate();
            columns.delivery_ids.push(delivery_id.to_string());
            columns.delivery_workspaces.push(key.0);
            columns.delivery_modes.push(key.1);
            columns.delivery_events.push(event.id.as_str());
            columns.delivery_endpoints.push(endpoint_id.as_str());
            columns.delivery_at.push(at);
            columns.next_at.push(head.then_some(at));
            columns.owners.push(head.then_some(lease.owner.as_str()));
            columns
                .lease_until
                .push(head.then_some(lease.until.as_millis()));
            columns.delivery_keys.push(ordering_key);
            columns.seqs.push(seq);
            if head {
                jobs.push(DeliveryJob {
                    delivery_id,
                    endpoint_id: endpoint_id.clone(),
                    event_id: event.id.clone(),
                    attempt_count: 0,
                    payload: Arc::clone(&body),
                    lease_until: lease.until,
                    link: None,
                    ordered: ordering_key.is_some(),
                });
            }
        }
        outputs.push((event.stored(targets.len()), jobs));
    }
    (columns, outputs)
}

/// [`INSERT_BATCH`] with the batch's columns bound.
fn insert<'q>(
    columns: &'q Columns<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(INSERT_BATCH)
        .bind(&columns.event_ids)
        .bind(&columns.workspaces)
        .bind(&columns.modes)
        .bind(&columns.types)
        .bind(&columns.projects)
        .bind(&columns.data)
        .bind(&columns.created)
        .bind(&columns.counts)
        .bind(&columns.event_keys)
        .bind(&columns.delivery_ids)
        .bind(&columns.delivery_workspaces)
        .bind(&columns.delivery_modes)
        .bind(&columns.delivery_events)
        .bind(&columns.delivery_endpoints)
        .bind(&columns.delivery_at)
        .bind(&columns.next_at)
        .bind(&columns.owners)
        .bind(&columns.lease_until)
        .bind(&columns.delivery_keys)
        .bind(&columns.seqs)
}
