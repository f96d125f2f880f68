//! Retention end to end: under a steady publish load with `retention = 2s`, the database stays
//! flat (SQLite: file + WAL bytes and row counts; PostgreSQL: `pg_total_relation_size` and row
//! counts) while a delivery kept in retry survives with its event; and a pass on demand
//! (`hookd prune`'s library function) removes exactly the final, old events.

use std::time::{Duration, Instant};

use hookd::domain::time::Timestamp;
use hookd::maintenance::{prune, retention};
use serde_json::{json, Value};
use sqlx::Connection;

use crate::harness::{eventually, spawn_app_with, suite_test, Backend, Receiver, TestApp};

const TABLES: [&str; 3] = ["events", "deliveries", "attempts"];

/// One sample of how big the database is: bytes (the SQLite file plus its WAL, or each table's
/// `pg_total_relation_size`) and each table's row count.
#[derive(Debug, Default)]
struct Sample {
    bytes: Vec<i64>,
    rows: Vec<i64>,
}

async fn sample(app: &TestApp) -> Sample {
    let mut out = Sample::default();
    match crate::BACKEND {
        Backend::Sqlite => {
            let file = |suffix: &str| {
                std::fs::metadata(app.dir.path().join(format!("hookd.db{suffix}")))
                    .map(|m| m.len() as i64)
                    .unwrap_or(0)
            };
            out.bytes.push(file("") + file("-wal"));
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("{}?mode=ro", app.database.url))
                    .await
                    .unwrap();
            for table in TABLES {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                out.rows.push(n);
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.database.url)
                .await
                .unwrap();
            for table in TABLES {
                let (bytes, n): (i64, i64) = sqlx::query_as(&format!(
                    "SELECT pg_total_relation_size('{table}'), (SELECT COUNT(*) FROM {table})"
                ))
                .fetch_one(&mut conn)
                .await
                .unwrap();
                out.bytes.push(bytes);
                out.rows.push(n);
            }
        }
    }
    out
}

async fn publish(app: &TestApp, event_type: &str, data: Value) -> String {
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": event_type, "data": data}),
        )
        .await;
    assert_eq!(status.as_u16(), 202, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// The one delivery of `event`, once it has had at least one attempt recorded.
async fn delivery_after_first_attempt(app: &TestApp, event: &str) -> Value {
    eventually(Duration::from_secs(15), || async {
        let (_, list) = app
            .get_json(&app.live_key, &format!("/v1/events/{event}/deliveries"))
            .await;
        let delivery = list["data"].get(0)?.clone();
        (delivery["attemptCount"].as_i64()? >= 1).then_some(delivery)
    })
    .await
}

/// The largest of each column over `samples`.
fn max_of(samples: &[Sample], pick: impl Fn(&Sample) -> &Vec<i64>) -> Vec<i64> {
    let width = pick(&samples[0]).len();
    (0..width)
        .map(|i| samples.iter().map(|s| pick(s)[i]).max().unwrap())
        .collect()
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_load_keeps_the_database_flat_and_a_delivery_in_retry_survives() {
    let app = spawn_app_with(|c| {
        c.retention = hookd::config::HumanDuration(Duration::from_secs(2));
        c.retention_interval_ms = 500;
        // The failing endpoint's next attempt is an hour away: its delivery stays pending.
        c.retry_schedule = vec![3600];
    })
    .await;
    let healthy = Receiver::start().await;
    let failing = Receiver::scripted(|_| (500, "no".into())).await;
    app.create_endpoint(&healthy.url, &["post.created"]).await;
    app.create_endpoint(&failing.url, &["job.failed"]).await;
    let kept = publish(&app, "job.failed", json!({"keep": true})).await;
    let kept_delivery = delivery_after_first_attempt(&app, &kept).await;
    assert_eq!(kept_delivery["status"], "pending", "{kept_delivery}");

    // 100 events a second for 64 s, sampled once a second.
    let first = publish(&app, "post.created", json!({"n": 0})).await;
    let (load_for, rate) = (Duration::from_secs(64), 100);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / rate));
    let mut next_sample = started;
    let mut samples = Vec::new();
    let mut published = 1usize;
    while started.elapsed() < load_for {
        tick.tick().await;
        publish(&app, "post.created", json!({"n": published})).await;
        published += 1;
        if Instant::now() >= next_sample {
            samples.push(sample(&app).await);
            next_sample += Duration::from_secs(1);
        }
    }
    assert!(samples.len() >= 60, "only {} samples", samples.len());
    // The series, for docs/retention.md (run with --nocapture).
    for (second, s) in samples.iter().enumerate().step_by(8) {
        println!("t={second:>2}s bytes {:?} rows {:?}", s.bytes, s.rows);
    }
    let half = samples.len() / 2;
    let (early, late) = samples.split_at(half);
    let (early_rows, late_rows) = (max_of(early, |s| &s.rows), max_of(late, |s| &s.rows));
    let (early_bytes, late_bytes) = (max_of(early, |s| &s.bytes), max_of(late, |s| &s.bytes));
    println!("rows  early max {early_rows:?}, late max {late_rows:?}");
    println!("bytes early max {early_bytes:?}, late max {late_bytes:?}");
    // Steady state is about (retention + interval + a pass) × rate ≈ 300 events, reached in the
    // first seconds; passes land at different moments of the load, so allow half as much again.
    // Without retention the late half would hold about twice the early half's rows (+3000).
    for (i, table) in TABLES.iter().enumerate() {
        assert!(
            late_rows[i] <= early_rows[i] * 3 / 2 + 50,
            "{table}: rows grew from {} to {}",
            early_rows[i],
            late_rows[i]
        );
        assert!(late_rows[i] < 1500, "{table}: {} rows kept", late_rows[i]);
    }
    // Space: freed pages (SQLite's freelist, PostgreSQL after VACUUM) are reused, so the late
    // maximum stays within a quarter (and a few pages) of the early one; without reuse every
    // second adds ~100 events' worth, far more over 30 s.
    for (i, (early, late)) in early_bytes.iter().zip(&late_bytes).enumerate() {
        assert!(
            *late <= early + early / 4 + 64 * 1024,
            "bytes[{i}] grew from {early} to {late}"
        );
    }

    // Retention did run: the first event of the load is gone...
    eventually(Duration::from_secs(10), || async {
        let (status, _) = app
            .get_json(&app.live_key, &format!("/v1/events/{first}"))
            .await;
        (status.as_u16() == 404).then_some(())
    })
    .await;
    // ...while the delivery in retry, and its event, are still there.
    let (status, event) = app
        .get_json(&app.live_key, &format!("/v1/events/{kept}"))
        .await;
    assert_eq!(status.as_u16(), 200, "{event}");
    assert_eq!(event["data"]["data"], json!({"keep": true}));
    let id = kept_delivery["id"].as_str().unwrap();
    let (status, delivery) = app
        .get_json(&app.live_key, &format!("/v1/deliveries/{id}"))
        .await;
    assert_eq!(status.as_u16(), 200, "{delivery}");
    assert_eq!(delivery["data"]["status"], "pending");
    assert_eq!(delivery["data"]["attempts"].as_array().unwrap().len(), 1);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hookd_retention_runs_total"), "{metrics}");
    assert!(
        metrics.contains("hookd_retention_rows_removed_total{table=\"events\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[suite_test]
async fn a_pass_on_demand_removes_only_final_events_older_than_the_cutoff() {
    // The background job keeps everything (30 days); the passes below are run by hand.
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let healthy = Receiver::start().await;
    let failing = Receiver::scripted(|_| (500, "no".into())).await;
    app.create_endpoint(&healthy.url, &["post.created"]).await;
    app.create_endpoint(&failing.url, &["job.failed"]).await;
    let done: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(publish(&app, "post.created", json!({"n": n})).await);
        }
        ids
    };
    let unrouted = publish(&app, "note.created", json!({"nobody": "listens"})).await;
    let retrying = publish(&app, "job.failed", json!({"retry": true})).await;
    for id in done.iter().chain([&retrying]) {
        let d = delivery_after_first_attempt(&app, id).await;
        let final_or_retrying = if id == &retrying {
            "pending"
        } else {
            "succeeded"
        };
        eventually(Duration::from_secs(10), || async {
            let (_, list) = app
                .get_json(&app.live_key, &format!("/v1/events/{id}/deliveries"))
                .await;
            (list["data"][0]["status"] == final_or_retrying && list["data"][0]["id"] == d["id"])
                .then_some(())
        })
        .await;
    }
    let later = Timestamp::now().plus_millis(1000);
    eventually(Duration::from_secs(5), || async {
        (Timestamp::now() > later).then_some(())
    })
    .await;

    // A dry run counts without removing: 4 events (3 delivered + 1 never routed), their 3
    // deliveries with one attempt each; the retrying one is not counted.
    let mut config = app.config.clone();
    config.retention = hookd::config::HumanDuration(Duration::from_millis(500));
    let mut out = Vec::new();
    let counted = prune::prune(&config, true, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        (counted.events, counted.deliveries, counted.attempts),
        (4, 3, 3),
        "{out}"
    );
    assert!(out.contains("would remove\tevents\t4\n"), "{out}");
    let (status, _) = app
        .get_json(&app.live_key, &format!("/v1/events/{}", done[0]))
        .await;
    assert_eq!(status.as_u16(), 200, "a dry run removed something");

    let removed = retention::prune_before(
        app.store.as_ref(),
        retention::cutoff(Duration::from_millis(500), Timestamp::now()),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (removed.events, removed.deliveries, removed.attempts),
        (4, 3, 3)
    );
    for id in done.iter().chain([&unrouted]) {
        let (status, _) = app
            .get_json(&app.live_key, &format!("/v1/events/{id}"))
            .await;
        assert_eq!(status.as_u16(), 404, "{id} survived");
    }
    let (status, _) = app
        .get_json(&app.live_key, &format!("/v1/events/{retrying}"))
        .await;
    assert_eq!(
        status.as_u16(),
        200,
        "the event of a delivery in retry was removed"
    );
    // Nothing is left to remove.
    let mut out = Vec::new();
    let again = prune::prune(&config, false, &mut out).await.unwrap();
    assert_eq!(again.total(), 0, "{}", String::from_utf8_lossy(&out));
    app.stop().await;
}
