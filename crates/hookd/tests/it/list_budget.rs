//! The byte budget of list pages: `GET /v1/events?limit=100` over events of about 1 MiB each
//! answers a bounded page (stopping early with `hasMore` and a cursor), and walking the cursor
//! still reaches every event exactly once.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::harness::*;

const EVENTS: usize = 12;
const MIB: usize = 1024 * 1024;

#[suite_test]
async fn large_events_are_listed_in_pages_bounded_in_bytes() {
    let app = spawn_app_with(|c| c.max_body_bytes = 2 * MIB).await;
    let budget = app.config.list_page_max_bytes;
    let mut published = HashSet::new();
    for i in 0..EVENTS {
        let blob = format!("{i:02}").repeat(MIB / 2 - 64);
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {"blob": blob}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        published.insert(body["data"]["id"].as_str().unwrap().to_string());
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/v1/events?limit=100".to_string(),
            Some(c) => format!("/v1/events?limit=100&cursor={c}"),
        };
        let response = app.req(reqwest::Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.bytes().await.unwrap();
        // The budget, plus at most the one event that crossed it.
        assert!(
            bytes.len() < budget + 2 * MIB,
            "a page of {} bytes over a budget of {budget}",
            bytes.len()
        );
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        let items = page["data"].as_array().unwrap();
        assert!(!items.is_empty(), "a page always holds an event");
        seen.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        pages += 1;
        if page["hasMore"] == json!(false) {
            assert_eq!(page["nextCursor"], Value::Null);
            break;
        }
        cursor = Some(page["nextCursor"].as_str().unwrap().to_string());
        assert!(pages <= EVENTS, "the walk ends");
    }
    assert!(pages > 1, "12 MiB of events do not fit one page");
    assert_eq!(seen.len(), EVENTS, "every event exactly once");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), published);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first across pages");
}

#[suite_test]
async fn small_events_still_fill_a_page_to_its_limit() {
    let app = spawn_app().await;
    for _ in 0..30 {
        let (status, _) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {"n": 1}}),
            )
            .await;
        assert_eq!(status, 202);
    }
    let (_, page) = app.get_json(&app.live_key, "/v1/events?limit=25").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 25);
    assert_eq!(page["hasMore"], true);
    let (_, page) = app.get_json(&app.live_key, "/v1/events?limit=30").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 30);
    assert_eq!(page["hasMore"], false);
}
