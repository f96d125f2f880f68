//! Erasure end to end: `DELETE /v1/events/{id}` and `POST /v1/events/erase` blank an event's
//! data and its attempts' response bodies (rows kept), cancel its pending deliveries, leave
//! every other event alone, stay inside the caller's tenant, and leave no trace of the data in
//! the database's bytes (SQLite: file + WAL; PostgreSQL: every live row).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    assert_error, eventually, spawn_app, spawn_app_with, suite_test, Receiver, TestApp,
};

async fn publish(app: &TestApp, key: &str, data: Value, project: Option<&str>) -> String {
    let (status, body) = app
        .post_json(
            key,
            "/v1/events",
            &json!({"type": "post.created", "projectId": project, "data": data}),
        )
        .await;
    assert_eq!(status.as_u16(), 202, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// The event's one delivery with its attempts, once an attempt is recorded.
async fn delivery_with_attempt(app: &TestApp, event: &str) -> Value {
    eventually(Duration::from_secs(15), || async {
        let (_, list) = app
            .get_json(&app.live_key, &format!("/v1/events/{event}/deliveries"))
            .await;
        let id = list["data"].get(0)?["id"].as_str()?.to_string();
        let (_, d) = app
            .get_json(&app.live_key, &format!("/v1/deliveries/{id}"))
            .await;
        (!d["data"]["attempts"].as_array()?.is_empty()).then_some(d["data"].clone())
    })
    .await
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[suite_test]
async fn erasing_an_event_blanks_its_data_and_response_bodies_and_leaves_no_trace() {
    let app = spawn_app().await;
    // The receiver answers with the data it got, so the response bodies carry it too.
    let marker = format!("erase-me-{}", ulid::Ulid::new());
    let keeper = format!("keep-me-{}", ulid::Ulid::new());
    let echoing = Receiver::scripted({
        let (m, k) = (marker.clone(), keeper.clone());
        move |n| {
            (
                200,
                if n == 0 {
                    format!("got {m}")
                } else {
                    format!("got {k}")
                },
            )
        }
    })
    .await;
    app.create_endpoint(&echoing.url, &["post.created"]).await;
    // Larger than a page's local payload, so part of it lives in overflow pages, which an
    // update frees whole (with their bytes, unless SQLite's secure_delete zeroes them).
    let bio = format!("{}{marker}", "x".repeat(6000));
    let erased = publish(
        &app,
        &app.live_key,
        json!({"email": marker, "bio": bio}),
        None,
    )
    .await;
    let first = delivery_with_attempt(&app, &erased).await;
    let kept = publish(&app, &app.live_key, json!({"email": keeper}), None).await;
    delivery_with_attempt(&app, &kept).await;
    assert!(first["attempts"][0]["responseBody"]
        .as_str()
        .unwrap()
        .contains(&marker));
    assert!(
        contains(&app.raw_database_dump().await, &marker),
        "the check cannot fail"
    );

    let (status, body) = app
        .delete(&app.live_key, &format!("/v1/events/{erased}"))
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["data"]["id"], erased.as_str());
    assert_eq!(body["data"]["data"], Value::Null);
    assert_eq!(body["data"]["dataErased"], true);
    let (_, again) = app
        .get_json(&app.live_key, &format!("/v1/events/{erased}"))
        .await;
    assert_eq!(again["data"], body["data"]);
    let delivery = delivery_with_attempt(&app, &erased).await;
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"][0]["responseBody"], "");
    // Erasing twice is harmless and answers the same.
    let (status, twice) = app
        .delete(&app.live_key, &format!("/v1/events/{erased}"))
        .await;
    assert_eq!((status.as_u16(), &twice["data"]), (200, &body["data"]));

    // The other event is untouched.
    let (_, other) = app
        .get_json(&app.live_key, &format!("/v1/events/{kept}"))
        .await;
    assert_eq!(other["data"]["data"], json!({"email": keeper}));
    assert_eq!(other["data"]["dataErased"], false);
    let other_delivery = delivery_with_attempt(&app, &kept).await;
    assert!(other_delivery["attempts"][0]["responseBody"]
        .as_str()
        .unwrap()
        .contains(&keeper));

    let dump = app.raw_database_dump().await;
    assert!(
        !contains(&dump, &marker),
        "the erased data is still in the database bytes"
    );
    assert!(contains(&dump, &keeper));
    app.stop().await;
}

#[suite_test]
async fn erasing_cancels_pending_deliveries_and_refuses_their_retry() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let failing = Receiver::scripted(|_| (500, "no".into())).await;
    app.create_endpoint(&failing.url, &["post.created"]).await;
    let event = publish(&app, &app.live_key, json!({"a": 1}), None).await;
    let delivery = delivery_with_attempt(&app, &event).await;
    assert_eq!(delivery["status"], "pending");
    let (status, _) = app
        .delete(&app.live_key, &format!("/v1/events/{event}"))
        .await;
    assert_eq!(status.as_u16(), 200);
    let id = delivery["id"].as_str().unwrap();
    let (_, after) = app
        .get_json(&app.live_key, &format!("/v1/deliveries/{id}"))
        .await;
    assert_eq!(after["data"]["status"], "cancelled", "{after}");
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_error(status, &body, 410, "event_erased", None);
    assert_eq!(
        failing.count(),
        1,
        "an erased event's delivery was sent again"
    );
    app.stop().await;
}

#[suite_test]
async fn erasing_a_project_erases_its_events_only_and_only_the_callers() {
    let app = spawn_app().await;
    let (other_live, _) = app.new_workspace("other").await;
    let mut project_a = Vec::new();
    for n in 0..3 {
        project_a.push(publish(&app, &app.live_key, json!({"n": n}), Some("proj_a")).await);
    }
    let project_b = publish(&app, &app.live_key, json!({"b": 1}), Some("proj_b")).await;
    let no_project = publish(&app, &app.live_key, json!({"none": 1}), None).await;
    let test_mode = publish(&app, &app.test_key, json!({"test": 1}), Some("proj_a")).await;
    let other_ws = publish(&app, &other_live, json!({"other": 1}), Some("proj_a")).await;

    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events/erase",
            &json!({"projectId": "proj_a"}),
        )
        .await;
    assert_eq!(status.as_u16(), 202, "{body}");
    assert_eq!(body, json!({"data": {"erased": 3}}));
    for id in &project_a {
        let (_, e) = app
            .get_json(&app.live_key, &format!("/v1/events/{id}"))
            .await;
        assert_eq!(
            (&e["data"]["data"], &e["data"]["dataErased"]),
            (&Value::Null, &json!(true))
        );
    }
    for (key, id) in [
        (&app.live_key, &project_b),
        (&app.live_key, &no_project),
        (&app.test_key, &test_mode),
        (&other_live, &other_ws),
    ] {
        let (_, e) = app.get_json(key, &format!("/v1/events/{id}")).await;
        assert_eq!(e["data"]["dataErased"], false, "{id} was erased");
    }
    // Again: nothing left to erase.
    let (_, body) = app
        .post_json(
            &app.live_key,
            "/v1/events/erase",
            &json!({"projectId": "proj_a"}),
        )
        .await;
    assert_eq!(body, json!({"data": {"erased": 0}}));

    // Another tenant's event is not found, and stays as it was.
    for key in [&app.test_key, &other_live] {
        let (status, body) = app.delete(key, &format!("/v1/events/{project_b}")).await;
        assert_error(status, &body, 404, "not_found", Some("id"));
    }
    let (status, body) = app.delete(&app.live_key, "/v1/events/evt_nope").await;
    assert_error(status, &body, 404, "not_found", Some("id"));
    let (_, e) = app
        .get_json(&app.live_key, &format!("/v1/events/{project_b}"))
        .await;
    assert_eq!(e["data"]["data"], json!({"b": 1}));
    app.stop().await;
}

#[suite_test]
async fn bad_erase_requests_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let event = publish(&app, &app.live_key, json!({"x": 1}), Some("proj_a")).await;
    for bad in [
        json!({}),
        json!({"projectId": ""}),
        json!({"projectId": 5}),
        json!({"projectId": null}),
        json!({"projectId": ["proj_a"]}),
        json!({"projectId": "proj_a", "everything": true}),
    ] {
        let (status, body) = app.post_json(&app.live_key, "/v1/events/erase", &bad).await;
        assert_eq!(status.as_u16(), 400, "{bad} → {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{bad} → {body}");
        let param = if bad.get("everything").is_some() {
            "everything"
        } else {
            "projectId"
        };
        assert_eq!(body["error"]["param"], param, "{bad} → {body}");
    }
    let (_, e) = app
        .get_json(&app.live_key, &format!("/v1/events/{event}"))
        .await;
    assert_eq!(e["data"]["dataErased"], false);
    app.stop().await;
}
