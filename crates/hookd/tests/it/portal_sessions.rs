//! `POST /v1/portal-sessions`: one-time sign-in links to the customer portal, and their
//! redemption in the store (once, atomically, never after expiry) on both backends. The
//! browser side of redemption is the dashboard's and is tested there.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;
use hookd::domain::portal::hash_token;
use hookd::domain::tenant::Mode;
use hookd::domain::time::Timestamp;

const PORTAL: &str = "/v1/portal-sessions";

/// Creates a link with `body` and the live key, asserting 201; the answer's `data`.
async fn create(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.post_json(&app.live_key, PORTAL, &body).await;
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}

/// The token at the end of a link's URL.
fn token(link: &Value) -> String {
    let url = link["url"].as_str().expect("url");
    url.rsplit('/').next().unwrap().to_string()
}

fn seconds_until(link: &Value) -> i64 {
    let at = Timestamp::parse_rfc3339(link["expiresAt"].as_str().unwrap()).unwrap();
    (at.as_millis() - Timestamp::now().as_millis()) / 1000
}

#[suite_test]
async fn a_link_is_created_with_its_expiry() {
    let app = spawn_app().await;
    let link = create(&app, json!({})).await;
    let url = link["url"].as_str().unwrap();
    let host = app.base_url.trim_start_matches("http://");
    assert!(
        url.starts_with(&format!("http://{host}/portal/hpt_")),
        "built on the Host the request was sent to: {url}"
    );
    let remaining = seconds_until(&link);
    assert!(
        (3590..=3600).contains(&remaining),
        "default 1 h: {remaining}"
    );

    let short = create(&app, json!({"expiresInSecs": 60})).await;
    assert!((50..=60).contains(&seconds_until(&short)));
    let long = create(&app, json!({"expiresInSecs": 604_800, "readOnly": true})).await;
    assert!(seconds_until(&long) > 604_700);
    assert_ne!(token(&short), token(&long), "every link is new");

    // Tokens are stored hashed: the database never holds one.
    let dump = app.raw_database_dump().await;
    for link in [&link, &short, &long] {
        let t = token(link);
        assert!(
            !dump.windows(t.len()).any(|w| w == t.as_bytes()),
            "token {t} found in the database"
        );
    }
}

#[suite_test]
async fn links_use_the_configured_public_url() {
    let app =
        spawn_app_with(|c| c.public_url = Some("https://hooks.example.com/hookd/".into())).await;
    let link = create(&app, json!({"expiresInSecs": 120})).await;
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://hooks.example.com/hookd/portal/hpt_"),
        "{url}"
    );
}

#[suite_test]
async fn bad_portal_requests_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (json!({"expiresInSecs": 59}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": 604_801}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": 0}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": -1}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": 1.5}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": "3600"}), 400, "expiresInSecs"),
        (json!({"expiresInSecs": 1e300}), 400, "expiresInSecs"),
        (json!({"readOnly": "yes"}), 400, "readOnly"),
        (json!({"projectId": ""}), 400, "projectId"),
        (json!({"projectId": "p".repeat(129)}), 400, "projectId"),
        (json!({"projectId": 5}), 400, "projectId"),
        (json!({"projectId": "proj_nobody"}), 404, "projectId"),
    ];
    for (body, status_code, param) in cases {
        let (status, answer) = app.post_json(&app.live_key, PORTAL, &body).await;
        let code = if status_code == 404 {
            "not_found"
        } else {
            "invalid_request"
        };
        assert_error(status, &answer, status_code, code, Some(param));
    }
    let (status, answer) = app
        .post_json(&app.live_key, PORTAL, &json!({"scope": "all"}))
        .await;
    assert_error(status, &answer, 400, "invalid_request", None);
    let (status, answer) = send_raw(
        &app,
        reqwest::Method::POST,
        PORTAL,
        Some("application/json"),
        "{not json",
    )
    .await;
    assert_error(status, &answer, 400, "invalid_request", None);
    let (status, answer) = send_raw(&app, reqwest::Method::POST, PORTAL, None, "{}").await;
    assert_error(status, &answer, 415, "unsupported_media_type", None);
    let r = app
        .client
        .post(app.url(PORTAL))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[suite_test]
async fn a_project_must_be_known_to_the_workspace_and_mode() {
    let app = spawn_app().await;
    // Known through an endpoint scoped to it.
    let (status, body) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": "p", "url": URL, "events": ["post.created"], "projectId": "proj_ep"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    create(&app, json!({"projectId": "proj_ep"})).await;
    // Known through an event published with it.
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "projectId": "proj_ev", "data": {}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    create(&app, json!({"projectId": "proj_ev", "readOnly": true})).await;

    // Not in the other mode, nor in another workspace.
    let (status, body) = app
        .post_json(&app.test_key, PORTAL, &json!({"projectId": "proj_ep"}))
        .await;
    assert_error(status, &body, 404, "not_found", Some("projectId"));
    let (other_live, _) = app.new_workspace("other").await;
    let (status, body) = app
        .post_json(&other_live, PORTAL, &json!({"projectId": "proj_ev"}))
        .await;
    assert_error(status, &body, 404, "not_found", Some("projectId"));

    // A project known only through a deleted endpoint is gone with it.
    let (_, scoped) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": "q", "url": URL, "events": ["post.created"], "projectId": "proj_gone"}),
        )
        .await;
    let (status, _) = app
        .delete(&app.live_key, &endpoint_path(&scoped["data"]["id"]))
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .post_json(&app.live_key, PORTAL, &json!({"projectId": "proj_gone"}))
        .await;
    assert_error(status, &body, 404, "not_found", Some("projectId"));
}

async fn live_tenant(app: &TestApp) -> hookd::domain::tenant::Tenant {
    let workspace = app
        .store
        .find_workspace(hookd::admin::DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .unwrap();
    hookd::domain::tenant::Tenant {
        workspace_id: workspace.id,
        mode: Mode::Live,
    }
}

#[suite_test]
async fn a_link_is_redeemed_once_with_its_scope() {
    let app = spawn_app().await;
    app.create_endpoint(URL, &["post.created"]).await;
    let (status, body) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": "p", "url": URL, "events": ["post.created"], "projectId": "proj_1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let link = create(
        &app,
        json!({"projectId": "proj_1", "readOnly": true, "expiresInSecs": 600}),
    )
    .await;
    let hash = hash_token(&token(&link));
    let now = Timestamp::now();
    let scope = app
        .store
        .redeem_portal_link(&hash, now)
        .await
        .unwrap()
        .expect("a fresh link is redeemed");
    assert_eq!(scope.tenant, live_tenant(&app).await);
    assert_eq!(scope.project_id.as_deref(), Some("proj_1"));
    assert!(scope.read_only);
    assert_eq!(
        scope.expires_at,
        Timestamp::parse_rfc3339(link["expiresAt"].as_str().unwrap()).unwrap(),
        "the session ends when the link said"
    );
    assert!(
        app.store
            .redeem_portal_link(&hash, now)
            .await
            .unwrap()
            .is_none(),
        "a used link is refused"
    );

    // Unscoped and writable by default; the test key's link is of the test mode.
    let (status, answer) = app.post_json(&app.test_key, PORTAL, &json!({})).await;
    assert_eq!(status, 201, "{answer}");
    let scope = app
        .store
        .redeem_portal_link(&hash_token(&token(&answer["data"])), Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scope.tenant.mode, Mode::Test);
    assert_eq!(scope.project_id, None);
    assert!(!scope.read_only);

    // Garbage and unknown hashes redeem nothing.
    for bad in ["", "x", &hash_token("hpt_unknown"), &"f".repeat(10_000)] {
        assert!(app
            .store
            .redeem_portal_link(bad, Timestamp::now())
            .await
            .unwrap()
            .is_none());
    }
}

#[suite_test]
async fn an_expired_link_is_refused() {
    let app = spawn_app().await;
    let link = create(&app, json!({"expiresInSecs": 60})).await;
    let hash = hash_token(&token(&link));
    let expires_at = Timestamp::parse_rfc3339(link["expiresAt"].as_str().unwrap()).unwrap();
    assert!(app
        .store
        .redeem_portal_link(&hash, expires_at)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .redeem_portal_link(&hash, expires_at.plus_millis(86_400_000))
        .await
        .unwrap()
        .is_none());
    // Refused at expiry does not use it up: just before, it still works (once).
    assert!(app
        .store
        .redeem_portal_link(&hash, expires_at.plus_millis(-1))
        .await
        .unwrap()
        .is_some());
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_of_one_link_admit_exactly_one() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let link = create(&app, json!({})).await;
        let hash = Arc::new(hash_token(&token(&link)));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (store, hash) = (app.store.clone(), Arc::clone(&hash));
                tokio::spawn(async move {
                    store
                        .redeem_portal_link(&hash, Timestamp::now())
                        .await
                        .unwrap()
                        .is_some()
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap());
        }
        assert_eq!(won, 1, "exactly one redemption wins");
    }
}

#[suite_test]
async fn a_deleted_workspace_s_links_are_refused() {
    let app = spawn_app().await;
    let (other_live, _) = app.new_workspace("leaving").await;
    let (status, answer) = app.post_json(&other_live, PORTAL, &json!({})).await;
    assert_eq!(status, 201, "{answer}");
    let workspace = app.store.find_workspace("leaving").await.unwrap().unwrap();
    hookd::admin::delete_workspace(&app.store, &workspace)
        .await
        .unwrap();
    assert!(app
        .store
        .redeem_portal_link(&hash_token(&token(&answer["data"])), Timestamp::now())
        .await
        .unwrap()
        .is_none());
}
