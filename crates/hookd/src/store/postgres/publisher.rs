//! Group commit for publishes on PostgreSQL (batched by `batcher.rs`).
//!
//! Every publish must wait for its WAL flush before the API answers 202, and with one commit per
//! publish those flushes bound a node at about 2k events/s (`LWLock:WALWrite` and `IO:WALSync`
//! dominated `pg_stat_activity`). So concurrent publishes are collected and stored together: the
//! fan-out reads, then one statement inserting every event and every delivery of the batch (a
//! data-modifying CTE over arrays), one commit, one flush.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::batcher::Batcher;
use crate::domain::event::{Event, NewEvent};
use crate::domain::filter::{self, EventView};
use crate::domain::ids::{DeliveryId, EndpointId};
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
    delivery_ids: Vec<String>,
    delivery_workspaces: Vec<&'a str>,
    delivery_modes: Vec<&'a str>,
    delivery_events: Vec<&'a str>,
    delivery_endpoints: Vec<&'a str>,
    delivery_at: Vec<i64>,
    owners: Vec<&'a str>,
    lease_until: Vec<i64>,
}

const INSERT_BATCH: &str = "WITH stored AS ( \
       INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, delivery_count) \
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                            $7::bigint[], $8::bigint[])) \
     INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count, \
       next_attempt_at, created_at, updated_at, lease_owner, lease_until) \
     SELECT d, ws, m, ev, ep, 'pending', 0, at, at, at, o, u \
     FROM UNNEST($9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], \
                 $15::text[], $16::bigint[]) AS t (d, ws, m, ev, ep, at, o, u)";

/// Stores a batch of events with their deliveries in one statement (one commit).
async fn store_batch(pool: &PgPool, inputs: &[Input]) -> StoreResult<Vec<Output>> {
    // Endpoints with their filters; the filters are applied per event below.
    let mut fan_out: HashMap<FanOutKey<'_>, Vec<(EndpointId, Option<String>)>> = HashMap::new();
    for input in inputs {
        let key = fan_out_key(input);
        if fan_out.contains_key(&key) {
            continue;
        }
        let rows = sqlx::query(
            "SELECT id, filter FROM endpoints WHERE workspace_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL \
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
            .map(|row| {
                Ok((
                    EndpointId::from_trusted(row.text("id")?),
                    row.opt_text("filter")?,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        fan_out.insert(key, ids);
    }
    let mut columns = Columns::default();
    let mut outputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        let key = fan_out_key(input);
        let (_, event, lease) = input;
        let targets = filter::select(&fan_out[&key], || EventView::of(event));
        let at = event.created_at.as_millis();
        columns.event_ids.push(event.id.as_str());
        columns.workspaces.push(key.0);
        columns.modes.push(key.1);
        columns.types.push(key.3);
        columns.projects.push(key.2);
        columns.data.push(event.data.get());
        columns.created.push(at);
        columns.counts.push(targets.len() as i64);
        let body = Arc::new(event.payload());
        let mut jobs = Vec::with_capacity(targets.len());
        for endpoint_id in targets {
            let delivery_id = DeliveryId::generate();
            columns.delivery_ids.push(delivery_id.to_string());
            columns.delivery_workspaces.push(key.0);
            columns.delivery_modes.push(key.1);
            columns.delivery_events.push(event.id.as_str());
            columns.delivery_endpoints.push(endpoint_id.as_str());
            columns.delivery_at.push(at);
            columns.owners.push(&lease.owner);
            columns.lease_until.push(lease.until.as_millis());
            jobs.push(DeliveryJob {
                delivery_id,
                endpoint_id: endpoint_id.clone(),
                event_id: event.id.clone(),
                attempt_count: 0,
                payload: Arc::clone(&body),
                lease_until: lease.until,
                link: None,
            });
        }
        outputs.push((event.stored(jobs.len()), jobs));
    }
    sqlx::query(INSERT_BATCH)
        .bind(&columns.event_ids)
        .bind(&columns.workspaces)
        .bind(&columns.modes)
        .bind(&columns.types)
        .bind(&columns.projects)
        .bind(&columns.data)
        .bind(&columns.created)
        .bind(&columns.counts)
        .bind(&columns.delivery_ids)
        .bind(&columns.delivery_workspaces)
        .bind(&columns.delivery_modes)
        .bind(&columns.delivery_events)
        .bind(&columns.delivery_endpoints)
        .bind(&columns.delivery_at)
        .bind(&columns.owners)
        .bind(&columns.lease_until)
        .execute(pool)
        .await?;
    Ok(outputs)
}
