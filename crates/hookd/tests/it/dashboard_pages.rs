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

/// The endpoint forms' delivery controls: a filter that does not parse, oversize or garbage
/// rates and bad query-parameter names are refused beside their field with the API's message;
/// good values are saved and shown on the endpoint's page; a blank field removes a saved value.
#[suite_test]
async fn endpoint_filter_rate_limit_and_secret_query_params_are_edited_from_the_forms() {
    let app = spawn_app().await;
    let (cookie, token) = session(&app, &app.live_key).await;
    let t = token.as_str();
    let endpoint = app.create_endpoint(URL, &["post.created"]).await;
    let id = endpoint["id"].as_str().unwrap();
    let edit = format!("/endpoints/{id}/edit");
    // What the API says about a filter that does not parse, to compare with the page.
    let (_, api_error) = app
        .patch_json(
            &app.live_key,
            &endpoint_path(&endpoint["id"]),
            &json!({"filter": "data.amount >"}),
        )
        .await;
    let parser_message = api_error["error"]["message"].as_str().unwrap().to_string();
    let long_filter = format!("data.a == \"{}\"", "x".repeat(5000));
    let cases: Vec<(&str, &str, &str)> = vec![
        ("filter", "data.amount >", "filter-error"),
        ("filter", &long_filter, "filter-error"),
        ("filter", "\u{0}", "filter-error"),
        ("rateLimitPerSec", "0", "rateLimitPerSec-error"),
        ("rateLimitPerSec", "1.5", "rateLimitPerSec-error"),
        ("rateLimitPerSec", "-2", "rateLimitPerSec-error"),
        (
            "rateLimitPerSec",
            "99999999999999999999999",
            "rateLimitPerSec-error",
        ),
        ("rateLimitPerSec", "1000000", "rateLimitPerSec-error"),
        ("secretQueryParams", "token", "secretQueryParams-error"),
    ];
    for (field, value, error_id) in cases {
        for path in ["/endpoints", edit.as_str()] {
            let (status, body) = post(
                &app,
                &cookie,
                path,
                &[
                    ("_csrf", t),
                    ("name", "ok"),
                    ("url", URL),
                    ("events", "post.created"),
                    (field, value),
                ],
            )
            .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{path} {field}={value}: {body}"
            );
            assert!(
                body.contains(&format!("id=\"{error_id}\"")),
                "{path} {field}={value}: {body}"
            );
        }
    }
    let (_, body) = post(
        &app,
        &cookie,
        &edit,
        &[
            ("_csrf", t),
            ("name", "ok"),
            ("url", URL),
            ("events", "post.created"),
            ("filter", "data.amount >"),
        ],
    )
    .await;
    let escaped = parser_message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(
        body.contains(&escaped),
        "the API's parser message: {parser_message}\n{body}"
    );
    assert_eq!(listed_ids(&app, &app.live_key).await, [id]);

    // Good values are saved and shown.
    let url = "https://127.0.0.1:9/hook?token=abc123";
    let (status, _) = post(
        &app,
        &cookie,
        &edit,
        &[
            ("_csrf", t),
            ("name", "ok"),
            ("url", url),
            ("events", "post.created"),
            ("filter", "data.amount > 100"),
            ("rateLimitPerSec", "5"),
            ("secretQueryParams", "token"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, got) = app
        .get_json(&app.live_key, &endpoint_path(&endpoint["id"]))
        .await;
    assert_eq!(got["data"]["filter"], "data.amount > 100");
    assert_eq!(got["data"]["rateLimitPerSec"], 5);
    assert_eq!(got["data"]["secretQueryParams"], json!(["token"]));
    let (_, page) = get(&app, &cookie, &format!("/endpoints/{id}")).await;
    assert!(page.contains("data.amount &gt; 100"), "{page}");
    assert!(page.contains("5 attempts per second"), "{page}");
    assert!(
        !page.contains("abc123"),
        "the secret value is masked: {page}"
    );
    let (_, form) = get(&app, &cookie, &edit).await;
    assert!(
        form.contains("value=\"5\"") && !form.contains("abc123"),
        "{form}"
    );

    // Blank fields remove them (the masked URL sent back keeps the secret value).
    let masked = got["data"]["url"].as_str().unwrap().to_string();
    let (status, _) = post(
        &app,
        &cookie,
        &edit,
        &[
            ("_csrf", t),
            ("name", "ok"),
            ("url", &masked),
            ("events", "post.created"),
            ("filter", ""),
            ("rateLimitPerSec", ""),
            ("secretQueryParams", "token"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, got) = app
        .get_json(&app.live_key, &endpoint_path(&endpoint["id"]))
        .await;
    assert!(got["data"].get("filter").is_none(), "{got}");
    assert!(got["data"].get("rateLimitPerSec").is_none(), "{got}");

    // Created with controls from the list page's form.
    let (status, body) = post(
        &app,
        &cookie,
        "/endpoints",
        &[
            ("_csrf", t),
            ("name", "filtered"),
            ("url", URL),
            ("events", "post.created"),
            ("filter", "type == \"post.created\""),
            ("rateLimitPerSec", "2"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, list) = app.get_json(&app.live_key, ENDPOINTS).await;
    let created = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "filtered")
        .unwrap();
    assert_eq!(created["filter"], "type == \"post.created\"");
    assert_eq!(created["rateLimitPerSec"], 2);
}

/// Ordering keys on the pages: the event and its deliveries show the key, and a delivery held
/// back behind its key's head shows "pending behind" with a link to the head delivery.
#[suite_test]
async fn a_held_back_delivery_shows_the_delivery_it_waits_for() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![60]).await;
    let receiver = Receiver::scripted(|_| (500, "down".to_string())).await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let mut events = Vec::new();
    for seq in 0..2 {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "orderingKey": "order-42", "data": {"seq": seq}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        events.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    let list_path = format!(
        "/v1/deliveries?endpointId={}",
        endpoint["id"].as_str().unwrap()
    );
    let (_, list) = app.get_json(&app.live_key, &list_path).await;
    let of = |event: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["eventId"] == event)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (head, held) = (of(&events[0]), of(&events[1]));
    // The head is tried (and fails, to be retried in a minute); the second waits behind it.
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;

    let (cookie, _) = session(&app, &app.live_key).await;
    let (status, page) = get(&app, &cookie, &format!("/deliveries/{held}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(
            " pending behind <a href=\"/deliveries/{head}\"><code>{head}</code></a>"
        )),
        "{page}"
    );
    assert!(page.contains("order-42"), "{page}");
    let (_, page) = get(&app, &cookie, &format!("/deliveries/{head}")).await;
    assert!(!page.contains("pending behind"), "{page}");
    let (_, page) = get(&app, &cookie, &format!("/events/{}", events[1])).await;
    assert!(
        page.contains("data-test=\"ordering-key\">order-42") && page.contains("pending behind"),
        "{page}"
    );
    let (_, page) = get(&app, &cookie, "/events").await;
    assert!(page.contains("order-42"), "{page}");
    let (_, page) = get(
        &app,
        &cookie,
        &format!("/endpoints/{}", endpoint["id"].as_str().unwrap()),
    )
    .await;
    assert!(page.contains("pending behind"), "{page}");
    assert_eq!(receiver.count(), 1, "the held delivery was not sent");
}

/// OAuth2 client credentials on the endpoint forms: garbage refused beside its field, created
/// with the secret shown only as `…last4`, a new scope saved with the secret left blank keeps
/// the saved secret, and unticking the box removes the auth.
#[suite_test]
async fn endpoint_oauth2_auth_is_set_kept_and_removed_from_the_forms() {
    let app = spawn_app().await;
    let (cookie, token) = session(&app, &app.live_key).await;
    let t = token.as_str();
    let base = [
        ("_csrf", t),
        ("name", "Partner"),
        ("url", URL),
        ("events", "post.created"),
        ("oauth_enabled", "on"),
    ];
    let long_id = "c".repeat(5000);
    for (extra, error_id) in [
        (
            vec![
                ("oauth_token_url", "nope"),
                ("oauth_client_id", "id"),
                ("oauth_client_secret", "s"),
            ],
            "oauth_token_url-error",
        ),
        (
            vec![
                ("oauth_token_url", "https://127.0.0.1:9/token"),
                ("oauth_client_id", ""),
                ("oauth_client_secret", "s"),
            ],
            "oauth_client_id-error",
        ),
        (
            vec![
                ("oauth_token_url", "https://127.0.0.1:9/token"),
                ("oauth_client_id", &long_id),
                ("oauth_client_secret", "s"),
            ],
            "oauth_client_id-error",
        ),
        (
            vec![
                ("oauth_token_url", "https://127.0.0.1:9/token"),
                ("oauth_client_id", "id"),
                ("oauth_client_secret", ""),
            ],
            "oauth_client_secret-error",
        ),
    ] {
        let mut form = base.to_vec();
        form.extend(extra);
        let (status, body) = post(&app, &cookie, "/endpoints", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert!(
            body.contains(&format!("id=\"{error_id}\"")),
            "{form:?}: {body}"
        );
    }
    assert!(listed_ids(&app, &app.live_key).await.is_empty());

    let mut form = base.to_vec();
    form.extend([
        ("oauth_token_url", "https://127.0.0.1:9/token"),
        ("oauth_client_id", "hookd"),
        ("oauth_client_secret", "client-secret-9876"),
        ("oauth_scope", "hooks:write"),
    ]);
    let (status, body) = post(&app, &cookie, "/endpoints", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!body.contains("client-secret-9876"));
    let ids = listed_ids(&app, &app.live_key).await;
    let id = ids[0].clone();
    let (_, got) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert_eq!(got["data"]["auth"]["clientSecretLast4"], "9876", "{got}");

    let edit = format!("/endpoints/{id}/edit");
    let (_, page) = get(&app, &cookie, &edit).await;
    assert!(
        page.contains("…9876") && !page.contains("client-secret-9876"),
        "{page}"
    );
    let (_, detail) = get(&app, &cookie, &format!("/endpoints/{id}")).await;
    assert!(detail.contains("OAuth2 client credentials"), "{detail}");

    let mut form = base.to_vec();
    form.extend([
        ("oauth_token_url", "https://127.0.0.1:9/token"),
        ("oauth_client_id", "hookd"),
        ("oauth_client_secret", ""),
        ("oauth_scope", "hooks:read"),
    ]);
    let (status, body) = post(&app, &cookie, &edit, &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, got) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert_eq!(got["data"]["auth"]["scope"], "hooks:read", "{got}");
    assert_eq!(got["data"]["auth"]["clientSecretLast4"], "9876", "{got}");

    let (status, _) = post(
        &app,
        &cookie,
        &edit,
        &[
            ("_csrf", t),
            ("name", "Partner"),
            ("url", URL),
            ("events", "post.created"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, got) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert!(got["data"].get("auth").is_none(), "{got}");
}

/// Endpoint metadata as key/value rows: garbage refused beside the rows with the API's message,
/// saved from the create form, shown on the endpoint's page, and a removed row removes the key.
#[suite_test]
async fn endpoint_metadata_rows_are_validated_saved_and_removed() {
    let app = spawn_app().await;
    let (cookie, token) = session(&app, &app.live_key).await;
    let t = token.as_str();
    let base = [
        ("_csrf", t),
        ("name", "Tagged"),
        ("url", URL),
        ("events", "post.created"),
    ];
    let long_key = "k".repeat(41);
    let long_value = "v".repeat(501);
    for extra in [
        vec![("meta_key", ""), ("meta_value", "orphan")],
        vec![("meta_key", long_key.as_str()), ("meta_value", "v")],
        vec![("meta_key", "team"), ("meta_value", long_value.as_str())],
    ] {
        let mut form = base.to_vec();
        form.extend(extra);
        let (status, body) = post(&app, &cookie, "/endpoints", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert!(body.contains("id=\"metadata-error\""), "{form:?}: {body}");
    }
    let keys: Vec<String> = (0..51).map(|i| format!("k{i}")).collect();
    let mut form = base.to_vec();
    for key in &keys {
        form.extend([("meta_key", key.as_str()), ("meta_value", "v")]);
    }
    let (status, body) = post(&app, &cookie, "/endpoints", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"metadata-error\""), "{body}");
    assert!(listed_ids(&app, &app.live_key).await.is_empty());

    let mut form = base.to_vec();
    form.extend([
        ("meta_key", "team"),
        ("meta_value", "crm"),
        ("meta_key", "tier"),
        ("meta_value", "gold"),
        ("meta_key", ""),
        ("meta_value", ""),
    ]);
    let (status, body) = post(&app, &cookie, "/endpoints", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = listed_ids(&app, &app.live_key).await[0].clone();
    let (_, got) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert_eq!(
        got["data"]["metadata"],
        json!({"team": "crm", "tier": "gold"})
    );
    let (_, page) = get(&app, &cookie, &format!("/endpoints/{id}")).await;
    assert!(page.contains("<code>team</code>: crm"), "{page}");

    let mut form = base.to_vec();
    form.extend([("meta_key", "team"), ("meta_value", "billing")]);
    let (status, _) = post(&app, &cookie, &format!("/endpoints/{id}/edit"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, got) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert_eq!(got["data"]["metadata"], json!({"team": "billing"}));
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
    assert!(
        page.contains("Ordering key") && page.contains("post_9"),
        "{page}"
    );
    assert!(
        page.contains("Held behind") && page.contains(&format!("/deliveries/{}", ids[0])),
        "{page}"
    );
    assert!(!page.contains("as soon as the endpoint is free"), "{page}");
    let (_, head) = get(&app, &cookie, &format!("/deliveries/{}", ids[0])).await;
    assert!(
        head.contains("post_9") && !head.contains("Held behind"),
        "{head}"
    );
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
    assert!(page.contains("7 attempts per second"), "{page}");
    assert!(
        page.contains("OAuth2 client credentials") && page.contains("hookd-prod"),
        "{page}"
    );
    assert!(!page.contains("s3cr3t-client-value"), "{page}");
}
