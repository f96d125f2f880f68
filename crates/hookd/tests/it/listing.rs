//! `GET /v1/webhook-endpoints`: newest first, `limit`, cursor walks that see every endpoint
//! exactly once and do not shift when endpoints are created meanwhile, and the filters.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

/// Creates `n` endpoints and returns their ids in creation order.
async fn create_many(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (status, body) = app
            .post_json(&app.live_key, ENDPOINTS, &new_endpoint(&format!("ep {i}")))
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    ids
}

fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    ids.reverse();
    ids
}

#[suite_test]
async fn default_limit_is_20_and_the_list_is_newest_first() {
    let app = spawn_app().await;
    let created = create_many(&app, 25).await;
    let (ids, has_more, cursor) = page(&app, &app.live_key, ENDPOINTS).await;
    assert_eq!(ids, newest_first(created.clone())[..20]);
    assert!(has_more);
    assert_eq!(cursor, json!(ids[19]));

    let (ids, has_more, cursor) =
        page(&app, &app.live_key, &format!("{ENDPOINTS}?limit=100")).await;
    assert_eq!(ids, newest_first(created));
    assert!(!has_more);
    assert_eq!(cursor, Value::Null);
}

#[suite_test]
async fn limits_1_and_100_are_accepted() {
    let app = spawn_app().await;
    let created = create_many(&app, 3).await;
    let (ids, has_more, _) = page(&app, &app.live_key, &format!("{ENDPOINTS}?limit=1")).await;
    assert_eq!(ids, [created[2].clone()]);
    assert!(has_more);
    let (ids, has_more, cursor) = page(&app, &app.live_key, &format!("{ENDPOINTS}?limit=3")).await;
    assert_eq!(ids.len(), 3);
    assert!(!has_more, "exactly `limit` items left means no more");
    assert_eq!(cursor, Value::Null);
}

/// Follows `nextCursor` from the first page to the last.
async fn walk(app: &TestApp, limit: u32, between_pages: impl AsyncFn(usize)) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut path = format!("{ENDPOINTS}?limit={limit}");
    loop {
        let (ids, has_more, cursor) = page(app, &app.live_key, &path).await;
        assert!(ids.len() <= limit as usize);
        pages.push(ids);
        between_pages(pages.len()).await;
        if !has_more {
            assert_eq!(cursor, Value::Null);
            return pages;
        }
        let cursor = cursor.as_str().expect("hasMore comes with a nextCursor");
        assert_eq!(cursor, pages.last().unwrap().last().unwrap());
        path = format!("{ENDPOINTS}?limit={limit}&cursor={cursor}");
        assert!(pages.len() < 100, "the walk does not end");
    }
}

#[suite_test]
async fn walking_the_cursor_yields_every_endpoint_exactly_once() {
    let app = spawn_app().await;
    let created = create_many(&app, 25).await;
    let pages = walk(&app, 10, async |_| {}).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(pages.concat(), newest_first(created));
}

#[suite_test]
async fn endpoints_created_between_pages_do_not_shift_the_walk() {
    let app = spawn_app().await;
    let created = create_many(&app, 25).await;
    let pages = walk(&app, 10, async |_| {
        create_many(&app, 3).await;
    })
    .await;
    let seen = pages.concat();
    assert_eq!(
        seen,
        newest_first(created),
        "no repeats, no gaps, same order"
    );
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 25 + 3 * 3);
}

#[suite_test]
async fn deleted_endpoints_are_skipped_and_a_deleted_cursor_still_works() {
    let app = spawn_app().await;
    let created = create_many(&app, 6).await;
    let (first, _, cursor) = page(&app, &app.live_key, &format!("{ENDPOINTS}?limit=3")).await;
    let cursor = cursor.as_str().unwrap().to_string();
    for id in [&cursor, &created[1]] {
        let (status, body) = app
            .delete(&app.live_key, &format!("{ENDPOINTS}/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (rest, has_more, _) = page(
        &app,
        &app.live_key,
        &format!("{ENDPOINTS}?limit=3&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        first,
        [
            created[5].as_str(),
            created[4].as_str(),
            created[3].as_str()
        ]
    );
    assert_eq!(rest, [created[2].as_str(), created[0].as_str()]);
    assert!(!has_more);
}

#[suite_test]
async fn filters_by_project_and_active_state() {
    let app = spawn_app().await;
    let mut by_project = Vec::new();
    for project in [json!("p1"), json!("p2"), Value::Null, json!("p1")] {
        let body =
            json!({"name": "e", "url": URL, "events": ["post.created"], "projectId": project});
        let (status, body) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_eq!(status, 201, "{body}");
        by_project.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("{ENDPOINTS}/{}", by_project[0]),
            &json!({"isActive": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let ids = |q: &'static str| {
        let app = &app;
        async move {
            page(app, &app.live_key, &format!("{ENDPOINTS}?{q}"))
                .await
                .0
        }
    };
    assert_eq!(
        ids("projectId=p1").await,
        [by_project[3].as_str(), by_project[0].as_str()]
    );
    assert_eq!(ids("projectId=p2").await, [by_project[1].as_str()]);
    assert_eq!(ids("projectId=nope").await, Vec::<String>::new());
    assert_eq!(ids("isActive=false").await, [by_project[0].as_str()]);
    assert_eq!(
        ids("isActive=true").await,
        [
            by_project[3].as_str(),
            by_project[2].as_str(),
            by_project[1].as_str()
        ]
    );
    assert_eq!(
        ids("projectId=p1&isActive=true").await,
        [by_project[3].as_str()]
    );
    assert_eq!(
        ids("projectId=p1&isActive=true&limit=1").await,
        [by_project[3].as_str()]
    );
}

#[suite_test]
async fn a_filtered_walk_pages_through_matching_endpoints_only() {
    let app = spawn_app().await;
    let mut matching = Vec::new();
    for i in 0..18 {
        let project = if i % 3 == 0 { "other" } else { "mine" };
        let body =
            json!({"name": "e", "url": URL, "events": ["post.created"], "projectId": project});
        let (_, body) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        if project == "mine" {
            matching.push(body["data"]["id"].as_str().unwrap().to_string());
        }
    }
    let (first, has_more, cursor) = page(
        &app,
        &app.live_key,
        &format!("{ENDPOINTS}?projectId=mine&limit=5"),
    )
    .await;
    assert!(has_more);
    let cursor = cursor.as_str().unwrap();
    let (second, has_more, _) = page(
        &app,
        &app.live_key,
        &format!("{ENDPOINTS}?projectId=mine&limit=5&cursor={cursor}"),
    )
    .await;
    assert!(has_more);
    let cursor = second.last().unwrap();
    let (third, has_more, _) = page(
        &app,
        &app.live_key,
        &format!("{ENDPOINTS}?projectId=mine&limit=5&cursor={cursor}"),
    )
    .await;
    assert!(!has_more);
    assert_eq!([first, second, third].concat(), newest_first(matching));
}
