//! Small helpers shared by the API test modules: request bodies, raw requests, list walking,
//! direct looks at the database file, publishing an event and creating an integration. Kept
//! small, since `tests/python` compiles it without the rest of the suite.
//!
//! Destinations are loopback IP literals (allowlisted by the test config), so creating an
//! endpoint never needs DNS and nothing ever leaves the machine.

#![allow(dead_code)]

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::*;

/// A destination the test config allows; nothing is delivered to it unless an event is sent.
pub const URL: &str = "https://127.0.0.1:9/hook";

pub const ENDPOINTS: &str = "/v1/webhook-endpoints";

/// A valid create body.
pub fn new_endpoint(name: &str) -> Value {
    json!({"name": name, "url": URL, "events": ["post.created"]})
}

pub fn endpoint_path(id: &Value) -> String {
    format!("{ENDPOINTS}/{}", id.as_str().expect("id is a string"))
}

/// Sends `body` as-is with the given content type (or none) and the live key.
pub async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (axum::http::StatusCode, Value) {
    let mut request = app.req(method, path).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    into_parts(request.send().await.unwrap()).await
}

/// The ids of one list page, in order, plus `hasMore` and `nextCursor`.
pub async fn page(app: &TestApp, key: &str, path: &str) -> (Vec<String>, bool, Value) {
    let (status, body) = app.get_json(key, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let ids = body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    (
        ids,
        body["hasMore"].as_bool().unwrap(),
        body["nextCursor"].clone(),
    )
}

/// All endpoint ids the key sees (first page of 100 is enough for these tests).
pub async fn listed_ids(app: &TestApp, key: &str) -> Vec<String> {
    let (ids, has_more, _) = page(app, key, &format!("{ENDPOINTS}?limit=100")).await;
    assert!(!has_more);
    ids
}

/// Asserts the key's workspace and mode has no endpoints at all.
pub async fn assert_no_endpoints(app: &TestApp, key: &str) {
    assert_eq!(listed_ids(app, key).await, Vec::<String>::new());
}

/// Moves an endpoint's `createdAt`/`updatedAt` to 2020-01-01, so a later change is visible in
/// `updatedAt` without waiting for the clock to tick.
pub async fn backdate_endpoint(app: &TestApp, id: &str) {
    let sql = "UPDATE endpoints SET created_at = $1, updated_at = $1 WHERE id = $2";
    let affected = match crate::BACKEND {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.dir.path().join("hookd.db"))
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            let done = sqlx::query(sql)
                .bind(1_577_836_800_000_i64)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database.url)
                .await
                .unwrap();
            let done = sqlx::query(sql)
                .bind(1_577_836_800_000_i64)
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            done.rows_affected()
        }
    };
    assert_eq!(affected, 1);
}

pub const BACKDATED: &str = "2020-01-01T00:00:00Z";

/// How long anything that should happen within a few retries may take before a test gives up.
pub const WAIT: Duration = Duration::from_secs(20);

/// Publishes with `key`, asserts 202 and returns the event (`data`).
pub async fn publish(app: &TestApp, key: &str, body: &Value) -> Value {
    let (status, answer) = app.post_json(key, "/v1/events", body).await;
    assert_eq!(status, 202, "{answer}");
    answer["data"].clone()
}

/// Creates an integration with `key`, asserts 201 and returns its `data`.
pub async fn create_integration(app: &TestApp, key: &str, body: Value) -> Value {
    let (status, answer) = app.post_json(key, "/v1/integrations", &body).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}
