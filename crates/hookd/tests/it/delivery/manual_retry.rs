//! `POST /v1/deliveries/{id}/retry` where it races the engine: a retry asked for while the
//! delivery's attempt is in flight, and a retry of a delivery whose endpoint was deleted.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use tokio::sync::Notify;

use super::*;

/// The in-flight attempt is the last one the schedule allows and fails: the retry asked for
/// meanwhile must still be made, after it, and both attempts must be on record.
#[suite_test]
async fn a_retry_asked_for_during_the_last_attempt_is_made_after_it() {
    // No retries: the first failure is final, so only the manual retry can bring a second try.
    let app = spawn_app_with(|c| c.retry_schedule = Vec::new()).await;
    let release = Arc::new(Notify::new());
    let held = Arc::clone(&release);
    let receiver = Receiver::responding(move |n| {
        let held = Arc::clone(&held);
        Box::pin(async move {
            if n == 0 {
                // `notify_one` stores a permit: a release sent before this wait is not lost.
                held.notified().await;
                (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
            } else {
                (StatusCode::OK, "back").into_response()
            }
        })
    })
    .await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    receiver.wait_for(1, WAIT).await; // the first attempt is in flight, held

    let (status, body) = app
        .post_json(
            &app.live_key,
            &format!("/v1/deliveries/{id}/retry"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    release.notify_one();

    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[0].body, got[1].body, "the retry sends the same message");
    let done = wait_status(&app, &id, "succeeded").await;
    assert_eq!(done["attemptCount"], 2, "{done:#}");
    let attempts = done["attempts"].as_array().unwrap();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(statuses, [500, 200], "{done:#}");
}

/// One object, one answer: the delivery of a deleted endpoint is still shown (cancelled), and
/// asking to retry it is a conflict that says why, not a 404.
#[suite_test]
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

/// However often a delivery is retried by hand, its answer lists its latest
/// `ATTEMPTS_SHOWN` (100) attempts, oldest first, and `attemptCount` counts them all: the answer
/// stays bounded in size.
#[suite_test]
async fn a_delivery_answer_lists_its_latest_hundred_attempts() {
    let app = spawn_app_with(|c| c.retry_schedule = Vec::new()).await;
    let receiver = Receiver::responding(|n| {
        Box::pin(async move {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("attempt {n}")).into_response()
        })
    })
    .await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&app, &id, "failed").await;
    let total = 103;
    for made in 1..total {
        let (status, body) = app
            .post_json(
                &app.live_key,
                &format!("/v1/deliveries/{id}/retry"),
                &json!({}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        receiver.wait_for(made + 1, WAIT).await;
        wait_delivery(&app, &id, "the retry's failure on record", |d| {
            d["attemptCount"] == made + 1 && d["status"] == "failed"
        })
        .await;
    }
    let (status, body) = app
        .get_json(&app.live_key, &format!("/v1/deliveries/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["attemptCount"], total);
    let attempts = body["data"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 100);
    assert_eq!(
        attempts[0]["responseBody"],
        format!("attempt {}", total - 100)
    );
    assert_eq!(
        attempts[99]["responseBody"],
        format!("attempt {}", total - 1)
    );
}
