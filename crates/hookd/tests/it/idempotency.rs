//! `Idempotency-Key`: replays, conflicts, key syntax, PATCH and DELETE, and concurrent requests
//! with one key that must never both run.

use futures_util::future::join_all;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

fn keyed(app: &TestApp, method: Method, path: &str, key: &str) -> RequestBuilder {
    app.req(method, path).header("Idempotency-Key", key)
}

/// Status, `Idempotent-Replayed`, raw body text.
async fn answer(request: RequestBuilder) -> (u16, bool, String) {
    let r = request.send().await.unwrap();
    let replayed = match r.headers().get("idempotent-replayed") {
        None => false,
        Some(v) => {
            assert_eq!(v, "true");
            true
        }
    };
    (r.status().as_u16(), replayed, r.text().await.unwrap())
}

#[suite_test]
async fn a_replay_returns_the_original_status_body_and_headers() {
    let app = spawn_app().await;
    let post = || keyed(&app, Method::POST, ENDPOINTS, "create-1").json(&new_endpoint("one"));
    let (status, replayed, first) = answer(post()).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    for _ in 0..3 {
        let r = post().send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().get("x-request-id").is_some());
        assert_eq!(r.headers()["scripe-api-version"], "2026-08-01");
        assert_eq!(
            r.text().await.unwrap(),
            first,
            "byte-for-byte the first answer"
        );
    }
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);
    let first: Value = serde_json::from_str(&first).unwrap();
    assert!(first["data"]["secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
}

#[suite_test]
async fn the_same_key_with_another_request_is_a_conflict() {
    let app = spawn_app().await;
    let (status, _, _) =
        answer(keyed(&app, Method::POST, ENDPOINTS, "k").json(&new_endpoint("one"))).await;
    assert_eq!(status, 201);
    let created = listed_ids(&app, &app.live_key).await;
    let other_requests = [
        keyed(&app, Method::POST, ENDPOINTS, "k").json(&new_endpoint("two")),
        keyed(&app, Method::POST, ENDPOINTS, "k").json(
            &json!({"url": URL, "name": "one", "events": ["post.created"], "projectId": "p"}),
        ),
        keyed(
            &app,
            Method::PATCH,
            &format!("{ENDPOINTS}/{}", created[0]),
            "k",
        )
        .json(&json!({"name": "one"})),
        keyed(
            &app,
            Method::DELETE,
            &format!("{ENDPOINTS}/{}", created[0]),
            "k",
        ),
    ];
    for request in other_requests {
        let (status, body) = into_parts(request.send().await.unwrap()).await;
        assert_error(status, &body, 409, "idempotency_key_conflict", None);
    }
    let (_, read) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{}", created[0]))
        .await;
    assert_eq!(
        read["data"]["name"], "one",
        "a conflicting request runs nothing"
    );
    assert_eq!(listed_ids(&app, &app.live_key).await, created);
}

#[suite_test]
async fn invalid_keys_are_rejected_before_anything_runs() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let too_long = "a".repeat(65);
    for bad in [
        too_long.as_str(),
        "has space",
        "",
        "semi;colon",
        "dot.ted",
        "slash/",
    ] {
        let requests = [
            keyed(&app, Method::POST, ENDPOINTS, bad).json(&new_endpoint("x")),
            keyed(&app, Method::PATCH, &path, bad).json(&json!({"name": "x"})),
            keyed(&app, Method::DELETE, &path, bad),
            keyed(&app, Method::POST, &format!("{path}/rotate-secret"), bad),
        ];
        for request in requests {
            let (status, body) = into_parts(request.send().await.unwrap()).await;
            assert_error(
                status,
                &body,
                400,
                "invalid_request",
                Some("Idempotency-Key"),
            );
        }
    }
    let non_ascii = reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap();
    let r = app
        .req(Method::POST, ENDPOINTS)
        .header("Idempotency-Key", non_ascii)
        .json(&new_endpoint("x"))
        .send()
        .await
        .unwrap();
    let (status, body) = into_parts(r).await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("Idempotency-Key"),
    );

    let (_, read) = app.get_json(&app.live_key, &path).await;
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(read["data"], expected, "nothing changed");
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);

    let longest = "A-z_9".repeat(12) + "abcd";
    assert_eq!(longest.len(), 64);
    let (status, _, body) =
        answer(keyed(&app, Method::POST, ENDPOINTS, &longest).json(&new_endpoint("ok"))).await;
    assert_eq!(status, 201, "a 64-character key is fine: {body}");
}

#[suite_test]
async fn patch_with_a_key_replays_instead_of_running_again() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let patch = json!({"name": "patched"});
    let (status, replayed, first) =
        answer(keyed(&app, Method::PATCH, &path, "patch-1").json(&patch)).await;
    assert_eq!((status, replayed), (200, false), "{first}");

    // Someone else renames it; replaying the first PATCH must not rename it back.
    let (status, _) = app
        .patch_json(&app.live_key, &path, &json!({"name": "later"}))
        .await;
    assert_eq!(status, 200);
    let (status, replayed, again) =
        answer(keyed(&app, Method::PATCH, &path, "patch-1").json(&patch)).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["name"], "later");
}

#[suite_test]
async fn delete_with_a_key_replays_the_200() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let (status, replayed, first) = answer(keyed(&app, Method::DELETE, &path, "del-1")).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    let (status, replayed, again) = answer(keyed(&app, Method::DELETE, &path, "del-1")).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    let (status, body) = app.delete(&app.live_key, &path).await;
    assert_error(status, &body, 404, "not_found", None);
}

#[suite_test]
async fn rotate_with_a_key_rotates_once() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = format!("{}/rotate-secret", endpoint_path(&created["id"]));
    let (status, _, first) = answer(keyed(&app, Method::POST, &path, "rot-1")).await;
    assert_eq!(status, 200, "{first}");
    let (status, replayed, again) = answer(keyed(&app, Method::POST, &path, "rot-1")).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    let first: Value = serde_json::from_str(&first).unwrap();
    let (_, read) = app
        .get_json(&app.live_key, &endpoint_path(&created["id"]))
        .await;
    assert_eq!(read["data"]["secretLast4"], first["data"]["secretLast4"]);
}

#[suite_test]
async fn a_rejected_request_with_a_key_is_rejected_again() {
    let app = spawn_app().await;
    let bad = json!({"name": "", "url": URL, "events": ["post.created"]});
    let (status, _, first) = answer(keyed(&app, Method::POST, ENDPOINTS, "bad-1").json(&bad)).await;
    assert_eq!(status, 400, "{first}");
    let (status, _, again) = answer(keyed(&app, Method::POST, ENDPOINTS, "bad-1").json(&bad)).await;
    assert_eq!(status, 400);
    assert_eq!(again, first);
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn concurrent_requests_with_one_key_create_exactly_one_endpoint() {
    let app = spawn_app().await;
    let answers = join_all((0..10).map(|_| {
        answer(keyed(&app, Method::POST, ENDPOINTS, "race-1").json(&new_endpoint("raced")))
    }))
    .await;

    let ids = listed_ids(&app, &app.live_key).await;
    assert_eq!(ids.len(), 1, "exactly one request ran: {answers:?}");
    let originals = answers.iter().filter(|(s, r, _)| *s == 201 && !r).count();
    assert_eq!(originals, 1, "{answers:?}");
    let original = &answers.iter().find(|(s, r, _)| *s == 201 && !r).unwrap().2;
    for (status, replayed, body) in &answers {
        match status {
            201 => {
                assert_eq!(body, original, "a replay is the original answer");
                let body: Value = serde_json::from_str(body).unwrap();
                assert_eq!(body["data"]["id"], ids[0].as_str());
            }
            409 => {
                assert!(!replayed);
                let body: Value = serde_json::from_str(body).unwrap();
                assert_eq!(body["error"]["code"], "idempotency_key_in_use", "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    // Once the first has finished, every retry is a replay.
    let (status, replayed, body) =
        answer(keyed(&app, Method::POST, ENDPOINTS, "race-1").json(&new_endpoint("raced"))).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(&body, original);
}

#[suite_test]
async fn requests_without_a_key_are_not_deduplicated() {
    let app = spawn_app().await;
    for _ in 0..2 {
        let (status, _) = app
            .post_json(&app.live_key, ENDPOINTS, &new_endpoint("same"))
            .await;
        assert_eq!(status, 201);
    }
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 2);
    let r = app
        .req(Method::GET, ENDPOINTS)
        .header("Idempotency-Key", "not checked on GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET ignores Idempotency-Key");
}

#[suite_test]
async fn the_same_parameters_in_other_whitespace_or_key_order_replay() {
    let app = spawn_app().await;
    let compact = format!(r#"{{"name":"one","url":"{URL}","events":["post.created"]}}"#);
    let reordered = format!(
        "{{\n  \"events\" : [ \"post.created\" ],\n  \"url\": \"{URL}\",\t\"name\": \"one\"\n}}"
    );
    let send = |body: String| {
        keyed(&app, Method::POST, ENDPOINTS, "parsed-1")
            .header("content-type", "application/json")
            .body(body)
    };
    let (status, replayed, first) = answer(send(compact)).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = answer(send(reordered)).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first);
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);

    // Another value, or another order inside an array, is another request.
    let (status, _, body) = answer(send(format!(
        r#"{{"name":"two","url":"{URL}","events":["post.created"]}}"#
    )))
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = answer(send(format!(
        r#"{{"name":"one","url":"{URL}","events":["post.created","job.completed"]}}"#
    )))
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = answer(send(format!(
        r#"{{"name":"one","url":"{URL}","events":["job.completed","post.created"]}}"#
    )))
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);
}
