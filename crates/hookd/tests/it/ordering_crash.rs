//! Ordered delivery survives `kill -9` (SQLite, the real binary): interleaved events of many
//! keys go to a slow receiver that fails a share of first attempts; the server is SIGKILLed
//! with attempts in flight and a backlog held behind keys, restarted on the same data
//! directory, and given more events of the same keys. Every key must arrive complete and in
//! publish order (a duplicate of the place in flight at the kill is allowed: at least once).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::durability::{free_port, Hookd};
use crate::harness::eventually;
use crate::ordering::{publish_places, wait_complete_within, KeyedReceiver};

const KEYS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_keeps_every_key_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let receiver = KeyedReceiver::start(3).await;
    // Slow, so the kill finds attempts in flight and most places still to go.
    receiver.set_delay(Duration::from_millis(300));
    let (mut hookd, key) = Hookd::start(dir.path(), port).await;
    let key = key.expect("the first start prints the live key");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = client
        .post(format!("{}/v1/webhook-endpoints", hookd.base_url))
        .bearer_auth(&key)
        .json(&json!({"name": "ordered", "url": receiver.url, "events": ["post.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let bases = vec![hookd.base_url.clone()];
    publish_places(&client, &bases, &key, KEYS, 0..8).await;
    eventually(Duration::from_secs(30), || {
        let busy = receiver.in_flight() >= 4;
        async move { busy.then_some(()) }
    })
    .await;
    hookd.kill().await;
    let at_kill = receiver.arrivals();
    println!("killed with {at_kill} arrivals of {} places", KEYS * 8);
    assert!(
        at_kill < KEYS * 8,
        "precondition: places outstanding at the kill"
    );

    receiver.set_delay(Duration::ZERO);
    let (mut hookd, _) = Hookd::start(dir.path(), port).await;
    publish_places(&client, &bases, &key, KEYS, 8..12).await;
    let published: HashMap<String, u64> = (0..KEYS).map(|k| (format!("k{k}"), 12)).collect();
    wait_complete_within(&receiver, &published, Duration::from_secs(90)).await;
    assert_eq!(receiver.out_of_order(), Vec::<String>::new());
    hookd.terminate().await;
}
