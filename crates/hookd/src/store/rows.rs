//! Row → domain mapping shared by both backends.
//!
//! The two schemas use the same column names and compatible types (TEXT ids, BIGINT/INTEGER
//! millisecond timestamps, a boolean flag, a blob for sealed secrets), so one mapping serves both
//! through the small [`RowExt`] accessor trait.

use serde_json::value::RawValue;

use super::{ApiKeyRecord, StoreError, StoreResult, Workspace};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::endpoint::{DisabledReason, Endpoint};
use crate::domain::event::Event;
use crate::domain::ids::{ApiKeyId, AttemptId, DeliveryId, EndpointId, EventId, WorkspaceId};
use crate::domain::tenant::Mode;
use crate::domain::time::Timestamp;

/// Typed column access with errors converted to [`StoreError`].
pub trait RowExt {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn blob(&self, column: &str) -> StoreResult<Vec<u8>>;

    fn time(&self, column: &str) -> StoreResult<Timestamp> {
        self.int(column).map(Timestamp::from_millis)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<Timestamp>> {
        Ok(self.opt_int(column)?.map(Timestamp::from_millis))
    }
}

/// Implements [`RowExt`] for a driver's row type through its `try_get`-style accessor: each
/// backend invokes it for its own row types (`sqlite/rows.rs`, `postgres/rows.rs`), so this file
/// names no driver.
#[macro_export]
#[doc(hidden)]
macro_rules! impl_row_ext {
    ($row:ty, |$this:ident, $column:ident| $get:expr) => {
        impl $crate::store::rows::RowExt for $row {
            fn text(&self, column: &str) -> $crate::store::StoreResult<String> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
            fn opt_text(&self, column: &str) -> $crate::store::StoreResult<Option<String>> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
            fn int(&self, column: &str) -> $crate::store::StoreResult<i64> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
            fn opt_int(&self, column: &str) -> $crate::store::StoreResult<Option<i64>> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
            fn flag(&self, column: &str) -> $crate::store::StoreResult<bool> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
            fn blob(&self, column: &str) -> $crate::store::StoreResult<Vec<u8>> {
                let ($this, $column) = (self, column);
                Ok($get?)
            }
        }
    };
}

pub fn mode(raw: &str) -> StoreResult<Mode> {
    Mode::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("unknown mode {raw:?}")))
}

/// Expects `workspace_id, mode, event_id, type` (see the backends' `DELIVERY_CONTEXT`).
pub fn delivery_context(row: &impl RowExt) -> StoreResult<super::DeliveryContext> {
    Ok(super::DeliveryContext {
        tenant: crate::domain::tenant::Tenant {
            workspace_id: WorkspaceId::from_trusted(row.text("workspace_id")?),
            mode: mode(&row.text("mode")?)?,
        },
        event_id: EventId::from_trusted(row.text("event_id")?),
        event_type: row.text("type")?,
    })
}

pub fn workspace(row: &impl RowExt) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: WorkspaceId::from_trusted(row.text("id")?),
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        deleted_at: row.opt_time("deleted_at")?,
    })
}

/// Expects the counts `workspace_usage` selects.
pub fn workspace_usage(row: &impl RowExt) -> StoreResult<crate::store::WorkspaceUsage> {
    let count = |column| row.int(column).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(crate::store::WorkspaceUsage {
        active_keys: count("active_keys")?,
        endpoints: count("endpoints")?,
        pending_deliveries: count("pending_deliveries")?,
        events: count("events")?,
        integrations: count("integrations")?,
    })
}

/// Expects the key's columns plus `workspace_name`.
pub fn api_key(row: &impl RowExt) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.text("id")?),
        workspace_id: WorkspaceId::from_trusted(row.text("workspace_id")?),
        workspace_name: row.text("workspace_name")?,
        mode: mode(&row.text("mode")?)?,
        key_hash: row.text("key_hash")?,
        prefix: row.text("prefix")?,
        last4: row.text("last4")?,
        name: row.opt_text("name")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// The columns [`endpoint`] reads.
pub const ENDPOINT_COLUMNS: &str =
    "id, url, name, events, is_active, disabled_reason, project_id, filter, rate_limit_per_sec, \
                                    secret_last4, description, metadata, created_at, updated_at, signing_keys, \
                                    auth_public, auth_sealed";

pub fn endpoint(row: &impl RowExt) -> StoreResult<Endpoint> {
    let events = row.text("events")?;
    let url = row.text("url")?;
    Ok(Endpoint {
        id: EndpointId::from_trusted(row.text("id")?),
        // Never the stored form: its sealed password and query values are write-only.
        url: crate::domain::url_credentials::masked(&url),
        secret_query_params: crate::domain::url_credentials::secret_params(&url),
        name: row.text("name")?,
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Corrupt(format!("endpoint events: {e}")))?,
        is_active: row.flag("is_active")?,
        disabled_reason: row
            .opt_text("disabled_reason")?
            .as_deref()
            .and_then(DisabledReason::parse),
        project_id: row.opt_text("project_id")?,
        filter: row.opt_text("filter")?,
        rate_limit_per_sec: row
            .opt_int("rate_limit_per_sec")?
            .and_then(|r| u32::try_from(r).ok()),
        secret_last4: row.text("secret_last4")?,
        description: row.text("description")?,
        metadata: serde_json::from_str(&row.text("metadata")?)
            .map_err(|e| StoreError::Corrupt(format!("endpoint metadata: {e}")))?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        auth: row
            .opt_text("auth_public")?
            .map(|raw| serde_json::from_str(&raw))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("endpoint auth: {e}")))?,
    })
}

pub fn stored_endpoint(row: &impl RowExt) -> StoreResult<super::StoredEndpoint> {
    Ok(super::StoredEndpoint {
        endpoint: endpoint(row)?,
        signing_keys: row.blob("signing_keys")?,
        auth_sealed: row.blob("auth_sealed")?,
    })
}

/// The columns [`event`] reads.
pub const EVENT_COLUMNS: &str =
    "id, type, project_id, data, created_at, delivery_count, ordering_key, is_test";

pub fn event(row: &impl RowExt) -> StoreResult<Event> {
    let data = RawValue::from_string(row.text("data")?)
        .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?;
    Ok(Event {
        id: EventId::from_trusted(row.text("id")?),
        event_type: row.text("type")?,
        project_id: row.opt_text("project_id")?,
        data_erased: data.get() == crate::domain::event::ERASED_DATA,
        data,
        created_at: row.time("created_at")?,
        delivery_count: row.int("delivery_count")?,
        ordering_key: row.opt_text("ordering_key")?,
        test: row.flag("is_test")?,
    })
}

/// The columns [`delivery`] reads, from `deliveries` (not aliased). `held_behind` is the head of
/// the key a held delivery waits behind (`domain::ordering`): the first pending delivery of its
/// key on its endpoint, for a pending delivery that is not scheduled.
pub const DELIVERY_COLUMNS: &str =
    "id, event_id, endpoint_id, status, attempt_count, next_attempt_at, \
     last_status_code, created_at, updated_at, ordering_key, is_test, \
     (SELECT h.id FROM deliveries h WHERE deliveries.status = 'pending' \
        AND deliveries.next_attempt_at IS NULL AND h.endpoint_id = deliveries.endpoint_id \
        AND h.ordering_key = deliveries.ordering_key AND h.status = 'pending' \
        AND h.ordering_seq < deliveries.ordering_seq ORDER BY h.ordering_seq LIMIT 1) AS held_behind";

pub fn delivery(row: &impl RowExt) -> StoreResult<Delivery> {
    let status = row.text("status")?;
    Ok(Delivery {
        id: DeliveryId::from_trusted(row.text("id")?),
        event_id: EventId::from_trusted(row.text("event_id")?),
        endpoint_id: EndpointId::from_trusted(row.text("endpoint_id")?),
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery status {status:?}")))?,
        attempt_count: row.int("attempt_count")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        last_status_code: row.opt_int("last_status_code")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        ordering_key: row.opt_text("ordering_key")?,
        held_behind: row.opt_text("held_behind")?.map(DeliveryId::from_trusted),
        test: row.flag("is_test")?,
    })
}

/// The columns [`attempt`] reads.
pub const ATTEMPT_COLUMNS: &str = "id, started_at, duration_ms, status_code, error, response_body";

pub fn attempt(row: &impl RowExt) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: AttemptId::from_trusted(row.text("id")?),
        started_at: row.time("started_at")?,
        duration_ms: row.int("duration_ms")?,
        status_code: row.opt_int("status_code")?,
        error: row.opt_text("error")?,
        response_body: row.text("response_body")?,
    })
}

/// `(delivery id, endpoint id, event id, attempt count)` of a claimed or re-queued delivery.
pub fn job_parts(row: &impl RowExt) -> StoreResult<(DeliveryId, EndpointId, EventId, i64, bool)> {
    Ok((
        DeliveryId::from_trusted(row.text("id")?),
        EndpointId::from_trusted(row.text("endpoint_id")?),
        EventId::from_trusted(row.text("event_id")?),
        row.int("attempt_count")?,
        row.flag("ordered")?,
    ))
}

fn delivery_status(raw: &str) -> StoreResult<DeliveryStatus> {
    DeliveryStatus::parse(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery status {raw:?}")))
}

/// A delivery as the dashboard's charts read it: `created_at`, `status`, `last_duration_ms`.
pub fn delivery_sample(row: &impl RowExt) -> StoreResult<crate::domain::insights::DeliverySample> {
    Ok(crate::domain::insights::DeliverySample {
        created_at: row.time("created_at")?,
        status: delivery_status(&row.text("status")?)?,
        last_duration_ms: row.opt_int("last_duration_ms")?,
    })
}

/// An endpoint's summary: `succeeded`, `failed`, `last_at`, `last_status`.
pub fn endpoint_summary(
    row: &impl RowExt,
) -> StoreResult<crate::domain::insights::EndpointSummary> {
    let count = |column| row.int(column).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(crate::domain::insights::EndpointSummary {
        succeeded: count("succeeded")?,
        failed: count("failed")?,
        last_delivery_at: row.opt_time("last_at")?,
        last_status: row
            .opt_text("last_status")?
            .as_deref()
            .map(delivery_status)
            .transpose()?,
    })
}
