//! Attempt results reach their deliveries by key on PostgreSQL, however small the table was
//! when a connection first planned their statement (issue 28).
//!
//! A connection plans the results' statement once, and on a fresh database that happens while
//! `deliveries` holds a handful of rows: the planner then chose a sequential scan of the table
//! (joined by hash with the batch) and kept it as the table grew, so every batch of results read
//! the whole table (about 200 rows per result in a 20,000-event burst). The results' pool now
//! takes a sequential scan only where no index serves (`store/postgres/mod.rs`).

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::harness::*;

/// Publishes in waves, so results are written in many batches while the table grows.
const WAVES: usize = 12;
const PER_WAVE: usize = 50;

#[suite_test]
async fn attempt_results_do_not_scan_the_deliveries_table() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    for wave in 0..WAVES {
        let answers = join_all((0..PER_WAVE).map(|i| {
            let app = &app;
            async move {
                let event = json!({"type": "post.created", "data": {"n": wave * PER_WAVE + i}});
                app.post_json(&app.live_key, "/v1/events", &event).await
            }
        }))
        .await;
        for (status, body) in &answers {
            assert_eq!(*status, 202, "{body}");
        }
        receiver
            .wait_for((wave + 1) * PER_WAVE, Duration::from_secs(60))
            .await;
    }
    let total = i64::try_from(WAVES * PER_WAVE).unwrap();

    // Only results insert attempts, and a connection reports its table statistics (the
    // attempts it inserted and the deliveries it scanned together) when it next goes idle,
    // within about ten seconds: once every attempt shows, so do the results' scans.
    let db = sqlx::PgPool::connect(&app.database.url).await.unwrap();
    let scanned: i64 = eventually(Duration::from_secs(60), || {
        let db = db.clone();
        async move {
            let (attempts, scanned): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'attempts'), \
                        (SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'deliveries')",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            (attempts >= total).then_some(scanned)
        }
    })
    .await;
    assert!(
        scanned < total,
        "{scanned} delivery rows were read by sequential scans for {total} results"
    );
    let succeeded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(succeeded, total, "every result was written");
}
