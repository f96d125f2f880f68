//! What an attempt's outcome means, decided once, in plain Rust.
//!
//! The delivery engine makes the HTTP exchange; this module says what it came to: whether the
//! endpoint's answer counts as a success ([`Answer`]), what the delivery does next and when
//! ([`Next`], from the [`RetryPolicy`]), how the endpoint's failing streak moves
//! ([`StreakUpdate`]), and when an endpoint is disabled (`410 Gone` at once; a long failing
//! streak with enough exhausted deliveries through the [`HealthRule`]). Each backend persists
//! an [`AttemptRecord`] as decided here and re-derives none of it.

use std::collections::HashMap;
use std::time::Duration;

use super::retry::{parse_retry_after, RetryPolicy};
use super::{Attempt, DeliveryStatus};
use crate::domain::endpoint::DisabledReason;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::time::Timestamp;

/// How the endpoint answered one attempt, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Any 2xx within the timeout.
    pub succeeded: bool,
    /// A `Retry-After` to honour (429 and 503 only).
    pub retry_after: Option<Duration>,
    /// `410 Gone`: the receiver asks never to be called again.
    pub gone: bool,
    /// Why an answer that is not an error of its own failed, to show on the attempt.
    pub error: Option<String>,
}

impl Answer {
    /// Classifies an HTTP answer: 2xx succeeds; a 3xx fails, since redirects are not followed;
    /// `410 Gone` disables the endpoint; `Retry-After` is honoured on 429 and 503.
    pub fn from_response(status: u16, retry_after: Option<&str>) -> Self {
        let error = (300..400).contains(&status).then(|| {
            format!("the endpoint answered a {status} redirect; redirects are not followed")
        });
        Self {
            succeeded: (200..300).contains(&status),
            retry_after: if status == 429 || status == 503 {
                retry_after.and_then(parse_retry_after)
            } else {
                None
            },
            gone: status == 410,
            error,
        }
    }

    /// No answer at all (refused, timed out, blocked by the egress policy): a failure.
    pub fn none() -> Self {
        Self {
            succeeded: false,
            retry_after: None,
            gone: false,
            error: None,
        }
    }
}

/// What the delivery does after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    /// Failed; the next attempt is due then.
    RetryAt(Timestamp),
    /// Failed, and the retry schedule is used up.
    Exhausted,
}

impl Next {
    /// Decides after the `attempts_made`-th attempt (counting from 1) came to `answer`,
    /// finishing at `finished`.
    pub fn after(
        policy: &RetryPolicy,
        answer: &Answer,
        attempts_made: i64,
        finished: Timestamp,
    ) -> Self {
        if answer.succeeded {
            return Self::Succeeded;
        }
        match policy.next_attempt_at(attempts_made, answer.retry_after, finished) {
            Some(at) => Self::RetryAt(at),
            None => Self::Exhausted,
        }
    }

    /// The delivery's status from now on.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Self::Succeeded => DeliveryStatus::Succeeded,
            Self::RetryAt(_) => DeliveryStatus::Pending,
            Self::Exhausted => DeliveryStatus::Failed,
        }
    }

    pub fn next_attempt_at(self) -> Option<Timestamp> {
        match self {
            Self::RetryAt(at) => Some(at),
            Self::Succeeded | Self::Exhausted => None,
        }
    }
}

/// The outcome of one attempt with everything it decides, ready to be persisted.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    /// The node that made the attempt. The result is written only while that node still holds
    /// the delivery's lease: a node whose lease expired (and whose delivery another node took
    /// over) must not overwrite the new owner's result.
    pub lease_owner: String,
    pub attempt: Attempt,
    pub next: Next,
    /// The endpoint answered `410 Gone`.
    pub endpoint_gone: bool,
    /// The delivery has an ordering key: the store applies `domain::ordering`'s rules when it
    /// writes the result (unordered results cost nothing extra).
    pub ordered: bool,
}

impl AttemptRecord {
    pub fn succeeded(&self) -> bool {
        self.next == Next::Succeeded
    }

    /// Disables the endpoint now, whatever its history.
    pub fn disables_endpoint(&self) -> Option<DisabledReason> {
        self.endpoint_gone.then_some(DisabledReason::Gone)
    }

    /// The delivery failed for good: its endpoint may now have failed long enough to be
    /// disabled, which [`HealthRule::should_disable`] decides from the streak.
    pub fn exhausted(&self) -> bool {
        self.next == Next::Exhausted
    }

    /// How this result alone moves its endpoint's failing streak.
    pub fn streak(&self) -> StreakUpdate {
        if self.succeeded() {
            StreakUpdate::Clear
        } else {
            StreakUpdate::StartIfClear(self.attempt.started_at)
        }
    }
}

/// How results move an endpoint's failing streak (`failing_since`: when the failures that
/// have not been interrupted by a success began).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreakUpdate {
    /// A success: the endpoint is healthy.
    Clear,
    /// A failure: the streak starts then, unless one is already running.
    StartIfClear(Timestamp),
    /// A success, then failures: a new streak started then, whatever was before.
    Restart(Timestamp),
}

impl StreakUpdate {
    /// The update equal to applying `self`, then `next`.
    fn then(self, next: StreakUpdate) -> StreakUpdate {
        match (self, next) {
            (_, StreakUpdate::Clear) => StreakUpdate::Clear,
            (StreakUpdate::Clear, StreakUpdate::StartIfClear(at)) => StreakUpdate::Restart(at),
            (earlier, StreakUpdate::StartIfClear(_)) => earlier,
            (_, restart @ StreakUpdate::Restart(_)) => restart,
        }
    }
}

/// The net streak update per endpoint of a batch of results, equal to applying them one by one
/// in the order their attempts started (so a batch and a sequence of single writes agree).
pub fn net_streaks<'a>(
    records: impl IntoIterator<Item = &'a AttemptRecord>,
) -> Vec<(EndpointId, StreakUpdate)> {
    let mut ordered: Vec<&AttemptRecord> = records.into_iter().collect();
    ordered.sort_by_key(|r| r.attempt.started_at.as_millis());
    let mut net: HashMap<&EndpointId, StreakUpdate> = HashMap::new();
    for record in &ordered {
        net.entry(&record.endpoint_id)
            .and_modify(|update| *update = update.then(record.streak()))
            .or_insert_with(|| record.streak());
    }
    net.into_iter()
        .map(|(id, update)| (id.clone(), update))
        .collect()
}

/// Auto-disable: an endpoint whose deliveries have failed continuously for `failing_for_ms`,
/// with at least `min_exhausted` deliveries failed for good in that time, is disabled
/// (`disabledReason: "failing"`).
#[derive(Clone, Copy, Debug)]
pub struct HealthRule {
    pub failing_for_ms: i64,
    pub min_exhausted: i64,
}

impl HealthRule {
    /// Decides for an endpoint failing since `failing_since` (`None`: healthy) with `exhausted`
    /// deliveries failed for good since then.
    pub fn should_disable(
        &self,
        failing_since: Option<Timestamp>,
        exhausted: i64,
        now: Timestamp,
    ) -> bool {
        failing_since.is_some_and(|since| {
            since.as_millis() <= now.as_millis().saturating_sub(self.failing_for_ms)
        }) && exhausted >= self.min_exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::AttemptId;

    fn record(endpoint: &str, started: i64, succeeded: bool) -> AttemptRecord {
        AttemptRecord {
            delivery_id: DeliveryId::generate(),
            endpoint_id: EndpointId::from_trusted(endpoint.to_string()),
            lease_owner: "node_test".into(),
            attempt: Attempt {
                id: AttemptId::generate(),
                started_at: Timestamp::from_millis(started),
                duration_ms: 1,
                status_code: Some(if succeeded { 200 } else { 500 }),
                error: None,
                response_body: String::new(),
            },
            next: if succeeded {
                Next::Succeeded
            } else {
                Next::Exhausted
            },
            endpoint_gone: false,
            ordered: false,
        }
    }

    #[test]
    fn answers_are_classified_by_status() {
        assert!(Answer::from_response(204, None).succeeded);
        let redirect = Answer::from_response(302, None);
        assert!(!redirect.succeeded);
        assert!(redirect
            .error
            .unwrap()
            .contains("redirects are not followed"));
        assert!(Answer::from_response(410, None).gone);
        assert_eq!(
            Answer::from_response(429, Some("30")).retry_after,
            Some(Duration::from_secs(30))
        );
        assert_eq!(Answer::from_response(500, Some("30")).retry_after, None);
        assert!(!Answer::none().succeeded);
    }

    #[test]
    fn next_follows_the_schedule_then_exhausts() {
        let policy = RetryPolicy::new(&[5]);
        let now = Timestamp::from_millis(1_000_000);
        let failed = Answer::from_response(500, None);
        assert_eq!(
            Next::after(&policy, &Answer::from_response(200, None), 1, now),
            Next::Succeeded
        );
        let Next::RetryAt(at) = Next::after(&policy, &failed, 1, now) else {
            panic!("the first failure is retried");
        };
        assert!((4_000..=6_000).contains(&(at.as_millis() - now.as_millis())));
        assert_eq!(Next::after(&policy, &failed, 2, now), Next::Exhausted);
        assert_eq!(Next::Exhausted.status(), DeliveryStatus::Failed);
        assert_eq!(Next::RetryAt(now).status(), DeliveryStatus::Pending);
    }

    #[test]
    fn a_batch_moves_streaks_as_its_results_one_by_one() {
        let batch = [
            record("whe_a", 30, false),
            record("whe_a", 10, false),
            record("whe_b", 10, false),
            record("whe_b", 20, true),
            record("whe_c", 10, true),
            record("whe_c", 20, false),
            record("whe_c", 40, false),
        ];
        let mut net = net_streaks(&batch);
        net.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let at = Timestamp::from_millis;
        assert_eq!(
            net,
            vec![
                (
                    EndpointId::from_trusted("whe_a".into()),
                    StreakUpdate::StartIfClear(at(10))
                ),
                (
                    EndpointId::from_trusted("whe_b".into()),
                    StreakUpdate::Clear
                ),
                (
                    EndpointId::from_trusted("whe_c".into()),
                    StreakUpdate::Restart(at(20))
                ),
            ]
        );
    }

    #[test]
    fn disabling_needs_both_the_window_and_the_count() {
        let rule = HealthRule {
            failing_for_ms: 1_000,
            min_exhausted: 3,
        };
        let now = Timestamp::from_millis(10_000);
        let long_ago = Some(Timestamp::from_millis(8_000));
        let recently = Some(Timestamp::from_millis(9_500));
        assert!(rule.should_disable(long_ago, 3, now));
        assert!(!rule.should_disable(long_ago, 2, now));
        assert!(!rule.should_disable(recently, 10, now));
        assert!(!rule.should_disable(None, 10, now));
    }
}
