//! The two hot writes, run on the writer thread: publishing an event (fan-out to its endpoints'
//! deliveries) and persisting an attempt's result as the domain decided it.
//!
//! Each is a handful of cached prepared statements with bound parameters. Concurrent requests
//! share one commit through the writer's group commit, so nothing here batches on its own.
//! (Remembering fan-outs and healthy endpoints between publishes saved no measurable CPU once
//! the rest of the path was lean, and was removed: docs/performance.md.)
//!
//! Keyed events and results of keyed deliveries also apply `domain::ordering` here (a place in
//! the key's order at publish; hold or promote at record), through statements that unkeyed
//! ones never run.

use std::sync::Arc;

use rusqlite::{params, Connection};

use super::{execute, query_all, query_opt};
use crate::domain::delivery::outcome::{AttemptRecord, HealthRule, StreakUpdate};
use crate::domain::endpoint::DisabledReason;
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::ordering::{self, Admission, OrderingKey};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::{AttemptWritten, DeliveryJob, Lease, StoreResult};

/// The endpoints an event goes to: active, of its tenant, scoped to its project or to none, and
/// subscribed to its type (`events` is a JSON array of names, so `"type"` with its quotes
/// matches whole names only).
const FAN_OUT: &str =
    "SELECT id FROM endpoints WHERE workspace_id = ?1 AND mode = ?2 AND is_active = 1 \
     AND deleted_at IS NULL AND (project_id IS NULL OR project_id = ?3) AND instr(events, ?4) > 0";
const INSERT_EVENT: &str = "INSERT INTO events (id, workspace_id, mode, type, project_id, data, \
     created_at, delivery_count, ordering_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_DELIVERY: &str =
    "INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, \
     status, attempt_count, next_attempt_at, created_at, updated_at, lease_owner, lease_until) \
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6, ?7, ?8)";
/// A delivery of a keyed event (`domain::ordering`): its place in its key's order, and a due
/// time and lease only when it is the key's head (`?6`/`?7`/`?8` NULL when held).
const INSERT_ORDERED_DELIVERY: &str =
    "INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, \
     status, attempt_count, next_attempt_at, created_at, updated_at, lease_owner, lease_until, \
     ordering_key, ordering_seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?9, ?9, ?7, ?8, ?10, ?11)";
/// Where a key stands on an endpoint: the last place taken, and whether any of its deliveries
/// is still pending (then a new one waits behind it).
const KEY_STATE: &str = "SELECT COALESCE(MAX(ordering_seq), 0) AS last, \
       EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ?1 AND ordering_key = ?2 \
         AND status = 'pending') AS busy \
     FROM deliveries WHERE endpoint_id = ?1 AND ordering_key = ?2";

/// The endpoints `event` goes to.
fn fan_out(conn: &Connection, tenant: &Tenant, event: &NewEvent) -> StoreResult<Vec<EndpointId>> {
    let quoted_type = format!("\"{}\"", event.event_type);
    query_all(
        conn,
        FAN_OUT,
        params![
            tenant.workspace_id.as_str(),
            tenant.mode.as_str(),
            event.project_id,
            quoted_type
        ],
        |row| row.text("id").map(EndpointId::from_trusted),
    )
}

/// Stores `event` and one delivery per matching endpoint, leased to `lease.owner`; returns the
/// stored event and the leased jobs, which carry the already rendered `payload`.
pub(super) fn publish(
    conn: &Connection,
    tenant: &Tenant,
    event: &NewEvent,
    lease: &Lease,
    payload: &Arc<bytes::Bytes>,
) -> StoreResult<(Event, Vec<DeliveryJob>)> {
    let (workspace, mode) = (tenant.workspace_id.as_str(), tenant.mode.as_str());
    let project = event.project_id.as_deref();
    let targets = fan_out(conn, tenant, event)?;
    let at = event.created_at.as_millis();
    execute(
        conn,
        INSERT_EVENT,
        params![
            event.id.as_str(),
            workspace,
            mode,
            event.event_type,
            project,
            event.data.get(),
            at,
            targets.len() as i64,
            event.ordering_key.as_ref().map(OrderingKey::as_str),
        ],
    )?;
    if let Some(key) = &event.ordering_key {
        return publish_ordered(conn, tenant, event, key, lease, payload, targets);
    }
    let mut insert_delivery = conn.prepare_cached(INSERT_DELIVERY)?;
    let lease_until = lease.until.as_millis();
    let mut jobs = Vec::with_capacity(targets.len());
    for endpoint_id in targets {
        let delivery_id = DeliveryId::generate();
        insert_delivery.execute(params![
            delivery_id.as_str(),
            workspace,
            mode,
            event.id.as_str(),
            endpoint_id.as_str(),
            at,
            lease.owner,
            lease_until,
        ])?;
        jobs.push(DeliveryJob {
            delivery_id,
            endpoint_id,
            event_id: event.id.clone(),
            attempt_count: 0,
            payload: Arc::clone(payload),
            lease_until: lease.until,
            link: None,
            ordered: false,
        });
    }
    Ok((event.stored(jobs.len()), jobs))
}

/// The deliveries of a keyed event: each takes the next place in its key's order on its
/// endpoint, and is dispatched only if it is the key's head there (`domain::ordering`). The
/// writer runs publishes one at a time, so no other write comes between the read and the insert.
fn publish_ordered(
    conn: &Connection,
    tenant: &Tenant,
    event: &NewEvent,
    key: &OrderingKey,
    lease: &Lease,
    payload: &Arc<bytes::Bytes>,
    targets: Vec<EndpointId>,
) -> StoreResult<(Event, Vec<DeliveryJob>)> {
    let mut key_state = conn.prepare_cached(KEY_STATE)?;
    let mut insert_delivery = conn.prepare_cached(INSERT_ORDERED_DELIVERY)?;
    let at = event.created_at.as_millis();
    let count = targets.len();
    let mut jobs = Vec::with_capacity(count);
    for endpoint_id in targets {
        let (last, busy) = key_state
            .query_row(params![endpoint_id.as_str(), key.as_str()], |row| {
                Ok((row.get::<_, i64>("last")?, row.get::<_, bool>("busy")?))
            })?;
        let admission = Admission::at_publish(busy);
        let head = admission.dispatches();
        let delivery_id = DeliveryId::generate();
        insert_delivery.execute(params![
            delivery_id.as_str(),
            tenant.workspace_id.as_str(),
            tenant.mode.as_str(),
            event.id.as_str(),
            endpoint_id.as_str(),
            head.then_some(at),
            head.then_some(lease.owner.as_str()),
            head.then_some(lease.until.as_millis()),
            at,
            key.as_str(),
            last + 1,
        ])?;
        if head {
            jobs.push(DeliveryJob {
                delivery_id,
                endpoint_id,
                event_id: event.id.clone(),
                attempt_count: 0,
                payload: Arc::clone(payload),
                lease_until: lease.until,
                link: None,
                ordered: true,
            });
        }
    }
    Ok((event.stored(count), jobs))
}

const INSERT_ATTEMPT: &str = "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, \
     status_code, error, response_body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Only while this node holds the lease; a delivery cancelled while in flight stays cancelled.
const UPDATE_DELIVERY: &str =
    "UPDATE deliveries SET status = ?2, attempt_count = attempt_count + 1, \
     next_attempt_at = ?3, last_status_code = COALESCE(?4, last_status_code), updated_at = ?5, \
     lease_owner = NULL, lease_until = NULL \
     WHERE id = ?1 AND status != 'cancelled' AND lease_owner = ?6";
/// Whether the delivery was cancelled, and whether that was by erasing its event.
const IS_CANCELLED: &str =
    "SELECT d.status = 'cancelled' AS cancelled, EXISTS (SELECT 1 FROM events e \
     WHERE e.workspace_id = d.workspace_id AND e.mode = d.mode AND e.id = d.event_id \
       AND e.data = 'null') AS erased FROM deliveries d WHERE d.id = ?1";
const CLEAR_STREAK: &str =
    "UPDATE endpoints SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL";
const START_STREAK: &str =
    "UPDATE endpoints SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1";
const RESTART_STREAK: &str = "UPDATE endpoints SET failing_since = ?2 WHERE id = ?1";
const DISABLE: &str = "UPDATE endpoints SET is_active = 0, disabled_reason = ?2, updated_at = ?3 \
     WHERE id = ?1 AND is_active = 1";
/// What [`HealthRule::should_disable`] decides from: the streak, and the deliveries failed for
/// good since it began.
const STREAK_FACTS: &str = "SELECT failing_since, \
       (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.status = 'failed' \
          AND d.updated_at >= e.failing_since) AS exhausted \
     FROM endpoints e WHERE id = ?1 AND is_active = 1";
/// Whether a pending delivery of the same key on the same endpoint comes before `?1`.
const EARLIER_PENDING: &str = "SELECT EXISTS (SELECT 1 FROM deliveries o JOIN deliveries w \
       ON o.endpoint_id = w.endpoint_id AND o.ordering_key = w.ordering_key \
     WHERE w.id = ?1 AND o.status = 'pending' AND o.ordering_seq < w.ordering_seq) AS earlier";
/// A keyed delivery in retry that came out of turn waits behind the earlier one instead.
const HOLD: &str =
    "UPDATE deliveries SET next_attempt_at = NULL WHERE id = ?1 AND status = 'pending'";
/// After a replay: every scheduled keyed delivery of endpoint `?1` with an earlier pending
/// delivery of its key waits behind it (`domain::ordering`, rule 1).
pub(super) const HOLD_BEHIND_EARLIER: &str = "UPDATE deliveries SET next_attempt_at = NULL \
     WHERE endpoint_id = ?1 AND status = 'pending' AND ordering_key IS NOT NULL \
       AND next_attempt_at IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries o \
         WHERE o.endpoint_id = deliveries.endpoint_id AND o.ordering_key = deliveries.ordering_key \
           AND o.status = 'pending' AND o.ordering_seq < deliveries.ordering_seq)";
/// Makes the first pending delivery of `?1`'s key on its endpoint due now, if it was held.
pub(super) const PROMOTE_NEXT: &str =
    "UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?2 \
     WHERE next_attempt_at IS NULL AND status = 'pending' AND id = ( \
       SELECT h.id FROM deliveries h JOIN deliveries w \
         ON h.endpoint_id = w.endpoint_id AND h.ordering_key = w.ordering_key \
       WHERE w.id = ?1 AND h.status = 'pending' ORDER BY h.ordering_seq LIMIT 1)";
const DELIVERY_CONTEXT: &str = "SELECT d.workspace_id, d.mode, d.event_id, e.type \
     FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?1";

/// Persists one attempt result as `domain::delivery::outcome` decided it: the delivery's next
/// state, the attempt, the endpoint's streak, and disabling; says what it did.
pub(super) fn record(
    conn: &Connection,
    record: &AttemptRecord,
    rule: HealthRule,
    now: Timestamp,
) -> StoreResult<AttemptWritten> {
    let a = &record.attempt;
    let updated = execute(
        conn,
        UPDATE_DELIVERY,
        params![
            record.delivery_id.as_str(),
            record.next.status().as_str(),
            record.next.next_attempt_at().map(Timestamp::as_millis),
            a.status_code,
            now.as_millis(),
            record.lease_owner,
        ],
    )?;
    if updated > 0 && record.ordered {
        keep_order(conn, record, now)?;
    }
    let mut response_body = a.response_body.as_str();
    if updated == 0 {
        match cancelled(conn, record)? {
            // Cancelled by an erasure while in flight: the answer may echo the erased data.
            Some(true) => response_body = "",
            Some(false) => {}
            None => {
                // This node's lease ran out and the delivery was taken over (or it was removed
                // by retention): the new owner's result stands, this one is dropped whole.
                tracing::info!(delivery = %record.delivery_id, "an attempt's result came after its lease was lost; not recorded");
                return Ok(AttemptWritten::default());
            }
        }
    }
    execute(
        conn,
        INSERT_ATTEMPT,
        params![
            a.id.as_str(),
            record.delivery_id.as_str(),
            a.started_at.as_millis(),
            a.duration_ms,
            a.status_code,
            a.error,
            response_body,
        ],
    )?;
    move_streak(conn, &record.endpoint_id, record.streak())?;
    let mut disabled = None;
    if let Some(reason) = record.disables_endpoint() {
        if disable(conn, &record.endpoint_id, reason, now)? {
            disabled = Some(reason);
        }
    }
    if record.exhausted() {
        let facts = query_opt(conn, STREAK_FACTS, [record.endpoint_id.as_str()], |row| {
            Ok((row.opt_time("failing_since")?, row.int("exhausted")?))
        })?;
        if let Some((failing_since, exhausted)) = facts {
            if rule.should_disable(failing_since, exhausted, now)
                && disable(conn, &record.endpoint_id, DisabledReason::Failing, now)?
            {
                disabled = Some(DisabledReason::Failing);
            }
        }
    }
    let context = if disabled.is_some() || record.exhausted() {
        query_opt(
            conn,
            DELIVERY_CONTEXT,
            [record.delivery_id.as_str()],
            |row| rows::delivery_context(row),
        )?
    } else {
        None
    };
    Ok(AttemptWritten {
        written: true,
        disabled,
        context,
    })
}

/// Applies `domain::ordering` to a keyed delivery's written result: a retry out of turn is held
/// behind the earlier delivery of its key; a delivery that ended lets the next one go.
fn keep_order(conn: &Connection, record: &AttemptRecord, now: Timestamp) -> StoreResult<()> {
    let id = record.delivery_id.as_str();
    if ordering::frees_key(record.next) {
        execute(conn, PROMOTE_NEXT, params![id, now.as_millis()])?;
        return Ok(());
    }
    let earlier = query_opt(conn, EARLIER_PENDING, [id], |row| row.flag("earlier"))?;
    if ordering::retry_time(record.next, earlier.unwrap_or(false)).is_none() {
        execute(conn, HOLD, [id])?;
    }
    Ok(())
}

/// `Some` when the delivery was cancelled while its attempt was in flight (the attempt is still
/// recorded, the delivery stays cancelled), with `true` when its event was erased.
fn cancelled(conn: &Connection, record: &AttemptRecord) -> StoreResult<Option<bool>> {
    let found = query_opt(conn, IS_CANCELLED, [record.delivery_id.as_str()], |row| {
        Ok((row.flag("cancelled")?, row.flag("erased")?))
    })?;
    Ok(found.and_then(|(cancelled, erased)| cancelled.then_some(erased)))
}

fn move_streak(conn: &Connection, endpoint: &EndpointId, update: StreakUpdate) -> StoreResult<()> {
    match update {
        StreakUpdate::Clear => {
            execute(conn, CLEAR_STREAK, [endpoint.as_str()])?;
        }
        StreakUpdate::StartIfClear(at) => {
            execute(
                conn,
                START_STREAK,
                params![endpoint.as_str(), at.as_millis()],
            )?;
        }
        StreakUpdate::Restart(at) => {
            execute(
                conn,
                RESTART_STREAK,
                params![endpoint.as_str(), at.as_millis()],
            )?;
        }
    }
    Ok(())
}

/// Disables an active endpoint; `false` when it was inactive already.
fn disable(
    conn: &Connection,
    endpoint: &EndpointId,
    reason: DisabledReason,
    now: Timestamp,
) -> StoreResult<bool> {
    let changed = execute(
        conn,
        DISABLE,
        params![endpoint.as_str(), reason.as_str(), now.as_millis()],
    )?;
    Ok(changed > 0)
}
