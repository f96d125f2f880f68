//! Retries: the schedule, exhaustion, `Retry-After`, every attempt recorded with its answer.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

use super::*;

#[suite_test]
async fn two_failures_then_success_is_three_recorded_attempts() {
    let app = spawn_app().await; // retry schedule 1,1,1
    let receiver = Receiver::scripted(|n| match n {
        0 | 1 => (500, format!("failure {n}")),
        _ => (200, "finally".to_string()),
    })
    .await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let secret = endpoint["secret"].as_str().unwrap();
    let event = publish_type(&app, "post.created").await;
    let event_id = event["id"].as_str().unwrap();
    let id = only_delivery(&app, event_id).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let done = wait_status(&app, &id, "succeeded").await;
    assert_eq!(done["attemptCount"], 3, "{done:#}");
    assert_eq!(done["lastStatusCode"], 200);
    assert_eq!(done["nextAttemptAt"], Value::Null);
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{done:#}");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let bodies: Vec<&Value> = attempts.iter().map(|a| &a["responseBody"]).collect();
    assert_eq!(bodies, ["failure 0", "failure 1", "finally"]);
    for attempt in attempts {
        assert!(attempt["id"].as_str().unwrap().starts_with("att_"));
        assert!(attempt["durationMs"].as_i64().unwrap() >= 0);
        assert!(attempt["startedAt"].is_string());
    }
    assert_eq!(attempts[2]["error"], Value::Null);

    // The same message id on every attempt, each freshly signed.
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(header(r, "webhook-id"), event_id);
        verify(secret, r).expect("every retry verifies");
        assert_eq!(r.body, got[0].body, "the same body on every attempt");
    }
}

#[suite_test]
async fn an_exhausted_schedule_ends_failed() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![1, 1]).await;
    let receiver = Receiver::scripted(|_| (500, "down".to_string())).await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let event = publish_type(&app, "post.created").await;
    let id = only_delivery(&app, event["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let failed = wait_status(&app, &id, "failed").await;
    assert_eq!(
        failed["attemptCount"], 3,
        "one attempt plus one per schedule entry"
    );
    assert_eq!(failed["lastStatusCode"], 500);
    assert_eq!(failed["nextAttemptAt"], Value::Null);
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(receiver.count(), 3);
}

/// A receiver that always answers `status` with `Retry-After: 30`.
async fn asking_to_wait(status: u16) -> Receiver {
    Receiver::responding(move |_| {
        Box::pin(async move {
            let status = StatusCode::from_u16(status).unwrap();
            (status, [("retry-after", "30")], "slow down").into_response()
        })
    })
    .await
}

#[suite_test]
async fn retry_after_on_429_and_503_postpones_the_next_attempt() {
    let app = spawn_app().await; // the schedule alone would retry after ~1 s
    for status in [429, 503] {
        let receiver = asking_to_wait(status).await;
        app.create_endpoint(&receiver.url, &["job.failed"]).await;
        let event = publish_type(&app, "job.failed").await;
        let list = deliveries_of_event(&app, &app.live_key, event["id"].as_str().unwrap()).await;
        let id = list[0]["id"].as_str().unwrap().to_string();
        let waiting = wait_delivery(&app, &id, "attempted once", |d| d["attemptCount"] == 1).await;
        assert_eq!(waiting["status"], "pending");
        assert_eq!(waiting["lastStatusCode"], status);
        let attempt = &waiting["attempts"][0];
        assert_eq!(attempt["responseBody"], "slow down");
        let wait = seconds_between(&attempt["startedAt"], &waiting["nextAttemptAt"]);
        // Second-precision timestamps: 30 s after the attempt, give or take the rounding.
        assert!(
            (29..=40).contains(&wait),
            "{status}: next attempt {wait} s later: {waiting:#}"
        );
        assert_eq!(receiver.count(), 1);
        // Make the next endpoint's event the only one in flight for it.
        let (s, _) = app
            .delete(
                &app.live_key,
                &format!(
                    "/v1/webhook-endpoints/{}",
                    waiting["endpointId"].as_str().unwrap()
                ),
            )
            .await;
        assert_eq!(s, 200);
    }
}
