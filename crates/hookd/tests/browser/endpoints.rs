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
    b.check_on_phone("endpoint-log").await;
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
    b.check_on_phone("delivery-retried").await;
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

pub async fn edit_disable_rotate_and_delete(b: &mut Browser) {
    let key = b.app.live_key.clone();
    let (status, created) = b
        .app
        .post_json(
            &key,
            "/v1/webhook-endpoints",
            &json!({"name": "Billing", "url": "https://127.0.0.1:9/hook", "events": ["job.completed"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();
    b.sign_in(&key).await;
    b.goto(&format!("/endpoints/{id}")).await;
    b.click("a[href$='/edit']").await;
    b.wait_for_text("Edit Billing").await;
    b.check("endpoint-edit").await;

    // The API's refusal is shown beside the field it names.
    b.fill("#url", "ftp://127.0.0.1/files").await;
    b.click("form[action$='/edit'] button[type=submit]").await;
    let message = b.text("#url-error").await;
    assert!(message.contains("https"), "{message}");
    b.check("endpoint-edit-error").await;
    b.fill("#url", "https://127.0.0.1:9/other").await;
    b.fill("#name", "Billing v2").await;
    b.click("form[action$='/edit'] button[type=submit]").await;
    let text = b.wait_for_text("Endpoint saved.").await;
    assert!(
        text.contains("Billing v2") && text.contains("/other"),
        "{text}"
    );

    b.click("form[action$='/active'] button").await;
    let text = b.wait_for_text("Endpoint disabled").await;
    assert!(text.contains("disabled by hand"), "{text}");
    b.check("endpoint-disabled").await;
    b.click("form[action$='/active'] button").await;
    b.wait_for_text("Endpoint enabled").await;

    let before = created["data"]["secretLast4"].as_str().unwrap().to_string();
    b.click("form[action$='/rotate-secret'] button").await;
    let secret = b
        .find("#new-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        secret.starts_with("whsec_") && !secret.ends_with(&before),
        "{secret}"
    );
    b.check("secret-rotated").await;

    b.click("a[href$='/delete']").await;
    b.wait_for_text("cannot be undone").await;
    b.check("endpoint-delete-confirm").await;
    b.click("button.danger").await;
    b.wait_for_text("Endpoint deleted").await;
    let (status, _) = b
        .app
        .get_json(&key, &format!("/v1/webhook-endpoints/{id}"))
        .await;
    assert_eq!(status, 404);
    b.check("endpoint-deleted").await;
}

/// A URL with a password is shown masked on the edit form; saving it after editing only the name
/// (and the delivery controls) keeps the stored password: the receiver still gets it as basic
/// auth. The filter and rate limit set in the form are shown on the endpoint's page.
pub async fn editing_the_name_keeps_the_url_password_and_sets_delivery_controls(b: &mut Browser) {
    use base64::Engine;
    const PASSWORD: &str = "pw-Do-Not-Show-7731";
    let receiver = Receiver::scripted(|_| (200, "ok".to_string())).await;
    let url = receiver
        .url
        .replacen("http://", &format!("http://ada:{PASSWORD}@"), 1);
    let key = b.app.live_key.clone();
    let (status, created) = b
        .app
        .post_json(
            &key,
            "/v1/webhook-endpoints",
            &json!({"name": "Ledger", "url": url, "events": ["post.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_string();

    b.sign_in(&key).await;
    b.goto(&format!("/endpoints/{id}/edit")).await;
    b.wait_for_text("Edit Ledger").await;
    let shown = b.find("#url").await.prop("value").await.unwrap().unwrap();
    assert!(
        shown.contains("ada:****@") && !shown.contains(PASSWORD),
        "{shown}"
    );
    b.fill("#name", "Ledger v2").await;
    b.fill("#filter", "data.amount > 100").await;
    b.fill("#rateLimitPerSec", "50").await;
    // The OAuth2 fields appear only once their box is ticked.
    assert!(!b
        .find("#oauth_token_url")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.click("#oauth_enabled").await;
    assert!(b
        .find("#oauth_token_url")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.check("endpoint-edit-oauth2").await;
    b.click("#oauth_enabled").await;
    b.check("endpoint-edit-controls").await;
    b.click("form[action$='/edit'] button[type=submit]").await;
    let text = b.wait_for_text("Endpoint saved.").await;
    assert!(text.contains("Ledger v2"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert_eq!(
        b.text("[data-test=endpoint-filter]").await,
        "data.amount > 100"
    );
    assert_eq!(
        b.text("[data-test=endpoint-rate-limit]").await,
        "50 attempts per second"
    );
    b.check("endpoint-detail-controls").await;

    // The password survived the save: a matching event reaches the receiver with it.
    let (status, _) = b
        .app
        .post_json(
            &key,
            "/v1/events",
            &json!({"type": "post.created", "data": {"amount": 250}}),
        )
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada:{PASSWORD}"))
    );
    assert_eq!(got[0].headers["authorization"], expected.as_str());
}

/// A delivery held back by its ordering key says so, with a link to the delivery it waits for;
/// the event shows its key.
pub async fn a_held_back_delivery_links_to_the_one_it_waits_for(b: &mut Browser) {
    // The head's retry is a minute away, so the second stays held for the whole test.
    let slow_retry = super::harness::spawn_app_with(|c| c.retry_schedule = vec![60]).await;
    let previous = std::mem::replace(&mut b.app, slow_retry);
    previous.stop().await;
    let receiver = Receiver::scripted(|_| (500, "down".to_string())).await;
    let key = b.app.live_key.clone();
    let created = b
        .app
        .create_endpoint(&receiver.url, &["post.created"])
        .await;
    let mut events = Vec::new();
    for seq in 0..2 {
        let (status, body) = b
            .app
            .post_json(
                &key,
                "/v1/events",
                &json!({"type": "post.created", "orderingKey": "order-42", "data": {"seq": seq}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        events.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    receiver.wait_for(1, Duration::from_secs(10)).await;
    b.sign_in(&key).await;
    b.goto(&format!("/events/{}", events[1])).await;
    let text = b.wait_for_text("pending behind").await;
    assert!(text.contains("order-42"), "{text}");
    b.check("event-held-back").await;
    b.click("[data-test=held-behind] a").await;
    let text = b.wait_for_text("Ordering key").await;
    assert!(
        !text.contains("pending behind"),
        "the head is not held: {text}"
    );
    assert!(text.contains(&events[0]), "{text}");
    b.check("delivery-head").await;
    let _ = created;
}
