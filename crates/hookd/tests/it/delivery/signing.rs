//! The request a receiver gets, and its Standard Webhooks signature checked by the official Rust
//! library, including during and after a secret rotation.

use serde_json::{json, Value};

use super::*;

#[suite_test]
async fn a_published_event_arrives_signed_in_the_documented_shape() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let secret = endpoint["secret"].as_str().unwrap();
    let data = json!({"postId": "post_123", "title": "Grüße, \"quoted\" 🚀", "tags": ["a", "b"], "nested": {"n": 1.5, "none": null}});
    let event = publish(
        &app,
        &app.live_key,
        &json!({"type": "post.created", "projectId": "proj_1", "data": data}),
    )
    .await;
    let mut keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdAt",
            "data",
            "dataErased",
            "deliveryCount",
            "id",
            "orderingKey",
            "projectId",
            "type"
        ]
    );
    assert_eq!(event["deliveryCount"], 1);
    let event_id = event["id"].as_str().unwrap();
    assert!(event_id.starts_with("evt_"), "{event_id}");

    let got = receiver.wait_for(1, WAIT).await;
    let received = &got[0];
    assert_eq!(received.method, "POST");
    assert_eq!(received.path, "/hook");
    assert_eq!(header(received, "content-type"), "application/json");
    let agent = header(received, "user-agent");
    assert!(agent.starts_with("hookd/"), "{agent}");
    assert_eq!(header(received, "webhook-id"), event_id);
    let timestamp: i64 = header(received, "webhook-timestamp").parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - timestamp).abs() <= 30,
        "timestamp {timestamp}, now {now}"
    );
    assert!(header(received, "webhook-signature").starts_with("v1,"));
    verify(secret, received).expect("the official library accepts the signature");

    let body = body_json(received);
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["createdAt", "data", "id", "projectId", "type"]);
    assert_eq!(body["id"], event_id);
    assert_eq!(body["type"], "post.created");
    assert_eq!(body["createdAt"], event["createdAt"]);
    assert_eq!(body["projectId"], "proj_1");
    assert_eq!(body["data"], data);

    // Signed bytes are the bytes sent: a body changed by one byte no longer verifies.
    let mut tampered = received.clone();
    tampered.body = received.body.slice(..received.body.len() - 1);
    assert!(verify(secret, &tampered).is_err());

    let delivery = wait_status(
        &app,
        only_delivery(&app, event_id).await["id"].as_str().unwrap(),
        "succeeded",
    )
    .await;
    assert_eq!(delivery["attemptCount"], 1);
    assert_eq!(delivery["lastStatusCode"], 200);
    assert_eq!(delivery["endpointId"], endpoint["id"]);
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
}

/// Rotates the endpoint's secret and returns the new one.
async fn rotate(app: &TestApp, endpoint_id: &str) -> String {
    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["secret"].as_str().unwrap().to_string()
}

#[suite_test]
async fn during_the_rotation_grace_both_secrets_verify() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["job.completed"]).await;
    let old = endpoint["secret"].as_str().unwrap();
    let new = rotate(&app, endpoint["id"].as_str().unwrap()).await;
    assert_ne!(old, new);

    publish_type(&app, "job.completed").await;
    let got = receiver.wait_for(1, WAIT).await;
    let signatures: Vec<&str> = header(&got[0], "webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(
        signatures.iter().all(|s| s.starts_with("v1,")),
        "{signatures:?}"
    );
    verify(old, &got[0]).expect("the previous secret still verifies");
    verify(&new, &got[0]).expect("the new secret verifies");
}

#[suite_test]
async fn without_a_grace_period_only_the_new_secret_verifies() {
    let app = spawn_app_with(|c| c.rotation_grace_secs = 0).await;
    let receiver = Receiver::start().await;
    let endpoint = app.create_endpoint(&receiver.url, &["job.completed"]).await;
    let old = endpoint["secret"].as_str().unwrap();
    let new = rotate(&app, endpoint["id"].as_str().unwrap()).await;

    publish_type(&app, "job.completed").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(header(&got[0], "webhook-signature").split(' ').count(), 1);
    verify(&new, &got[0]).expect("the new secret verifies");
    assert!(
        matches!(verify(old, &got[0]), Err(WebhookError::InvalidSignature)),
        "the retired secret must no longer verify"
    );
}
