//! `POST /v1/deliveries/{id}/retry` where it races the engine: a retry of a delivery whose
//! endpoint was deleted.

use serde_json::json;

use super::*;

/// One object, one answer: the delivery of a deleted endpoint is still shown (cancelled), and
/// asking to retry it is a conflict that says why, not a 404.
#[tokio::test]
async fn retrying_a_delivery_of_a_deleted_endpoint_is_a_conflict() {
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

    let shown = delivery(&app, &id).await;
    assert_eq!(shown["status"], "cancelled", "{shown:#}");
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_error(status, &body, 409, "delivery_not_retryable", None);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("deleted"), "{body}");
    assert_eq!(receiver.count(), 1, "no attempt after the deletion");
    let after = delivery(&app, &id).await;
    assert_eq!(after["status"], "cancelled", "{after:#}");
    assert_eq!(after["attemptCount"], 1);

    // Another workspace's key still gets a 404: the conflict says nothing across tenants.
    let (other_live, _) = app.new_workspace("other").await;
    let (status, body) = app
        .post_json(
            &other_live,
            &format!("/v1/deliveries/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_error(status, &body, 404, "not_found", None);
}
