//! Two servers on one PostgreSQL database behave as one service: idempotency keys, rate limits,
//! key revocation and endpoint state hold across nodes (nothing that matters lives in one
//! process's memory).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hookd::admin;
use hookd::domain::tenant::Mode;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Connection;

use crate::fixtures::*;
use crate::harness::*;

/// Status, `Idempotent-Replayed`, body text of a keyed request.
async fn keyed(node: &TestApp, key: &str, body: &Value) -> (u16, bool, String) {
    let r = node
        .req(Method::POST, ENDPOINTS)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (r.status().as_u16(), replayed, r.text().await.unwrap())
}

#[suite_test]
async fn idempotency_keys_hold_across_nodes() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;

    // Used on A, then on B: B replays A's answer.
    let (status, replayed, first) = keyed(&a, "cross-1", &new_endpoint("one")).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = keyed(&b, "cross-1", &new_endpoint("one")).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first, "B replays A's answer byte for byte");
    let (status, _, conflict) = keyed(&b, "cross-1", &new_endpoint("other")).await;
    assert_eq!(status, 409, "{conflict}");
    assert!(conflict.contains("idempotency_key_conflict"), "{conflict}");

    // One key, concurrent requests spread over both nodes: exactly one executes.
    let rounds = 8;
    for round in 0..rounds {
        let key = format!("race-{round}");
        let body = new_endpoint(&format!("raced-{round}"));
        let answers = join_all((0..6).map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            keyed(node, &key, &body)
        }))
        .await;
        let originals: Vec<_> = answers.iter().filter(|(s, r, _)| *s == 201 && !r).collect();
        assert_eq!(originals.len(), 1, "exactly one request ran: {answers:?}");
        for (status, replayed, text) in &answers {
            match status {
                201 => assert_eq!(text, &originals[0].2, "replayed={replayed}"),
                409 => assert!(text.contains("idempotency_key_in_use"), "{text}"),
                other => panic!("unexpected {other}: {text}"),
            }
        }
    }
    let (status, body) = a
        .get_json(&a.live_key, &format!("{ENDPOINTS}?limit=100"))
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1 + rounds, "one endpoint per key: {names:?}");
    for round in 0..rounds {
        let name = format!("raced-{round}");
        assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{names:?}");
    }
}

#[suite_test]
async fn the_rate_limit_holds_across_nodes() {
    let a = spawn_app_with(|c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 2;
    })
    .await;
    let b = a.spawn_peer().await;
    // Each node alone would admit its two requests within its own burst of 2.
    let mut answers = Vec::new();
    for node in [&a, &b, &a, &b] {
        let r = node
            .req(Method::GET, "/v1/event-types")
            .send()
            .await
            .unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let (status, body) = into_parts(r).await;
        answers.push((status.as_u16(), retry_after, body));
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    println!("rate limit 1/s, burst 2, four requests alternating two nodes: {statuses:?}");
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert!(
        !limited.is_empty(),
        "the limit is per key, not per node: {statuses:?}"
    );
    for (_, retry_after, body) in limited {
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        let secs: u64 = retry_after
            .as_deref()
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!(secs >= 1);
    }
}

#[suite_test]
async fn a_revoked_key_is_rejected_by_every_node_at_once() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let (record, key) = admin::create_key(&a.store, admin::DEFAULT_WORKSPACE, Mode::Live)
        .await
        .unwrap();
    for node in [&a, &b] {
        let (status, body) = node.get_json(&key, ENDPOINTS).await;
        assert_eq!(status, 200, "{body}");
    }
    admin::revoke_key(&a.store, record.id.as_str())
        .await
        .unwrap();
    for node in [&a, &b] {
        let (status, body) = node.get_json(&key, ENDPOINTS).await;
        assert_error(status, &body, 401, "unauthorized", None);
    }
}

/// (status, attempt_count, lease_owner) of a delivery, read from the database.
async fn delivery_row(url: &str, id: &str) -> (String, i64, Option<String>) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as("SELECT status, attempt_count, lease_owner FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[suite_test]
async fn an_endpoint_disabled_on_one_node_is_not_delivered_to_by_the_other() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let key = a.live_key.clone();
    let receiver = Receiver::start().await;
    let endpoint = a.create_endpoint(&receiver.url, &["post.created"]).await;
    let (status, event) = b
        .post_json(
            &key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202, "{event}");
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let deliveries = format!(
        "/v1/events/{}/deliveries",
        event["data"]["id"].as_str().unwrap()
    );
    let delivery = eventually(Duration::from_secs(10), || async {
        let (_, body) = b.get_json(&key, &deliveries).await;
        let d = &body["data"][0];
        (d["status"] == "succeeded").then(|| d["id"].as_str().unwrap().to_string())
    })
    .await;

    // Disabled through A: B is not told; only its one-second target cache may still see it active.
    let disabled_at = Instant::now();
    let (status, body) = a
        .patch_json(
            &key,
            &endpoint_path(&endpoint["id"]),
            &json!({"isActive": false}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &body["data"]["isActive"]),
        (200, &json!(false)),
        "{body}"
    );
    // Ask B for an immediate attempt until one is parked instead of sent.
    let mut stale_sends = 0;
    let url = a.database.url.clone();
    loop {
        let (_, before, _) = delivery_row(&url, &delivery).await;
        let (status, body) = b
            .post_json(
                &key,
                &format!("/v1/deliveries/{delivery}/retry"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        // B is done with it once its lease is gone (attempt recorded, or parked).
        let (status, after, _) = eventually(Duration::from_secs(10), || async {
            let row = delivery_row(&url, &delivery).await;
            row.2.is_none().then_some(row)
        })
        .await;
        if after == before {
            assert_eq!(
                status, "pending",
                "parked until the endpoint is re-activated"
            );
            break;
        }
        stale_sends += 1;
        assert!(
            disabled_at.elapsed() < Duration::from_secs(10),
            "node B still delivers to an endpoint disabled {:?} ago",
            disabled_at.elapsed()
        );
    }
    let within = disabled_at.elapsed();
    println!(
        "node B sent {stale_sends} attempt(s) from its cache within {within:?} of the disable"
    );
    assert_eq!(receiver.count(), 1 + stale_sends);

    // Re-activated through A: the parked delivery goes out.
    let (status, body) = a
        .patch_json(
            &key,
            &endpoint_path(&endpoint["id"]),
            &json!({"isActive": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    receiver
        .wait_for(2 + stale_sends, Duration::from_secs(10))
        .await;
    eventually(Duration::from_secs(10), || async {
        let (status, _, lease) = delivery_row(&url, &delivery).await;
        (status == "succeeded" && lease.is_none()).then_some(())
    })
    .await;
}

/// Recording a failed attempt locks the delivery, then the endpoint (its failure streak); a
/// DELETE must not take them in the other order, or the two deadlock (PostgreSQL only: SQLite
/// has one writer).
#[suite_test]
async fn an_endpoint_is_deleted_while_its_failures_are_being_recorded() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let key = a.live_key.as_str();
    let receiver = Receiver::scripted(|_| (503, "down".to_string())).await;
    for round in 0..10 {
        let endpoint = a.create_endpoint(&receiver.url, &["post.created"]).await;
        // A burst of failing attempts, each recorded with the endpoint's failure streak…
        let publishes = (0..30).map(|n| {
            let node = if n % 2 == 0 { &a } else { &b };
            let event = json!({"type": "post.created", "data": {"n": n}});
            async move { node.post_json(key, "/v1/events", &event).await.0 }
        });
        let statuses = join_all(publishes).await;
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
        // …while the endpoint is deleted: both sides touch the endpoint and its deliveries.
        let (status, body) = a.delete(key, &endpoint_path(&endpoint["id"])).await;
        assert_eq!(status, 200, "round {round}: {body}");
    }
}
