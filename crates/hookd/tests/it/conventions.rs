//! The reference example, end to end: the documented curl answers 201 with exactly the
//! documented fields, and idempotency and versioning behave as the contract says.

use serde_json::json;

use crate::harness::*;

fn reference_body() -> serde_json::Value {
    json!({
        "name": "Production CRM",
        "url": "https://hooks.example.com/scripe",
        "events": ["post.created", "job.completed"],
        "projectId": "proj_a1b2c3d4e5f6g7h8"
    })
}

#[suite_test]
async fn reference_example_answers_201_with_exactly_the_documented_fields() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(&app.live_key, "/v1/webhook-endpoints", &reference_body())
        .await;
    assert_eq!(status, 201, "{body}");
    let data = body["data"].as_object().unwrap();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "createdAt",
            "description",
            "disabledReason",
            "events",
            "id",
            "isActive",
            "metadata",
            "name",
            "projectId",
            "secret",
            "secretLast4",
            "updatedAt",
            "url"
        ]
    );
    let secret = data["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert!(secret[6..]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(data["secretLast4"], &secret[66..]);
    assert!(data["id"].as_str().unwrap().starts_with("whe_"));
    assert_eq!(data["events"], json!(["post.created", "job.completed"]));
    assert_eq!(data["isActive"], true);
    assert_eq!(data["disabledReason"], serde_json::Value::Null);
    assert_eq!(data["projectId"], "proj_a1b2c3d4e5f6g7h8");
    let created = data["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), 20, "second precision, Z suffix: {created}");
    assert!(created.ends_with('Z'));
}

#[suite_test]
async fn idempotency_replays_conflicts_and_version_is_checked() {
    let app = spawn_app().await;
    let send = |key: &str, body: serde_json::Value| {
        app.req(reqwest::Method::POST, "/v1/webhook-endpoints")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("create-crm-1", reference_body()).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let again = send("create-crm-1", reference_body()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);
    let mut other = reference_body();
    other["name"] = json!("Other");
    let (status, body) = into_parts(send("create-crm-1", other).await.unwrap()).await;
    assert_error(status, &body, 409, "idempotency_key_conflict", None);
    let (_, list) = app.get_json(&app.live_key, "/v1/webhook-endpoints").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "the replay must not create a second endpoint"
    );

    let r = app
        .req(reqwest::Method::GET, "/v1/webhook-endpoints")
        .header("Scripe-Api-Version", "1999-01-01")
        .send()
        .await
        .unwrap();
    let (status, body) = into_parts(r).await;
    assert_error(
        status,
        &body,
        400,
        "version_unsupported",
        Some("Scripe-Api-Version"),
    );
}
