//! The store conformance suite: the `Store` contract exercised directly, on whichever backend the
//! test binary runs (SQLite in `it`, PostgreSQL in `it_postgres`). The API suite covers the same
//! code through HTTP; this pins down the engine-facing rules — leases, claims, attempt records,
//! endpoint health, compare-and-swap — that HTTP alone can't observe precisely.

use std::sync::Arc;

use hookd::domain::delivery::outcome::{AttemptRecord, HealthRule, Next};
use hookd::domain::delivery::{Attempt, DeliveryStatus};
use hookd::domain::endpoint::{Endpoint, EndpointPatch};
use hookd::domain::event::NewEvent;
use hookd::domain::ids::{AttemptId, EndpointId, EventId};
use hookd::domain::tenant::{Mode, Tenant};
use hookd::domain::time::Timestamp;
use hookd::store::{DynStore, IdempotencyBegin, Lease, PageRequest, StoreError, StoredEndpoint};
use serde_json::value::RawValue;

use crate::harness::{suite_test, TestDatabase};

async fn open() -> (DynStore, TestDatabase) {
    let db = TestDatabase::create().await;
    let config = crate::harness::test_config(&db.url);
    let store = hookd::app::open_store(&config).await.expect("open store");
    (store, db)
}

async fn tenant(store: &DynStore, name: &str, mode: Mode) -> Tenant {
    let ws = store.create_workspace(name).await.unwrap();
    Tenant {
        workspace_id: ws.id,
        mode,
    }
}

fn endpoint(events: &[&str], project: Option<&str>) -> StoredEndpoint {
    let now = Timestamp::now();
    StoredEndpoint {
        endpoint: Endpoint {
            id: EndpointId::generate(),
            url: "https://hooks.example.com/x".into(),
            name: "e".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            is_active: true,
            disabled_reason: None,
            project_id: project.map(str::to_string),
            secret_last4: "abcd".into(),
            created_at: now,
            updated_at: now,
            auth: None,
        },
        signing_keys: vec![1, 2, 3],
        auth_sealed: Vec::new(),
    }
}

fn event(event_type: &str, project: Option<&str>) -> NewEvent {
    NewEvent {
        id: EventId::generate(),
        event_type: event_type.into(),
        project_id: project.map(str::to_string),
        data: RawValue::from_string(r#"{"k": [1, 2]}"#.into()).unwrap(),
        created_at: Timestamp::now(),
        ordering_key: None,
    }
}

fn lease(owner: &str, ms: i64) -> Lease {
    Lease {
        owner: owner.into(),
        until: Timestamp::now().plus_millis(ms),
    }
}

fn failed_attempt(status: i64) -> Attempt {
    Attempt {
        id: AttemptId::generate(),
        started_at: Timestamp::now(),
        duration_ms: 3,
        status_code: Some(status),
        error: None,
        response_body: "nope".into(),
    }
}

const RULE: HealthRule = HealthRule {
    failing_for_ms: 0,
    min_exhausted: 2,
};

#[suite_test]
async fn publish_fans_out_by_type_project_and_tenant() {
    let (store, _db) = open().await;
    let live = tenant(&store, "a", Mode::Live).await;
    let test = Tenant {
        workspace_id: live.workspace_id.clone(),
        mode: Mode::Test,
    };
    let other = tenant(&store, "b", Mode::Live).await;
    let all = endpoint(&["post.created"], None);
    let scoped = endpoint(&["post.created"], Some("p1"));
    let wrong_type = endpoint(&["job.failed"], None);
    for e in [&all, &scoped, &wrong_type] {
        store.insert_endpoint(&live, e).await.unwrap();
    }
    store
        .insert_endpoint(&test, &endpoint(&["post.created"], None))
        .await
        .unwrap();
    store
        .insert_endpoint(&other, &endpoint(&["post.created"], None))
        .await
        .unwrap();

    let (stored, jobs) = store
        .publish_event(
            &live,
            event("post.created", Some("p2")),
            &lease("n1", 60_000),
        )
        .await
        .unwrap();
    assert_eq!(stored.delivery_count, 1);
    assert_eq!(
        jobs.iter().map(|j| &j.endpoint_id).collect::<Vec<_>>(),
        vec![&all.endpoint.id]
    );
    let (_, jobs) = store
        .publish_event(
            &live,
            event("post.created", Some("p1")),
            &lease("n1", 60_000),
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let body: serde_json::Value = serde_json::from_slice(&jobs[0].payload).unwrap();
    assert_eq!(body["data"]["k"][1], 2);
    assert_eq!(body["projectId"], "p1");
    assert!(
        Arc::ptr_eq(&jobs[0].payload, &jobs[1].payload),
        "one payload buffer per event"
    );
}

/// Every publish sees the endpoints as they are at that moment, however many publishes of the
/// same tenant and type came before (the SQLite writer remembers fan-outs between changes).
#[suite_test]
async fn publish_sees_every_endpoint_change_made_between_publishes() {
    let (store, db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let first = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &first).await.unwrap();
    let id = &first.endpoint.id;
    let targets = |store: DynStore, t: Tenant| async move {
        let (stored, jobs) = store
            .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
            .await
            .unwrap();
        assert_eq!(stored.delivery_count, jobs.len() as i64);
        let mut ids: Vec<String> = jobs.iter().map(|j| j.endpoint_id.to_string()).collect();
        ids.sort();
        ids
    };
    let patch = |patch: EndpointPatch| {
        let (store, t, id) = (Arc::clone(&store), t.clone(), id.clone());
        async move {
            store
                .update_endpoint(&t, &id, &patch, Timestamp::now())
                .await
                .unwrap()
                .unwrap();
        }
    };
    let only_first = vec![id.to_string()];
    assert_eq!(targets(Arc::clone(&store), t.clone()).await, only_first);
    assert_eq!(targets(Arc::clone(&store), t.clone()).await, only_first);

    // Each change takes the endpoint out of the fan-out, and its opposite brings it back.
    let away_and_back = [
        (
            EndpointPatch {
                events: Some(vec!["job.completed".into()]),
                ..Default::default()
            },
            EndpointPatch {
                events: Some(vec!["post.created".into()]),
                ..Default::default()
            },
        ),
        (
            EndpointPatch {
                project_id: Some(Some("p1".into())),
                ..Default::default()
            },
            EndpointPatch {
                project_id: Some(None),
                ..Default::default()
            },
        ),
        (
            EndpointPatch {
                is_active: Some(false),
                ..Default::default()
            },
            EndpointPatch {
                is_active: Some(true),
                ..Default::default()
            },
        ),
    ];
    for (away, back) in away_and_back {
        patch(away).await;
        assert!(targets(Arc::clone(&store), t.clone()).await.is_empty());
        patch(back).await;
        assert_eq!(targets(Arc::clone(&store), t.clone()).await, only_first);
    }

    let second = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &second).await.unwrap();
    let mut both = vec![id.to_string(), second.endpoint.id.to_string()];
    both.sort();
    assert_eq!(targets(Arc::clone(&store), t.clone()).await, both);
    assert!(store
        .delete_endpoint(&t, id, Timestamp::now())
        .await
        .unwrap());
    assert_eq!(
        targets(Arc::clone(&store), t.clone()).await,
        vec![second.endpoint.id.to_string()]
    );

    // Disabled by an attempt's result (410 Gone).
    let (_, jobs) = store
        .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
        .await
        .unwrap();
    let gone = AttemptRecord {
        delivery_id: jobs[0].delivery_id.clone(),
        endpoint_id: second.endpoint.id.clone(),
        lease_owner: "n1".into(),
        attempt: failed_attempt(410),
        next: Next::RetryAt(Timestamp::now()),
        endpoint_gone: true,
        ordered: false,
    };
    store
        .record_attempt(&gone, RULE, Timestamp::now())
        .await
        .unwrap();
    assert!(targets(Arc::clone(&store), t.clone()).await.is_empty());

    // Changed through another connection to the same database (another process, the CLI).
    let third = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &third).await.unwrap();
    assert_eq!(
        targets(Arc::clone(&store), t.clone()).await,
        vec![third.endpoint.id.to_string()]
    );
    let config = crate::harness::test_config(&db.url);
    let other = hookd::app::open_store(&config).await.expect("second store");
    let off = EndpointPatch {
        is_active: Some(false),
        ..Default::default()
    };
    other
        .update_endpoint(&t, &third.endpoint.id, &off, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert!(targets(Arc::clone(&store), t.clone()).await.is_empty());
}

#[suite_test]
async fn leases_make_a_delivery_claimable_by_one_node_at_a_time() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    store
        .insert_endpoint(&t, &endpoint(&["post.created"], None))
        .await
        .unwrap();
    let (_, jobs) = store
        .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
        .await
        .unwrap();
    let now = Timestamp::now();
    assert!(
        store
            .claim_due(now, 10, &lease("n2", 60_000))
            .await
            .unwrap()
            .is_empty(),
        "leased to n1"
    );
    store.release_leases(Some("n1")).await.unwrap();
    let claimed = store
        .claim_due(Timestamp::now(), 10, &lease("n2", 60_000))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].delivery_id, jobs[0].delivery_id);
    assert!(
        store
            .claim_due(Timestamp::now(), 10, &lease("n3", 60_000))
            .await
            .unwrap()
            .is_empty(),
        "leased to n2"
    );
    // An expired lease is claimable again.
    let later = Timestamp::now().plus_millis(61_000);
    assert_eq!(
        store
            .claim_due(later, 10, &lease("n3", 60_000))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[suite_test]
async fn concurrent_claims_never_hand_out_a_delivery_twice() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    store
        .insert_endpoint(&t, &endpoint(&["post.created"], None))
        .await
        .unwrap();
    for _ in 0..40 {
        store
            .publish_event(&t, event("post.created", None), &lease("publisher", -1))
            .await
            .unwrap();
    }
    let claims = (0..4).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .claim_due(Timestamp::now(), 15, &lease(&format!("n{n}"), 60_000))
                .await
                .unwrap()
        })
    });
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for claim in claims {
        for job in claim.await.unwrap() {
            total += 1;
            assert!(
                seen.insert(job.delivery_id.clone()),
                "claimed twice: {}",
                job.delivery_id
            );
        }
    }
    assert_eq!(total, 40);
}

#[suite_test]
async fn results_written_together_fail_alone() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    for _ in 0..3 {
        store
            .insert_endpoint(&t, &endpoint(&["post.created"], None))
            .await
            .unwrap();
    }
    let (_, jobs) = store
        .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let success = |job: &hookd::store::DeliveryJob, attempt: Attempt| AttemptRecord {
        delivery_id: job.delivery_id.clone(),
        endpoint_id: job.endpoint_id.clone(),
        attempt: Attempt {
            status_code: Some(200),
            ..attempt
        },
        lease_owner: "n1".into(),
        next: Next::Succeeded,
        endpoint_gone: false,
        ordered: false,
    };
    let first = failed_attempt(200);
    store
        .record_attempt(&success(&jobs[0], first.clone()), RULE, Timestamp::now())
        .await
        .unwrap();
    let state = |n: usize| {
        let (store, t, id) = (Arc::clone(&store), t.clone(), jobs[n].delivery_id.clone());
        async move {
            let (d, attempts) = store.get_delivery(&t, &id).await.unwrap().unwrap();
            (d.status, d.attempt_count, attempts.len())
        }
    };
    assert_eq!(state(0).await, (DeliveryStatus::Succeeded, 1, 1));
    // Retried by hand, so n1 holds the first delivery's lease again.
    store
        .requeue_delivery(
            &t,
            &jobs[0].delivery_id,
            &lease("n1", 60_000),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .expect("requeued");
    let before = state(0).await;
    // Sent at once, so they share a batch (group commit): the second records the first
    // delivery's attempt again under the same id, a primary-key violation that must fail it
    // alone (and leave that delivery as it was).
    let results = futures_util::future::join_all([
        store.record_attempt(
            &success(&jobs[1], failed_attempt(200)),
            RULE,
            Timestamp::now(),
        ),
        store.record_attempt(&success(&jobs[0], first), RULE, Timestamp::now()),
    ])
    .await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(results[1].is_err(), "a duplicate attempt id was accepted");
    assert_eq!(state(0).await, before);
    assert_eq!(state(1).await, (DeliveryStatus::Succeeded, 1, 1));
    assert_eq!(state(2).await, (DeliveryStatus::Pending, 0, 0));
}

#[suite_test]
async fn attempts_move_deliveries_through_their_states_and_health() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &e).await.unwrap();
    let id = &e.endpoint.id;
    let mut delivery_ids = Vec::new();
    for _ in 0..2 {
        let (_, jobs) = store
            .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
            .await
            .unwrap();
        delivery_ids.push(jobs[0].delivery_id.clone());
    }
    let retry_at = Timestamp::now().plus_millis(5_000);
    let record = |d: usize, next: Option<Timestamp>| AttemptRecord {
        delivery_id: delivery_ids[d].clone(),
        endpoint_id: id.clone(),
        lease_owner: "n1".into(),
        attempt: failed_attempt(500),
        next: next.map_or(Next::Exhausted, Next::RetryAt),
        endpoint_gone: false,
        ordered: false,
    };
    store
        .record_attempt(&record(0, Some(retry_at)), RULE, Timestamp::now())
        .await
        .unwrap();
    let (d, attempts) = store
        .get_delivery(&t, &delivery_ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.status, d.attempt_count, d.last_status_code),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert_eq!(d.next_attempt_at, Some(retry_at));
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].response_body, "nope");
    // Not due yet, so not claimable; due later, claimable.
    assert!(store
        .claim_due(Timestamp::now(), 10, &lease("n2", 60_000))
        .await
        .unwrap()
        .iter()
        .all(|j| j.delivery_id != delivery_ids[0]));
    // Due later, claimable (leased to n1 again, which makes the next attempt).
    assert!(store
        .claim_due(retry_at.plus_millis(1), 10, &lease("n1", 60_000))
        .await
        .unwrap()
        .iter()
        .any(|j| j.delivery_id == delivery_ids[0]));
    // Two exhausted deliveries with the rule's minimum of 2 disable the endpoint as failing.
    store
        .record_attempt(&record(0, None), RULE, Timestamp::now())
        .await
        .unwrap();
    assert!(
        store
            .get_endpoint(&t, id)
            .await
            .unwrap()
            .unwrap()
            .endpoint
            .is_active
    );
    // The store says it disabled the endpoint, and whose delivery it was.
    let written = store
        .record_attempt(&record(1, None), RULE, Timestamp::now())
        .await
        .unwrap();
    assert_eq!(written.disabled.map(|r| r.as_str()), Some("failing"));
    let context = written
        .context
        .expect("an exhausted result names its delivery's tenant");
    assert_eq!(context.tenant, t);
    assert_eq!(context.event_type, "post.created");
    let after = store.get_endpoint(&t, id).await.unwrap().unwrap().endpoint;
    assert!(!after.is_active);
    assert_eq!(after.disabled_reason.map(|r| r.as_str()), Some("failing"));
    assert_eq!(
        store
            .get_delivery(&t, &delivery_ids[1])
            .await
            .unwrap()
            .unwrap()
            .0
            .status,
        DeliveryStatus::Failed
    );
    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.disabled_endpoints, 1, "one disabled endpoint");
    assert!(!gauges.pools.is_empty(), "{gauges:?}");
    // Re-activation clears the reason.
    let patch = EndpointPatch {
        is_active: Some(true),
        ..Default::default()
    };
    let back = store
        .update_endpoint(&t, id, &patch, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert!(back.is_active && back.disabled_reason.is_none());
}

/// A success ends the endpoint's failing streak each time, also after earlier successes: two
/// exhausted deliveries separated by a success do not disable it, two in a row do.
#[suite_test]
async fn a_success_ends_the_failing_streak_every_time() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &e).await.unwrap();
    let mut jobs = Vec::new();
    for _ in 0..5 {
        let (_, mut published) = store
            .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
            .await
            .unwrap();
        jobs.push(published.remove(0));
    }
    // Distinct, increasing times, so the streak's start and each result are ordered exactly.
    let base = Timestamp::now();
    let at = |ms: i64| base.plus_millis(ms);
    let outcome = |n: usize, succeeded: bool, started: i64| AttemptRecord {
        delivery_id: jobs[n].delivery_id.clone(),
        endpoint_id: e.endpoint.id.clone(),
        attempt: Attempt {
            started_at: at(started),
            status_code: Some(if succeeded { 200 } else { 500 }),
            ..failed_attempt(500)
        },
        lease_owner: "n1".into(),
        next: if succeeded {
            Next::Succeeded
        } else {
            Next::Exhausted
        },
        endpoint_gone: false,
        ordered: false,
    };
    let is_active = || {
        let (store, t, id) = (Arc::clone(&store), t.clone(), e.endpoint.id.clone());
        async move {
            store
                .get_endpoint(&t, &id)
                .await
                .unwrap()
                .unwrap()
                .endpoint
                .is_active
        }
    };
    for (n, succeeded, started) in [(0, true, 0), (1, false, 10), (2, true, 20), (3, false, 30)] {
        store
            .record_attempt(&outcome(n, succeeded, started), RULE, at(started + 5))
            .await
            .unwrap();
    }
    assert!(
        is_active().await,
        "the success in between ended the first streak"
    );
    store
        .record_attempt(&outcome(4, false, 40), RULE, at(45))
        .await
        .unwrap();
    assert!(
        !is_active().await,
        "two exhausted deliveries in one streak disable it"
    );
}

/// A node whose lease ran out while it was sending must not overwrite the result of the node
/// that took the delivery over (nor add its attempt to that delivery's log).
#[suite_test]
async fn a_result_after_the_lease_was_taken_over_is_not_written() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &e).await.unwrap();
    // Published by n1 with a lease that has already run out, so n2 may claim it.
    let (_, jobs) = store
        .publish_event(&t, event("post.created", None), &lease("n1", -1_000))
        .await
        .unwrap();
    let claimed = store
        .claim_due(Timestamp::now(), 10, &lease("n2", 60_000))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "n2 takes the expired lease over");
    let result = |owner: &str, next: Next, status: i64| AttemptRecord {
        delivery_id: jobs[0].delivery_id.clone(),
        endpoint_id: e.endpoint.id.clone(),
        lease_owner: owner.into(),
        attempt: failed_attempt(status),
        next,
        endpoint_gone: false,
        ordered: false,
    };
    store
        .record_attempt(&result("n2", Next::Succeeded, 200), RULE, Timestamp::now())
        .await
        .unwrap();
    // n1's late failure arrives after n2's success.
    store
        .record_attempt(&result("n1", Next::Exhausted, 500), RULE, Timestamp::now())
        .await
        .unwrap();
    let (delivery, attempts) = store
        .get_delivery(&t, &jobs[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            delivery.status,
            delivery.attempt_count,
            delivery.last_status_code
        ),
        (DeliveryStatus::Succeeded, 1, Some(200))
    );
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, Some(200));
}

#[suite_test]
async fn gone_disables_at_once_and_delete_cancels_pending() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &e).await.unwrap();
    let (_, jobs) = store
        .publish_event(&t, event("post.created", None), &lease("n1", 60_000))
        .await
        .unwrap();
    let gone = AttemptRecord {
        delivery_id: jobs[0].delivery_id.clone(),
        endpoint_id: e.endpoint.id.clone(),
        lease_owner: "n1".into(),
        attempt: failed_attempt(410),
        next: Next::RetryAt(Timestamp::now()),
        endpoint_gone: true,
        ordered: false,
    };
    // Pending and due: the oldest due delivery is this one.
    assert!(store.gauges().await.unwrap().oldest_due_at.is_some());
    let written = store
        .record_attempt(&gone, RULE, Timestamp::now())
        .await
        .unwrap();
    assert!(written.written);
    assert_eq!(written.disabled.map(|r| r.as_str()), Some("gone"));
    assert_eq!(
        written.context.map(|c| c.event_id),
        Some(jobs[0].event_id.clone())
    );
    // Parked behind a disabled endpoint: waiting for a person, not for the engine.
    let gauges = store.gauges().await.unwrap();
    assert_eq!((gauges.pending, gauges.oldest_due_at), (1, None));
    let disabled = store
        .get_endpoint(&t, &e.endpoint.id)
        .await
        .unwrap()
        .unwrap()
        .endpoint;
    assert_eq!(disabled.disabled_reason.map(|r| r.as_str()), Some("gone"));
    // Parked: due, but its endpoint is inactive, so nobody claims it.
    assert!(store
        .claim_due(Timestamp::now().plus_millis(1), 10, &lease("n2", 60_000))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .delete_endpoint(&t, &e.endpoint.id, Timestamp::now())
        .await
        .unwrap());
    let (d, _) = store
        .get_delivery(&t, &jobs[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, DeliveryStatus::Cancelled);
    assert!(store
        .get_endpoint(&t, &e.endpoint.id)
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .delete_endpoint(&t, &e.endpoint.id, Timestamp::now())
        .await
        .unwrap());
}

#[suite_test]
async fn tenant_scoping_hides_other_workspaces_and_modes() {
    let (store, _db) = open().await;
    let a = tenant(&store, "a", Mode::Live).await;
    let a_test = Tenant {
        workspace_id: a.workspace_id.clone(),
        mode: Mode::Test,
    };
    let b = tenant(&store, "b", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&a, &e).await.unwrap();
    let (ev, jobs) = store
        .publish_event(&a, event("post.created", None), &lease("n1", 60_000))
        .await
        .unwrap();
    for other in [&a_test, &b] {
        assert!(store
            .get_endpoint(other, &e.endpoint.id)
            .await
            .unwrap()
            .is_none());
        assert!(store.get_event(other, &ev.id).await.unwrap().is_none());
        assert!(store
            .get_delivery(other, &jobs[0].delivery_id)
            .await
            .unwrap()
            .is_none());
        let page = PageRequest {
            limit: 10,
            cursor: None,
        };
        assert!(store
            .list_events(other, &page)
            .await
            .unwrap()
            .items
            .is_empty());
        let patch = EndpointPatch {
            name: Some("x".into()),
            ..Default::default()
        };
        assert!(store
            .update_endpoint(other, &e.endpoint.id, &patch, Timestamp::now())
            .await
            .unwrap()
            .is_none());
        assert!(!store
            .delete_endpoint(other, &e.endpoint.id, Timestamp::now())
            .await
            .unwrap());
        assert!(store
            .requeue_delivery(
                other,
                &jobs[0].delivery_id,
                &lease("n", 1000),
                Timestamp::now()
            )
            .await
            .unwrap()
            .is_none());
    }
}

#[suite_test]
async fn signing_keys_swap_only_from_the_expected_value() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let e = endpoint(&["post.created"], None);
    store.insert_endpoint(&t, &e).await.unwrap();
    let id = &e.endpoint.id;
    assert!(store
        .swap_signing_keys(&t, id, &[1, 2, 3], &[4, 5], "wxyz", Timestamp::now())
        .await
        .unwrap());
    assert!(
        !store
            .swap_signing_keys(&t, id, &[1, 2, 3], &[6], "zzzz", Timestamp::now())
            .await
            .unwrap(),
        "stale expectation"
    );
    let now = store.get_endpoint(&t, id).await.unwrap().unwrap();
    assert_eq!(now.signing_keys, vec![4, 5]);
    assert_eq!(now.endpoint.secret_last4, "wxyz");
}

#[suite_test]
async fn idempotency_keys_start_once_replay_and_conflict() {
    let (store, _db) = open().await;
    let t = tenant(&store, "a", Mode::Live).await;
    let now = Timestamp::now();
    let begins = (0..8).map(|_| {
        let (store, t) = (Arc::clone(&store), t.clone());
        tokio::spawn(async move {
            store
                .idempotency_begin(&t, "k1", "h1", now, 86_400_000)
                .await
                .unwrap()
        })
    });
    let mut started = 0;
    for b in begins {
        match b.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1, "exactly one request may run");
    store
        .idempotency_finish(&t, "k1", 201, "{\"ok\":true}")
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency_begin(&t, "k1", "h1", now, 86_400_000)
            .await
            .unwrap(),
        IdempotencyBegin::Replay {
            status: 201,
            body: "{\"ok\":true}".into()
        }
    );
    assert_eq!(
        store
            .idempotency_begin(&t, "k1", "h2", now, 86_400_000)
            .await
            .unwrap(),
        IdempotencyBegin::Conflict
    );
    // Expired keys start over; abandoned keys can be retried.
    let later = now.plus_millis(86_400_001);
    assert_eq!(
        store
            .idempotency_begin(&t, "k1", "h2", later, 86_400_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    store.idempotency_abandon(&t, "k1").await.unwrap();
    assert_eq!(
        store
            .idempotency_begin(&t, "k1", "h3", later, 86_400_000)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .purge_idempotency_keys(later.plus_millis(1))
            .await
            .unwrap(),
        1
    );
}

#[suite_test]
async fn duplicate_workspace_names_and_key_hashes_conflict() {
    let (store, _db) = open().await;
    store.create_workspace("a").await.unwrap();
    assert!(matches!(
        store.create_workspace("a").await,
        Err(StoreError::Conflict(_))
    ));
}
