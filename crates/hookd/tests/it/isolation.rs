//! Tenancy: another workspace's endpoint, or one of the other mode, is indistinguishable from a
//! missing one (404 on every route, absent from lists), and nothing it does changes ours.

use reqwest::Method;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

/// Every route a foreign key might try on `id`: each must be 404 `not_found`.
async fn assert_invisible(app: &TestApp, key: &str, id: &Value) {
    let path = endpoint_path(id);
    let (status, body) = app.get_json(key, &path).await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app
        .patch_json(key, &path, &json!({"name": "hijacked", "isActive": false}))
        .await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app
        .post_json(key, &format!("{path}/rotate-secret"), &json!({}))
        .await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = app.delete(key, &path).await;
    assert_error(status, &body, 404, "not_found", None);
    assert!(!listed_ids(app, key)
        .await
        .contains(&id.as_str().unwrap().to_string()));
    let (status, body) = app
        .get_json(key, &format!("{ENDPOINTS}?cursor={}", id.as_str().unwrap()))
        .await;
    assert_eq!(
        status, 200,
        "a foreign id as cursor reveals nothing: {body}"
    );
}

/// The 404 for a foreign id says exactly what the 404 for a never-existing id says.
async fn assert_same_as_missing(app: &TestApp, key: &str, id: &Value) {
    let missing = "whe_01jc8z6f3v2m9q4w7x5y8z0a1b";
    let (_, foreign) = app.get_json(key, &endpoint_path(id)).await;
    let (_, never) = app.get_json(key, &format!("{ENDPOINTS}/{missing}")).await;
    let foreign = foreign.to_string().replace(id.as_str().unwrap(), "<id>");
    let never = never.to_string().replace(missing, "<id>");
    assert_eq!(foreign, never);
}

/// The endpoint is exactly as it was created (minus the secret).
async fn assert_untouched(app: &TestApp, key: &str, created: &Value) {
    let (status, body) = app.get_json(key, &endpoint_path(&created["id"])).await;
    assert_eq!(status, 200, "{body}");
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(body["data"], expected);
}

#[suite_test]
async fn another_workspace_cannot_see_or_touch_our_endpoint() {
    let app = spawn_app().await;
    let ours = app.create_endpoint(URL, &["post.created"]).await;
    let (b_live, b_test) = app.new_workspace("b").await;

    assert_invisible(&app, &b_live, &ours["id"]).await;
    assert_invisible(&app, &b_test, &ours["id"]).await;
    assert_same_as_missing(&app, &b_live, &ours["id"]).await;
    assert_untouched(&app, &app.live_key, &ours).await;

    let theirs = app
        .create_endpoint_with(&b_live, URL, &["job.failed"])
        .await;
    assert_eq!(
        listed_ids(&app, &b_live).await,
        [theirs["id"].as_str().unwrap()]
    );
    assert_eq!(
        listed_ids(&app, &app.live_key).await,
        [ours["id"].as_str().unwrap()]
    );
    assert_invisible(&app, &app.live_key, &theirs["id"]).await;
    assert_untouched(&app, &b_live, &theirs).await;
}

#[suite_test]
async fn test_and_live_data_never_mix_in_either_direction() {
    let app = spawn_app().await;
    let live = app.create_endpoint(URL, &["post.created"]).await;
    let test = app
        .create_endpoint_with(&app.test_key, URL, &["post.created"])
        .await;

    assert_eq!(
        listed_ids(&app, &app.live_key).await,
        [live["id"].as_str().unwrap()]
    );
    assert_eq!(
        listed_ids(&app, &app.test_key).await,
        [test["id"].as_str().unwrap()]
    );
    assert_invisible(&app, &app.test_key, &live["id"]).await;
    assert_invisible(&app, &app.live_key, &test["id"]).await;
    assert_same_as_missing(&app, &app.test_key, &live["id"]).await;
    assert_untouched(&app, &app.live_key, &live).await;
    assert_untouched(&app, &app.test_key, &test).await;
}

#[suite_test]
async fn idempotency_keys_are_scoped_to_workspace_and_mode() {
    let app = spawn_app().await;
    let (b_live, _) = app.new_workspace("b").await;
    let send = |key: &str, name: &str| {
        app.client
            .post(app.url(ENDPOINTS))
            .bearer_auth(key)
            .header("Idempotency-Key", "shared-key-1")
            .json(&new_endpoint(name))
            .send()
    };
    // Same key, different bodies: a conflict within one scope, independent across scopes.
    let mut created = Vec::new();
    for (key, name) in [
        (&app.live_key, "live"),
        (&app.test_key, "test"),
        (&b_live, "b"),
    ] {
        let r = send(key, name).await.unwrap();
        assert!(r.headers().get("idempotent-replayed").is_none(), "{name}");
        let (status, body) = into_parts(r).await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(body["data"]["name"], name);
        created.push(body["data"]["id"].clone());
    }
    for (key, id) in [&app.live_key, &app.test_key, &b_live]
        .into_iter()
        .zip(&created)
    {
        assert_eq!(listed_ids(&app, key).await, [id.as_str().unwrap()]);
        let r = send(key, "other").await.unwrap();
        let (status, body) = into_parts(r).await;
        assert_error(status, &body, 409, "idempotency_key_conflict", None);
    }
    // The test key's replay is its own answer, not the live one.
    let r = send(&app.test_key, "test").await.unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let (_, body) = into_parts(r).await;
    assert_eq!(body["data"]["id"], created[1]);
}

#[suite_test]
async fn a_foreign_delete_with_an_idempotency_key_does_not_replay_into_our_scope() {
    let app = spawn_app().await;
    let ours = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&ours["id"]);
    let r = app
        .client
        .request(Method::DELETE, app.url(&path))
        .bearer_auth(&app.test_key)
        .header("Idempotency-Key", "del-1")
        .send()
        .await
        .unwrap();
    let (status, body) = into_parts(r).await;
    assert_error(status, &body, 404, "not_found", None);
    let r = app
        .req(Method::DELETE, &path)
        .header("Idempotency-Key", "del-1")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("idempotent-replayed").is_none());
    let (status, body) = into_parts(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["deleted"], true);
}

#[suite_test]
async fn keys_of_one_workspace_and_mode_share_idempotency_keys() {
    let app = spawn_app().await;
    let (_, second_live) = hookd::admin::create_key(
        &app.store,
        hookd::admin::DEFAULT_WORKSPACE,
        hookd::domain::tenant::Mode::Live,
    )
    .await
    .unwrap();
    let send = |key: &str| {
        app.client
            .post(app.url(ENDPOINTS))
            .bearer_auth(key)
            .header("Idempotency-Key", "team-retry")
            .json(&new_endpoint("once"))
            .send()
    };
    let (status, first) = into_parts(send(&app.live_key).await.unwrap()).await;
    assert_eq!(status, 201, "{first}");
    let r = send(&second_live).await.unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let (status, again) = into_parts(r).await;
    assert_eq!(status, 201);
    assert_eq!(again, first);
    assert_eq!(listed_ids(&app, &second_live).await.len(), 1);
}
