//! Scale-out with real processes (issue 5): several `hookd serve` on one PostgreSQL database
//! share the API and the delivery work, deliver exactly once while all live, and lose nothing
//! when one is SIGKILLed mid-run (its leases expire and the living take its work over).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;

use crate::cluster::*;
use crate::harness::*;

/// A SIGKILLed node's leases expire after delivery timeout (2 s) + 60 s; this leaves room for
/// the take-over on a loaded two-core machine.
const TAKEOVER_BOUND: Duration = Duration::from_secs(120);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn create_endpoint(client: &reqwest::Client, node: &Node, key: &str, url: &str) {
    let answer = client
        .post(format!("{}/v1/webhook-endpoints", node.base_url))
        .bearer_auth(key)
        .json(&json!({"name": "counter", "url": url, "events": ["post.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
}

fn alive_list(nodes: &[Node]) -> Arc<RwLock<Vec<(usize, String)>>> {
    let list = nodes.iter().enumerate();
    Arc::new(RwLock::new(
        list.map(|(i, n)| (i, n.base_url.clone())).collect(),
    ))
}

/// Deliveries in the database: (all, succeeded with exactly one attempt and no lease, attempts).
async fn delivery_rows(database_url: &str) -> (i64, i64, i64) {
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    sqlx::query_as(
        "SELECT COUNT(*), \
           COUNT(*) FILTER (WHERE status = 'succeeded' AND attempt_count = 1 \
                            AND lease_owner IS NULL), \
           (SELECT COUNT(*) FROM attempts) FROM deliveries",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Waits until every delivery is recorded as succeeded and none is leased (so nothing is left to
/// deliver, or deliver again), then compares the receiver's arrivals with what was accepted,
/// ignoring the ids in `earlier` (a previous phase).
async fn settle_and_tally(
    database_url: &str,
    receiver: &CountingReceiver,
    published: &Published,
    earlier: &HashSet<String>,
) -> Tally {
    let deadline = tokio::time::Instant::now() + TAKEOVER_BOUND;
    let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
    let settled = loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries \
             WHERE status <> 'succeeded' OR lease_owner IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if open == 0 || tokio::time::Instant::now() >= deadline {
            break open == 0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut arrivals = receiver.arrivals();
    arrivals.retain(|id, _| !earlier.contains(id));
    let t = tally(&published.accepted.lock().unwrap(), &arrivals);
    assert!(
        settled,
        "deliveries still open after {TAKEOVER_BOUND:?}: {t:?}"
    );
    t
}

/// What the killed node left behind.
struct Kill {
    /// Its `hookd_delivery_attempts_total` just before the kill.
    attempts: u64,
    /// Its attempts in flight (arrived at the receiver, unanswered) at the kill.
    in_flight: HashSet<String>,
    /// Events it had accepted that had not reached the receiver: leased to it, in its memory.
    backlog: usize,
}

/// Mid-run: holds the victim's deliveries at the receiver until all its delivery slots are busy
/// and work queues up behind them, then SIGKILLs it, takes it out of the publishers' rotation and
/// lifts the hold. The other nodes are never held.
async fn kill_mid_run(
    client: &reqwest::Client,
    nodes: &mut [Node],
    victim: usize,
    alive: &RwLock<Vec<(usize, String)>>,
    receiver: &CountingReceiver,
    published: &Published,
) -> Kill {
    let backlog = || {
        let arrived = receiver.arrivals();
        published
            .ids_of(victim)
            .iter()
            .filter(|id| !arrived.contains_key(*id))
            .count()
    };
    receiver.set_hold(Some(victim));
    eventually(Duration::from_secs(60), || async {
        (receiver.held().len() >= MAX_IN_FLIGHT && backlog() >= 20).then_some(())
    })
    .await;
    let attempts = nodes[victim].attempts_made(client).await.unwrap_or(0);
    alive.write().unwrap().retain(|(i, _)| *i != victim);
    let in_flight = receiver.held();
    let backlog = backlog();
    nodes[victim].kill().await;
    receiver.set_hold(None);
    Kill {
        attempts,
        in_flight,
        backlog,
    }
}

/// Every attempt the victim had in flight is delivered again by another node; nothing else is
/// duplicated except events the victim accepted (or committed but died before acknowledging).
fn assert_duplicates_only_from_the_kill(
    kill: &Kill,
    victim_ids: &HashSet<String>,
    accepted: &HashMap<String, usize>,
    t: &Tally,
) {
    for id in &kill.in_flight {
        let again = t.duplicated_ids.contains(id);
        assert!(
            again,
            "{id} was in flight on the killed node: delivered again"
        );
    }
    for id in &t.duplicated_ids {
        assert!(
            victim_ids.contains(id) || !accepted.contains_key(id),
            "{id} was delivered twice but was accepted by a node that stayed up"
        );
    }
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_work_and_a_sigkilled_one_loses_nothing() {
    let started = Instant::now();
    let database = TestDatabase::create().await;
    let dir = database.dir.path();
    run_cli(&database.url, dir, &["migrate"]).await;
    let mut nodes = start_nodes(3, &database.url, dir).await;
    let key = run_cli(
        &database.url,
        dir,
        &["keys", "create", "--workspace", "default", "--mode", "live"],
    )
    .await
    .trim()
    .to_string();
    let client = client();
    let receiver = CountingReceiver::start().await;
    create_endpoint(&client, &nodes[0], &key, &receiver.url).await;

    let total = 600;
    let published = Arc::new(Published::default());
    let alive = alive_list(&nodes);
    let publisher = tokio::spawn(publish_round_robin(
        client.clone(),
        key.clone(),
        Arc::clone(&alive),
        total,
        12,
        Arc::clone(&published),
    ));
    let victim = 2;
    eventually(Duration::from_secs(60), || async {
        (published.accepted_count() >= total / 3).then_some(())
    })
    .await;
    let kill = kill_mid_run(&client, &mut nodes, victim, &alive, &receiver, &published).await;
    publisher.await.unwrap();

    // Settled includes the attempts cut off by the kill: made again once the victim's leases
    // expire.
    let t = settle_and_tally(&database.url, &receiver, &published, &HashSet::new()).await;
    let mut per_node = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        per_node.push(match i == victim {
            true => kill.attempts,
            false => node
                .attempts_made(&client)
                .await
                .expect("a living node answers"),
        });
    }
    println!(
        "accepted={} delivered={} duplicates={} missing={} unacknowledged={} failed_publishes={} \
         per_node={per_node:?} (node{victim} SIGKILLed; its count is as of the kill) \
         victim_in_flight_at_kill={} victim_backlog_at_kill={} duplicated_ids={:?} elapsed={:?}",
        t.accepted,
        t.delivered,
        t.duplicates,
        t.missing,
        t.unacknowledged,
        published.failed.load(std::sync::atomic::Ordering::SeqCst),
        kill.in_flight.len(),
        kill.backlog,
        t.duplicated_ids,
        started.elapsed()
    );
    assert_eq!(t.missing, 0, "every accepted event is delivered");
    assert!(
        per_node.iter().filter(|n| **n > 0).count() >= 2,
        "attempts spread over the nodes: {per_node:?}"
    );
    let victim_ids: HashSet<String> = published.ids_of(victim).into_iter().collect();
    assert_duplicates_only_from_the_kill(
        &kill,
        &victim_ids,
        &published.accepted.lock().unwrap(),
        &t,
    );
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_deliver_2000_events_exactly_once_and_survive_a_kill() {
    let started = Instant::now();
    let database = TestDatabase::create().await;
    let dir = database.dir.path();
    // An empty database and no `hookd migrate`: both nodes migrate and bootstrap at start,
    // together.
    let mut nodes = start_nodes(2, &database.url, dir).await;
    let keys: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.bootstrap_key.clone())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "exactly one node bootstraps the empty database"
    );
    let key = keys[0].clone();
    let client = client();
    let receiver = CountingReceiver::start().await;
    create_endpoint(&client, &nodes[1], &key, &receiver.url).await;

    // Phase 1: all nodes up, 2,000 events half to each: exactly once.
    let phase1 = Arc::new(Published::default());
    publish_round_robin(
        client.clone(),
        key.clone(),
        alive_list(&nodes),
        2000,
        16,
        Arc::clone(&phase1),
    )
    .await;
    assert_eq!(phase1.failed.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(
        (phase1.ids_of(0).len(), phase1.ids_of(1).len()),
        (1000, 1000)
    );
    let t = settle_and_tally(&database.url, &receiver, &phase1, &HashSet::new()).await;
    let rows = delivery_rows(&database.url).await;
    let per_node = [
        nodes[0].attempts_made(&client).await.unwrap(),
        nodes[1].attempts_made(&client).await.unwrap(),
    ];
    println!(
        "phase 1 (no kill): accepted={} delivered={} duplicates={} missing={} unacknowledged={} \
         deliveries={} attempts={} per_node={per_node:?} elapsed={:?}",
        t.accepted,
        t.delivered,
        t.duplicates,
        t.missing,
        t.unacknowledged,
        rows.0,
        rows.2,
        started.elapsed()
    );
    assert_eq!(
        (t.missing, t.duplicates, t.unacknowledged),
        (0, 0, 0),
        "exactly once"
    );
    // Every delivery succeeded with one attempt and holds no lease: no later duplicate can come.
    assert_eq!(rows, (2000, 2000, 2000));
    assert!(
        per_node.iter().all(|n| *n > 0),
        "both nodes delivered: {per_node:?}"
    );

    // Phase 2: 1,000 more, one node SIGKILLed mid-run: none missing.
    let phase2_started = Instant::now();
    let phase1_ids: HashSet<String> = phase1.accepted.lock().unwrap().keys().cloned().collect();
    let phase2 = Arc::new(Published::default());
    let alive = alive_list(&nodes);
    let publisher = tokio::spawn(publish_round_robin(
        client.clone(),
        key.clone(),
        Arc::clone(&alive),
        1000,
        16,
        Arc::clone(&phase2),
    ));
    let victim = 1;
    eventually(Duration::from_secs(60), || async {
        (phase2.accepted_count() >= 300).then_some(())
    })
    .await;
    let kill = kill_mid_run(&client, &mut nodes, victim, &alive, &receiver, &phase2).await;
    publisher.await.unwrap();
    let t = settle_and_tally(&database.url, &receiver, &phase2, &phase1_ids).await;
    println!(
        "phase 2 (node{victim} SIGKILLed): accepted={} delivered={} duplicates={} missing={} \
         unacknowledged={} failed_publishes={} victim_in_flight_at_kill={} \
         victim_backlog_at_kill={} duplicated_ids={:?} elapsed={:?}",
        t.accepted,
        t.delivered,
        t.duplicates,
        t.missing,
        t.unacknowledged,
        phase2.failed.load(std::sync::atomic::Ordering::SeqCst),
        kill.in_flight.len(),
        kill.backlog,
        t.duplicated_ids,
        phase2_started.elapsed()
    );
    assert_eq!(t.missing, 0, "every accepted event is delivered");
    let victim_ids: HashSet<String> = phase2.ids_of(victim).into_iter().collect();
    assert_duplicates_only_from_the_kill(&kill, &victim_ids, &phase2.accepted.lock().unwrap(), &t);
}
