//! Ordered delivery across nodes (PostgreSQL, real processes): two `hookd serve` share one
//! database; one key's events are published through both in turn, so each node dispatches
//! some of every key. One node is SIGKILLed with attempts in flight and keys held; the other
//! takes over once the dead node's leases expire. Every key must arrive complete and in publish
//! order, and never two of one key at once (one node at a time owns a key's head).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::cluster::{run_cli, start_nodes};
use crate::harness::*;
use crate::ordering::{publish_places, wait_complete_within, KeyedReceiver};

const KEYS: usize = 16;
/// A SIGKILLed node's leases expire after the delivery timeout (2 s) + 60 s.
const TAKEOVER_BOUND: Duration = Duration::from_secs(150);

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_keep_each_key_in_order_through_a_sigkill() {
    let database = TestDatabase::create().await;
    let dir = database.dir.path();
    run_cli(&database.url, dir, &["migrate"]).await;
    let mut nodes = start_nodes(2, &database.url, dir).await;
    let key = run_cli(
        &database.url,
        dir,
        &["keys", "create", "--workspace", "default", "--mode", "live"],
    )
    .await
    .trim()
    .to_string();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let receiver = KeyedReceiver::start(3).await;
    receiver.set_delay(Duration::from_millis(300));
    let r = client
        .post(format!("{}/v1/webhook-endpoints", nodes[0].base_url))
        .bearer_auth(&key)
        .json(&json!({"name": "ordered", "url": receiver.url, "events": ["post.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let both: Vec<String> = nodes.iter().map(|n| n.base_url.clone()).collect();
    publish_places(&client, &both, &key, KEYS, 0..6).await;
    // Every 16th event goes through the same node, so node0 published (and holds the heads
    // of) the even keys: kill it while the receiver is busy with several attempts.
    eventually(Duration::from_secs(30), || {
        let busy = receiver.in_flight() >= 4;
        async move { busy.then_some(()) }
    })
    .await;
    nodes[0].kill().await;
    let at_kill = receiver.arrivals();
    println!(
        "node0 killed with {at_kill} arrivals of {} places",
        KEYS * 6
    );
    assert!(
        at_kill < KEYS * 6,
        "precondition: places outstanding at the kill"
    );

    receiver.set_delay(Duration::ZERO);
    let survivor = vec![nodes[1].base_url.clone()];
    publish_places(&client, &survivor, &key, KEYS, 6..9).await;
    let published: HashMap<String, u64> = (0..KEYS).map(|k| (format!("k{k}"), 9)).collect();
    wait_complete_within(&receiver, &published, TAKEOVER_BOUND).await;
    assert_eq!(receiver.out_of_order(), Vec::<String>::new());
}
