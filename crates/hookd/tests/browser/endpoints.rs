//! Endpoints, deliveries and events in the browser: create an endpoint (secret shown once), send
//! a test event and see its attempt, publish an event through the API, see the delivery and its
//! attempt appear, retry it, and find the event.

use std::time::Duration;

use serde_json::json;

use super::harness::{eventually, Receiver};
use super::support::Browser;

pub async fn create_test_publish_and_retry(b: &mut Browser) {
    let receiver = Receiver::scripted(|n| (200, format!("pong {n}"))).await;
    let key = b.app.live_key.clone();
    b.sign_in(&key).await;
    b.goto("/endpoints").await;
    b.wait_for_text("No endpoints yet").await;
    b.check("endpoints-empty").await;
    b.check_on_phone("endpoints-empty").await;

    b.fill("#name", "Orders").await;
    b.fill("#url", &receiver.url).await;
    b.click("input[name=events][value='post.created']").await;
    b.click("form[action='/endpoints'] button[type=submit]")
        .await;
    let secret = b
        .find("#new-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let text = b.wait_for_text("shown only this once").await;
    assert!(text.contains("Active"), "{text}");
    b.check("endpoint-created").await;

    // The endpoint's page: send a test event; its delivery opens with the attempt.
    b.click("a.name-link").await;
    b.wait_for_text("Delivery log").await;
    b.check("endpoint-detail").await;
    b.click("form[action$='/test'] button[type=submit]").await;
    let text = b.wait_for_text("Test event sent").await;
    assert!(
        text.contains("pong 0") && text.contains("HTTP 200"),
        "{text}"
    );
    b.check("test-delivery").await;
    assert_eq!(receiver.count(), 1);

    // An event published through the API shows up in the endpoint's log.
    let (status, body) = b
        .app
        .post_json(
            &key,
            "/v1/events",
            &json!({"type": "post.created", "data": {"postId": "p_1"}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    receiver.wait_for(2, Duration::from_secs(20)).await;
    let endpoint_page = b.path().await;
    let endpoint_page = endpoint_page.split('?').next().unwrap().to_string();
    let endpoint_id = b
        .find("a[href^='/endpoints/']")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    b.goto(&endpoint_id).await;
    eventually(Duration::from_secs(20), || async {
        b.goto(&endpoint_id).await;
        let text = b.text("main").await;
        (text.matches("succeeded").count() >= 2).then_some(())
    })
    .await;
    b.check("endpoint-log").await;
    // The newest delivery is the published one: open it and retry it.
    b.click("tbody tr:first-child a[href^='/deliveries/']")
        .await;
    let text = b.wait_for_text("pong 1").await;
    assert!(
        text.contains("\"postId\": \"p_1\""),
        "pretty payload: {text}"
    );
    b.click("form[action$='/retry'] button").await;
    b.wait_for_text("Retry queued").await;
    receiver.wait_for(3, Duration::from_secs(20)).await;
    let delivery_page = b.path().await;
    let delivery_page = delivery_page.split('?').next().unwrap().to_string();
    eventually(Duration::from_secs(20), || async {
        b.goto(&delivery_page).await;
        let text = b.text("main").await;
        (text.contains("Attempt 2") && text.contains("pong 2")).then_some(())
    })
    .await;
    b.check("delivery-retried").await;
    assert!(!endpoint_page.is_empty());

    // Events: the published event is listed (the test sample is not), and opens with its
    // delivery.
    b.goto("/events").await;
    b.wait_for_text("post.created").await;
    b.check("events").await;
    b.click("tbody a[href^='/events/']").await;
    let text = b.wait_for_text("Deliveries").await;
    assert!(text.contains("p_1"), "{text}");
    b.check("event-detail").await;
}
