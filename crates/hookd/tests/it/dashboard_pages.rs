//! The Endpoints, delivery and Events pages over plain HTTP with a key session: garbage ids,
//! filters and forms get readable pages with the API's status and message (never a 500), CSRF
//! is required, another mode's objects are not found, and the test mode's pages show test data.

use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::*;
use crate::harness::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `key`; the cookie pair and the session's CSRF token.
async fn session(app: &TestApp, key: &str) -> (String, String) {
    let r = client()
        .post(app.url("/sign-in"))
        .form(&[("api_key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let (_, html) = get(app, &cookie, "/endpoints").await;
    let at = html.find("name=\"_csrf\" value=\"").expect("a csrf field") + 20;
    let token = html[at..].split('"').next().unwrap().to_string();
    (cookie, token)
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = client()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post(
    app: &TestApp,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = client()
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

#[suite_test]
async fn garbage_ids_and_filters_get_readable_refusals() {
    let app = spawn_app().await;
    let (cookie, _) = session(&app, &app.live_key).await;
    let endpoint = app.create_endpoint(URL, &["post.created"]).await;
    let id = endpoint["id"].as_str().unwrap();
    let long = "x".repeat(5000);
    for path in [
        "/endpoints/nope".to_string(),
        "/endpoints/whe_01hzzzzzzzzzzzzzzzzzzzzzzz".to_string(),
        format!("/endpoints/{long}"),
        "/endpoints/%ff".to_string(),
        "/endpoints/nope/edit".to_string(),
        "/endpoints/nope/delete".to_string(),
        "/deliveries/nope".to_string(),
        "/deliveries/dlv_01hzzzzzzzzzzzzzzzzzzzzzzz".to_string(),
        "/events/nope".to_string(),
        format!("/events/{long}"),
    ] {
        let (status, body) = get(&app, &cookie, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("Not found"), "{path}: {body}");
    }
    // A bad log filter is explained beside the filter; the page still shows.
    let (status, body) = get(&app, &cookie, &format!("/endpoints/{id}?status=bogus")).await;
    assert_eq!(status, 200);
    assert!(body.contains("status must be one of"), "{body}");
    let (status, body) = get(&app, &cookie, &format!("/endpoints/{id}?eventType={long}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("is not an event type"), "{body}");
    let (status, body) = get(&app, &cookie, "/events?type=no.such").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("is not an event type"), "{body}");
    let (status, body) = get(&app, &cookie, "/events?id=garbage").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("evt_"), "{body}");
    let (status, _) = get(&app, &cookie, "/events?cursor=garbage").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[suite_test]
async fn garbage_forms_are_refused_without_changing_anything() {
    let app = spawn_app().await;
    let (cookie, token) = session(&app, &app.live_key).await;
    let endpoint = app.create_endpoint(URL, &["post.created"]).await;
    let id = endpoint["id"].as_str().unwrap();
    let t = token.as_str();
    // Without the CSRF token: refused.
    let (status, _) = post(
        &app,
        &cookie,
        &format!("/endpoints/{id}/active"),
        &[("active", "false")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &app,
        &cookie,
        &format!("/endpoints/{id}/active"),
        &[("_csrf", t), ("active", "maybe")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        &app,
        &cookie,
        &format!("/endpoints/{id}/replay"),
        &[("_csrf", t), ("since", "forever")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post(
        &app,
        &cookie,
        &format!("/endpoints/{id}/test"),
        &[("_csrf", t), ("test-event", "no.such")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("is not an event type"), "{body}");
    let (status, body) = post(
        &app,
        &cookie,
        "/endpoints",
        &[
            ("_csrf", t),
            ("name", ""),
            ("url", "ftp://x"),
            ("description", &"d".repeat(2000)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("aria-invalid=\"true\""),
        "the field at fault is marked: {body}"
    );
    let (status, body) = post(
        &app,
        &cookie,
        &format!("/endpoints/{id}/edit"),
        &[
            ("_csrf", t),
            ("name", "ok"),
            ("url", URL),
            ("events", "no.such"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("is not an event type"), "{body}");
    let (_, after) = app
        .get_json(&app.live_key, &endpoint_path(&endpoint["id"]))
        .await;
    assert_eq!(after["data"]["isActive"], true);
    assert_eq!(after["data"]["events"], json!(["post.created"]));
    assert_eq!(listed_ids(&app, &app.live_key).await, [id]);
}

#[suite_test]
async fn pages_show_their_own_mode_only() {
    let app = spawn_app().await;
    let live = app.create_endpoint(URL, &["post.created"]).await;
    let live_id = live["id"].as_str().unwrap();
    let (test_cookie, _) = session(&app, &app.test_key).await;
    let (_, page) = get(&app, &test_cookie, "/endpoints").await;
    assert!(page.contains("No endpoints yet"), "{page}");
    assert!(page.contains("Test mode"), "{page}");
    let (status, _) = get(&app, &test_cookie, &format!("/endpoints/{live_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (live_cookie, _) = session(&app, &app.live_key).await;
    let (status, page) = get(&app, &live_cookie, &format!("/endpoints/{live_id}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Delivery log") && page.contains("<svg"),
        "{page}"
    );
}

#[suite_test]
async fn a_held_delivery_shows_its_ordering_key_and_what_it_waits_for() {
    // The first failure waits an hour, so the key's second delivery stays held.
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let refused = crate::upstream::closed().await;
    app.create_endpoint(&format!("{refused}/hook"), &["post.created"])
        .await;
    let mut ids = Vec::new();
    for seq in 0..2 {
        let event = crate::delivery::publish(
            &app,
            &app.live_key,
            &json!({"type": "post.created", "orderingKey": "post_9", "data": {"seq": seq}}),
        )
        .await;
        let list = crate::delivery::deliveries_of_event(
            &app,
            &app.live_key,
            event["id"].as_str().unwrap(),
        )
        .await;
        let id = list[0]["id"].as_str().unwrap().to_string();
        if seq == 0 {
            crate::delivery::wait_delivery(&app, &id, "attempted", |d| {
                d["attemptCount"].as_i64() == Some(1)
            })
            .await;
        }
        ids.push(id);
    }
    let held = crate::delivery::delivery(&app, &ids[1]).await;
    assert_eq!(held["heldBehind"], ids[0].as_str(), "{held:#}");

    let (cookie, _) = session(&app, &app.live_key).await;
    let (status, page) = get(&app, &cookie, &format!("/deliveries/{}", ids[1])).await;
    assert_eq!(status, 200);
    assert!(page.contains("Ordering key") && page.contains("post_9"), "{page}");
    assert!(
        page.contains("Held behind") && page.contains(&format!("/deliveries/{}", ids[0])),
        "{page}"
    );
    assert!(!page.contains("as soon as the endpoint is free"), "{page}");
    let (_, head) = get(&app, &cookie, &format!("/deliveries/{}", ids[0])).await;
    assert!(head.contains("post_9") && !head.contains("Held behind"), "{head}");
}

#[suite_test]
async fn an_endpoint_page_shows_its_filter_rate_limit_and_auth() {
    let app = spawn_app().await;
    let (status, created) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &json!({"name": "Big orders", "url": URL, "events": ["post.created"],
                    "filter": "data.amount > 100", "rateLimitPerSec": 7,
                    "auth": {"type": "oauth2_client_credentials",
                             "tokenUrl": "https://auth.example.com/oauth/token",
                             "clientId": "hookd-prod", "clientSecret": "s3cr3t-client-value"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap();
    let (cookie, _) = session(&app, &app.live_key).await;
    let (status, page) = get(&app, &cookie, &format!("/endpoints/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("data.amount &gt; 100"), "{page}");
    assert!(page.contains("7 per second"), "{page}");
    assert!(page.contains("OAuth2 client credentials") && page.contains("hookd-prod"), "{page}");
    assert!(!page.contains("s3cr3t-client-value"), "{page}");
}
