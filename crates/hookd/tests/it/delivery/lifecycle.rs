//! Endpoint state and its deliveries: parked while inactive, resumed on re-activation, cancelled
//! on delete, disabled at once by `410 Gone` and by the auto-disable rule.

use serde_json::{json, Value};

use super::*;

async fn set_active(app: &TestApp, endpoint_id: &str, active: bool) -> Value {
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
            &json!({"isActive": active}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

#[suite_test]
async fn a_deactivated_endpoint_gets_no_attempts_until_reactivated() {
    // Long enough between attempts that deactivating always lands before the retry is due.
    let app = spawn_app_with(|c| c.retry_schedule = vec![3, 3]).await;
    let receiver = Receiver::scripted(|n| {
        if n == 0 {
            (500, "not yet".into())
        } else {
            (200, "ok".into())
        }
    })
    .await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = wait_delivery(&app, &id, "attempted once", |d| d["attemptCount"] == 1).await;
    let disabled = set_active(&app, endpoint_id, false).await;
    assert_eq!(disabled["isActive"], false);
    assert_eq!(disabled["disabledReason"], "manual");

    // The retry falls due while the endpoint is inactive: it must not be attempted. This is an
    // observation window for something that must *not* happen, so it has to be waited out.
    let due =
        chrono::DateTime::parse_from_rfc3339(first["nextAttemptAt"].as_str().unwrap()).unwrap();
    let until = due.timestamp() + 2;
    while chrono::Utc::now().timestamp() < until {
        assert_eq!(receiver.count(), 1, "attempted while inactive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parked = delivery(&app, &id).await;
    assert_eq!(parked["status"], "pending", "{parked:#}");
    assert_eq!(parked["attemptCount"], 1);
    assert_eq!(receiver.count(), 1);

    let enabled = set_active(&app, endpoint_id, true).await;
    assert_eq!(enabled["disabledReason"], Value::Null);
    receiver.wait_for(2, WAIT).await;
    let done = wait_status(&app, &id, "succeeded").await;
    assert_eq!(done["attemptCount"], 2);
}

#[suite_test]
async fn deleting_an_endpoint_cancels_its_pending_deliveries() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![3, 3]).await;
    let receiver = Receiver::scripted(|_| (500, "down".into())).await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_delivery(&app, &id, "attempted once", |d| d["attemptCount"] == 1).await;
    let (status, body) = app
        .delete(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{}", endpoint["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted"], true);
    let cancelled = delivery(&app, &id).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["nextAttemptAt"], Value::Null);
    assert_eq!(cancelled["attempts"].as_array().unwrap().len(), 1);
}

#[suite_test]
async fn gone_disables_the_endpoint_at_once() {
    let app = spawn_app().await;
    let receiver = Receiver::scripted(|_| (410, "gone for good".into())).await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    publish_type(&app, "post.created").await;
    receiver.wait_for(1, WAIT).await;
    let gone = wait_endpoint(&app, endpoint_id, "disabled", |e| e["isActive"] == false).await;
    assert_eq!(gone["disabledReason"], "gone");

    let later = publish_type(&app, "post.created").await;
    assert_eq!(
        later["deliveryCount"], 0,
        "a disabled endpoint gets no new deliveries"
    );
    let (_, list) = app
        .get_json(&app.live_key, "/v1/webhook-endpoints?isActive=false")
        .await;
    assert_eq!(list["data"][0]["id"], endpoint_id, "{list}");
    assert_eq!(receiver.count(), 1);
}

#[suite_test]
async fn enough_exhausted_deliveries_disable_a_failing_endpoint() {
    let app = spawn_app_with(|c| {
        c.auto_disable_after_secs = 0;
        c.auto_disable_min_failures = 2;
        c.retry_schedule = vec![1];
    })
    .await;
    let receiver = Receiver::scripted(|_| (500, "always".into())).await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();

    let first = publish_type(&app, "post.created").await;
    let first = only_delivery(&app, first["id"].as_str().unwrap()).await;
    wait_status(&app, first["id"].as_str().unwrap(), "failed").await;
    let (_, still) = app
        .get_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
        )
        .await;
    assert_eq!(
        still["data"]["isActive"], true,
        "one exhausted delivery is not enough: {still}"
    );

    let second = publish_type(&app, "post.created").await;
    let second = only_delivery(&app, second["id"].as_str().unwrap()).await;
    wait_status(&app, second["id"].as_str().unwrap(), "failed").await;
    let disabled = wait_endpoint(&app, endpoint_id, "disabled", |e| e["isActive"] == false).await;
    assert_eq!(disabled["disabledReason"], "failing");
    assert_eq!(receiver.count(), 4);
}

/// The delivery engine keeps each endpoint's URL and secrets in memory (`delivery/targets.rs`);
/// a change through the API must reach the very next delivery, not one a second later.
#[suite_test]
async fn the_next_delivery_goes_to_the_url_just_set() {
    let app = spawn_app().await;
    let (before, after) = (Receiver::start().await, Receiver::start().await);
    let endpoint = app.create_endpoint(&before.url, &["post.created"]).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    publish_type(&app, "post.created").await;
    before.wait_for(1, WAIT).await;
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}"),
            &json!({"url": after.url}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    publish_type(&app, "post.created").await;
    after.wait_for(1, WAIT).await;
    assert_eq!(before.count(), 1, "a delivery went to the old URL");
}
