//! One attempt: sign, send through the egress client, and hand the answer to the domain's rules
//! (`domain::delivery::outcome`), which classify it and decide what is next.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use tracing::Instrument;
use url::Url;

use super::Shared;
use crate::domain::delivery::outcome::{Answer, AttemptRecord, Next};
use crate::domain::delivery::Attempt;
use crate::domain::ids::AttemptId;
use crate::domain::time::Timestamp;
use crate::egress::{EgressClient, OutboundRequest};
use crate::oauth2::{self, Auth};
use crate::signing::{self, Signer};
use crate::store::DeliveryJob;

/// The first this-many bytes of a response body are kept with the attempt.
pub const KEPT_RESPONSE_BYTES: usize = 4096;

/// What one HTTP attempt came to: the attempt as recorded, and its answer classified.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub attempt: Attempt,
    pub answer: Answer,
}

/// Sends `body` signed by `signer` (with the secrets live now) to `url` and classifies the
/// answer. Used by the engine and by the synchronous "test" route. With `auth`, the request also
/// carries an OAuth2 bearer token (refreshed once on a 401); a token endpoint that fails makes a
/// failed attempt whose `error` says why.
pub async fn send_signed(
    egress: &EgressClient,
    url: &Url,
    signer: &Signer,
    message_id: &str,
    body: Bytes,
    timeout: Duration,
    auth: Option<Auth<'_>>,
) -> Outcome {
    let started_at = Timestamp::now();
    let seconds = started_at.as_unix_seconds();
    let signature = signer.sign(started_at.as_millis(), message_id, seconds, &body);
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Event ids and signatures are ASCII; the fallbacks only keep a bug from panicking.
    let id = HeaderValue::from_str(message_id).unwrap_or_else(|_| HeaderValue::from_static(""));
    headers.insert(signing::WEBHOOK_ID, id);
    headers.insert(signing::WEBHOOK_TIMESTAMP, HeaderValue::from(seconds));
    // Takes the string's buffer: no copy.
    let signature =
        HeaderValue::try_from(signature).unwrap_or_else(|_| HeaderValue::from_static(""));
    headers.insert(signing::WEBHOOK_SIGNATURE, signature);
    let request = OutboundRequest {
        method: reqwest::Method::POST,
        url: url.clone(),
        headers,
        body,
        timeout,
        max_response_bytes: KEPT_RESPONSE_BYTES,
    };
    let clock = std::time::Instant::now();
    let result = oauth2::send(egress, auth, request).await;
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let mut attempt = Attempt {
        id: AttemptId::generate(),
        started_at,
        duration_ms,
        status_code: None,
        error: None,
        response_body: String::new(),
    };
    let answer = match result {
        Ok(response) => {
            let status = response.status;
            attempt.status_code = Some(i64::from(status));
            attempt.response_body = String::from_utf8_lossy(&response.body).into_owned();
            let retry_after = response
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok());
            let answer = Answer::from_response(status, retry_after);
            attempt.error.clone_from(&answer.error);
            answer
        }
        Err(e) => {
            attempt.error = Some(e.to_string());
            Answer::none()
        }
    };
    Outcome { attempt, answer }
}

/// Makes one attempt of a delivery job; the result to record, or `None` when no request was
/// made (the lease ran short, the endpoint is gone or parked).
pub(super) async fn attempt(shared: &Shared, job: DeliveryJob) -> Option<AttemptRecord> {
    // Checked before the lookup too, so a job that waited out its lease costs no database read.
    if !lease_covers(shared, &job, Duration::ZERO) {
        return None;
    }
    #[cfg(test)]
    if let Some(hook) = &shared.before_lookup {
        hook(&job).await;
    }
    let target = match shared.targets.get(&job.endpoint_id).await {
        Ok(Some(target)) => target,
        // Deleted: its pending deliveries were cancelled with it.
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, endpoint = %job.endpoint_id, "could not load the endpoint; the delivery will be retried");
            return None;
        }
    };
    if !target.is_active {
        // Parked until the endpoint is re-activated; the poller picks it up then.
        if let Err(e) = shared.store.release_delivery(&job.delivery_id).await {
            tracing::warn!(error = %e, delivery = %job.delivery_id, "could not release a parked delivery");
        }
        return None;
    }
    // Again right before the request: the lookup may have waited on the database meanwhile.
    // A token may have to be fetched first: the lease must cover that too.
    let token_budget = match &target.auth {
        Some(_) => oauth2::token_timeout(shared.timeout),
        None => Duration::ZERO,
    };
    if !lease_covers(shared, &job, token_budget) {
        return None;
    }
    let auth = target.auth.as_ref().map(|credentials| Auth {
        tokens: &shared.tokens,
        credentials,
        retry_by: Some(lease_deadline(&job)),
    });
    let outcome = send_signed(
        &shared.egress,
        &target.url,
        &target.signer,
        job.event_id.as_str(),
        (*job.payload).clone(),
        shared.timeout,
        auth,
    )
    .instrument(crate::telemetry::traces::attempt_span(&job))
    .await;
    let next = Next::after(
        &shared.retry,
        &outcome.answer,
        job.attempt_count + 1,
        Timestamp::now(),
    );
    let metrics = crate::telemetry::hot();
    let attempts = if outcome.answer.succeeded {
        &metrics.attempts_succeeded
    } else if outcome.attempt.status_code.is_some() {
        &metrics.attempts_failed_status
    } else {
        &metrics.attempts_failed_error
    };
    attempts.increment(1);
    match next {
        Next::Succeeded => metrics.deliveries_succeeded.increment(1),
        Next::Exhausted => metrics.deliveries_exhausted.increment(1),
        Next::RetryAt(_) => {}
    }
    metrics
        .attempt_duration
        .record(outcome.attempt.duration_ms as f64 / 1000.0);
    if outcome.answer.gone {
        shared.targets.invalidate(&job.endpoint_id);
    }
    Some(AttemptRecord {
        delivery_id: job.delivery_id,
        endpoint_id: job.endpoint_id,
        lease_owner: shared.owner.clone(),
        attempt: outcome.attempt,
        next,
        endpoint_gone: outcome.answer.gone,
        ordered: job.ordered,
    })
}

/// Whether the job's lease still covers a whole attempt started now (plus `extra`, the time a
/// token request may take first). A job whose lease can't may already belong to another node (or
/// to our own poller again): it is left to whoever claims it next.
fn lease_covers(shared: &Shared, job: &DeliveryJob, extra: Duration) -> bool {
    let budget = shared.timeout + extra;
    let budget_ms = i64::try_from(budget.as_millis()).unwrap_or(i64::MAX);
    if Timestamp::now().plus_millis(budget_ms) >= job.lease_until {
        metrics::counter!("hookd_dispatch_lease_expired_total").increment(1);
        return false;
    }
    true
}

/// The job's lease end as an [`Instant`], for bounds on the attempt's own clock.
fn lease_deadline(job: &DeliveryJob) -> std::time::Instant {
    let left_ms = job.lease_until.as_millis() - Timestamp::now().as_millis();
    std::time::Instant::now() + Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))
}
