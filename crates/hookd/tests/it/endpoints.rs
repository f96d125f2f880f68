//! Every `/v1/webhook-endpoints` route and `/v1/event-types`, as a client uses them: create, read,
//! update (with its rules), delete and rotate the secret.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

fn field_names(data: &Value) -> Vec<String> {
    let mut keys: Vec<String> = data.as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    keys
}

const PUBLIC_FIELDS: [&str; 12] = [
    "createdAt",
    "description",
    "disabledReason",
    "events",
    "id",
    "isActive",
    "metadata",
    "name",
    "projectId",
    "secretLast4",
    "updatedAt",
    "url",
];

#[suite_test]
async fn created_endpoint_reads_back_without_its_secret() {
    let app = spawn_app().await;
    let created = app
        .create_endpoint(URL, &["post.created", "job.failed"])
        .await;
    assert_eq!(created["url"], URL);
    assert_eq!(created["projectId"], Value::Null);
    assert_eq!(created["createdAt"], created["updatedAt"]);

    let (status, body) = app
        .get_json(&app.live_key, &endpoint_path(&created["id"]))
        .await;
    assert_eq!(status, 200, "{body}");
    let got = &body["data"];
    assert_eq!(
        field_names(got),
        PUBLIC_FIELDS,
        "no secret outside create/rotate"
    );
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(got, &expected);

    let (_, list) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_eq!(list["data"], json!([expected]));
    assert_eq!(list["hasMore"], false);
    assert_eq!(list["nextCursor"], Value::Null);
}

#[suite_test]
async fn duplicate_events_are_removed_keeping_the_first_occurrence() {
    let app = spawn_app().await;
    let body = json!({"name": "dups", "url": URL,
        "events": ["job.failed", "post.created", "job.failed", "post.created"]});
    let (status, body) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["data"]["events"],
        json!(["job.failed", "post.created"])
    );
}

#[suite_test]
async fn names_of_exactly_128_characters_are_accepted() {
    let app = spawn_app().await;
    for name in ["n".repeat(128), "é".repeat(128), "x".to_string()] {
        let (status, body) = app
            .post_json(&app.live_key, ENDPOINTS, &new_endpoint(&name))
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["data"]["name"], name.as_str());
    }
}

#[suite_test]
async fn patch_changes_only_the_given_fields_and_sets_updated_at() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let id = created["id"].as_str().unwrap();
    backdate_endpoint(&app, id).await;
    let path = endpoint_path(&created["id"]);

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "Renamed"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["name"], "Renamed");
    assert_eq!(data["createdAt"], BACKDATED);
    assert_ne!(data["updatedAt"], BACKDATED, "PATCH must set updatedAt");
    for unchanged in [
        "url",
        "events",
        "isActive",
        "projectId",
        "secretLast4",
        "id",
    ] {
        assert_eq!(data[unchanged], created[unchanged], "{unchanged}");
    }

    let patch = json!({
        "url": "https://127.0.0.2/other",
        "events": ["job.completed", "job.completed", "note.created"],
        "projectId": "proj_1",
    });
    let (status, body) = app.patch_json(&app.live_key, &path, &patch).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["url"], "https://127.0.0.2/other");
    assert_eq!(data["events"], json!(["job.completed", "note.created"]));
    assert_eq!(data["projectId"], "proj_1");
    assert_eq!(data["name"], "Renamed");

    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(&read["data"], data, "the change is stored");
}

#[suite_test]
async fn project_id_null_clears_the_scope_and_absent_keeps_it() {
    let app = spawn_app().await;
    let body = json!({"name": "scoped", "url": URL, "events": ["post.created"], "projectId": "p1"});
    let (_, created) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    let path = endpoint_path(&created["data"]["id"]);

    let (_, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "still"}))
        .await;
    assert_eq!(body["data"]["projectId"], "p1");
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"projectId": null}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["projectId"], Value::Null);
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["projectId"], Value::Null);
}

#[suite_test]
async fn deactivating_sets_reason_manual_and_reactivating_clears_it() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    assert_eq!(created["isActive"], true);
    assert_eq!(created["disabledReason"], Value::Null);

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"isActive": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["isActive"], false);
    assert_eq!(body["data"]["disabledReason"], "manual");
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["disabledReason"], "manual");

    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"isActive": true}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["isActive"], true);
    assert_eq!(body["data"]["disabledReason"], Value::Null);
}

#[suite_test]
async fn an_empty_patch_changes_nothing() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let (_, before) = app.get_json(&app.live_key, &path).await;
    let (status, body) = app.patch_json(&app.live_key, &path, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, before);
}

#[suite_test]
async fn delete_answers_deleted_then_the_endpoint_is_gone() {
    let app = spawn_app().await;
    let keep = app.create_endpoint(URL, &["post.created"]).await;
    let doomed = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&doomed["id"]);

    let (status, body) = app.delete(&app.live_key, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"data": {"id": doomed["id"], "deleted": true}}));

    let (status, body) = app.get_json(&app.live_key, &path).await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app.delete(&app.live_key, &path).await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"name": "zombie"}))
        .await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app
        .post_json(&app.live_key, &format!("{path}/rotate-secret"), &json!({}))
        .await;
    assert_error(status, &body, 404, "not_found", None);
    assert_eq!(
        listed_ids(&app, &app.live_key).await,
        [keep["id"].as_str().unwrap()]
    );
}

#[suite_test]
async fn rotate_secret_returns_a_new_secret_and_changes_nothing_else() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let id = created["id"].as_str().unwrap();
    backdate_endpoint(&app, id).await;
    let path = endpoint_path(&created["id"]);

    let r = app
        .req(reqwest::Method::POST, &format!("{path}/rotate-secret"))
        .send()
        .await
        .unwrap();
    let (status, body) = into_parts(r).await;
    assert_eq!(status, 200, "{body}");
    let rotated = &body["data"];
    let mut fields = PUBLIC_FIELDS.to_vec();
    fields.push("secret");
    fields.sort_unstable();
    assert_eq!(field_names(rotated), fields);
    let secret = rotated["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert!(secret[6..]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_ne!(secret, created["secret"].as_str().unwrap());
    assert_eq!(rotated["secretLast4"], &secret[66..]);
    assert_ne!(rotated["updatedAt"], BACKDATED);
    for unchanged in [
        "id",
        "url",
        "name",
        "events",
        "isActive",
        "disabledReason",
        "projectId",
    ] {
        assert_eq!(rotated[unchanged], created[unchanged], "{unchanged}");
    }
    assert_eq!(rotated["createdAt"], BACKDATED);

    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["secretLast4"], &secret[66..]);
    assert!(read["data"].get("secret").is_none());

    let (status, again) = app
        .post_json(&app.live_key, &format!("{path}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(
        again["data"]["secret"], secret,
        "each rotation makes a new secret"
    );
}

#[suite_test]
async fn event_types_lists_the_reference_catalog() {
    let app = spawn_app().await;
    let (status, body) = app.get_json(&app.live_key, "/v1/event-types").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "note.created",
            "post.created",
            "post.updated",
            "post.scheduled",
            "post.unscheduled",
            "source.created",
            "job.completed",
            "job.failed",
            "knowledge.indexed",
        ]
    );
    for t in body["data"].as_array().unwrap() {
        assert!(
            t["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{t}"
        );
    }
    assert_eq!(body["hasMore"], false);
    assert_eq!(body["nextCursor"], Value::Null);

    let (status, body) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": "x", "url": URL, "events": ["invoice.paid"]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("events[0]"));
}

#[suite_test]
async fn a_configured_event_type_is_listed_and_subscribable() {
    let app = spawn_app_with(|c| {
        c.event_types.push(hookd::domain::catalog::EventType {
            name: "invoice.paid".into(),
            description: "An invoice was paid.".into(),
        });
    })
    .await;
    let (_, body) = app.get_json(&app.live_key, "/v1/event-types").await;
    let types = body["data"].as_array().unwrap();
    assert_eq!(types.len(), 10);
    assert_eq!(
        types.last().unwrap(),
        &json!({"name": "invoice.paid", "description": "An invoice was paid."})
    );
    let created = app
        .create_endpoint(URL, &["invoice.paid", "post.created"])
        .await;
    assert_eq!(created["events"], json!(["invoice.paid", "post.created"]));
}
