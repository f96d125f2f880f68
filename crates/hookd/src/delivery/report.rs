//! What a written attempt result means to the people running hookd: the one log line for each
//! delivery exhausted and each endpoint disabled, the disabled-endpoint counter, and (when
//! `operational_events` is on) the operational events of `domain::operational`.
//!
//! It runs in the store's write callback, so it only logs and counts there; a publish is
//! spawned on the runtime and tracked with the engine's tasks (a shutdown waits for it).

use std::sync::Arc;

use super::dispatcher::Dispatcher;
use crate::domain::delivery::outcome::AttemptRecord;
use crate::domain::endpoint::DisabledReason;
use crate::domain::event::NewEvent;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::operational;
use crate::domain::tenant::Tenant;
use crate::store::{AttemptWritten, DeliveryContext};

/// The facts of a result that may exhaust its delivery or disable its endpoint.
pub(super) struct Notable {
    delivery: DeliveryId,
    endpoint: EndpointId,
    attempts: i64,
    exhausted: bool,
    last_status_code: Option<i64>,
    last_error: Option<String>,
}

impl Notable {
    /// `None` for the common result (succeeded, or failed with retries left and no `410`).
    pub(super) fn of(record: &AttemptRecord, attempts: i64) -> Option<Self> {
        (record.exhausted() || record.endpoint_gone).then(|| Self {
            delivery: record.delivery_id.clone(),
            endpoint: record.endpoint_id.clone(),
            attempts,
            exhausted: record.exhausted(),
            last_status_code: record.attempt.status_code,
            last_error: record.attempt.error.clone(),
        })
    }
}

/// Logs, counts and publishes what `written` says happened (see the module docs).
pub(super) fn written(dispatcher: &Arc<Dispatcher>, notable: Notable, written: AttemptWritten) {
    if !written.written {
        return; // another node's result stands; it reports its own
    }
    let context = written.context.as_ref();
    let (workspace, mode) = match context {
        Some(c) => (
            Some(c.tenant.workspace_id.as_str()),
            Some(c.tenant.mode.as_str()),
        ),
        None => (None, None),
    };
    let mut events: Vec<NewEvent> = Vec::new();
    if notable.exhausted {
        tracing::warn!(
            workspace,
            mode,
            endpoint = notable.endpoint.as_str(),
            event = context.map(|c| c.event_id.as_str()),
            delivery = notable.delivery.as_str(),
            attempts = notable.attempts,
            last_status_code = notable.last_status_code,
            last_error = notable.last_error.as_deref(),
            "delivery exhausted"
        );
        if let Some(c) = context.filter(|c| operational::reports_exhaustion_of(&c.event_type)) {
            events.push(operational::delivery_exhausted(
                &notable.delivery,
                &c.event_id,
                &notable.endpoint,
                notable.last_status_code,
            ));
        }
    }
    if let Some(reason) = written.disabled {
        metrics::counter!("hookd_endpoints_disabled_total", "reason" => reason.as_str())
            .increment(1);
        tracing::warn!(
            workspace,
            mode,
            endpoint = notable.endpoint.as_str(),
            reason = reason.as_str(),
            "endpoint disabled: {}",
            why(reason)
        );
        events.push(operational::endpoint_disabled(&notable.endpoint, reason));
    }
    let shared = &dispatcher.shared;
    if !shared.operational_events || events.is_empty() {
        return;
    }
    let Some(DeliveryContext { tenant, .. }) = written.context else {
        return;
    };
    let publishing = publish(Arc::clone(dispatcher), tenant, events);
    dispatcher.tasks.spawn_on(publishing, &shared.runtime);
}

fn why(reason: DisabledReason) -> &'static str {
    match reason {
        DisabledReason::Gone => "it answered 410 Gone",
        DisabledReason::Failing => "its deliveries failed for the whole auto-disable window",
        DisabledReason::Manual => "disabled by a person",
    }
}

/// Publishes operational events through the normal publish path and dispatches their
/// deliveries like any others.
async fn publish(dispatcher: Arc<Dispatcher>, tenant: Tenant, events: Vec<NewEvent>) {
    let shared = &dispatcher.shared;
    for event in events {
        let lease = shared.lease();
        let event_type = event.event_type.clone();
        match shared.store.publish_event(&tenant, event, &lease).await {
            Ok((event, jobs)) => {
                crate::telemetry::hot().events_published.increment(1);
                metrics::counter!("hookd_operational_events_total", "type" => event_type)
                    .increment(1);
                tracing::debug!(
                    event = event.id.as_str(),
                    r#type = event.event_type,
                    "published an operational event"
                );
                dispatcher.submit(jobs);
            }
            Err(e) => tracing::error!(
                workspace = tenant.workspace_id.as_str(),
                mode = tenant.mode.as_str(),
                r#type = event_type,
                error = &e as &(dyn std::error::Error + 'static),
                "could not publish an operational event"
            ),
        }
    }
}
