//! Two nodes on one PostgreSQL database pace one rate-limited endpoint against one limit: the
//! next free slot lives in the database, so the receiver sees the rate, not twice the rate.

use std::time::Duration;

use crate::harness::*;
use crate::rate_limits::{limited_endpoint, publish_many, span};

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_limit() {
    let a = spawn_app().await;
    let b = a.spawn_peer().await;
    let receiver = Receiver::start().await;
    limited_endpoint(&a, &receiver, Some(4)).await;
    // Half the events published through each node: each node delivers its own.
    publish_many(&a, 6).await;
    publish_many(&b, 6).await;
    let got = receiver.wait_for(12, Duration::from_secs(30)).await;
    // 11 intervals of 250 ms: 2.75 s for one shared limit; two separate limits would need
    // only 5 intervals (1.25 s).
    let took = span(&got);
    assert!(
        took >= 2.4,
        "12 attempts at 4/s over two nodes arrived within {took:.2}s"
    );
}
