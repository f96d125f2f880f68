//! `GET /portal/{token}` over plain HTTP: a link signs a browser in once, not after expiry; the
//! portal's scope holds on every page and form (project → other ids are 404, read-only → forged
//! posts refused); and the portal, unlike the rest of the dashboard, may be framed by the
//! configured origins.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE, X_FRAME_OPTIONS};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

/// A client that does not follow redirects, so each answer is seen as sent.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn link(app: &TestApp, body: Value) -> String {
    let (status, answer) = app
        .post_json(&app.live_key, "/v1/portal-sessions", &body)
        .await;
    assert_eq!(status, 201, "{answer}");
    answer["data"]["url"].as_str().unwrap().to_string()
}

async fn scoped_endpoint(app: &TestApp, name: &str, project: &str) -> String {
    let (status, body) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": name, "url": URL, "events": ["post.created"], "projectId": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// Opens a link; the session cookie (`name=value`) it set.
async fn redeem(url: &str) -> String {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.headers());
    assert_eq!(r.headers()[LOCATION], "/");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("hookd_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

async fn get(
    app: &TestApp,
    cookie: &str,
    path: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let r = client()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

/// The CSRF token of a page (every page's sign-out form carries it).
fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a csrf field") + 20;
    html[at..].split('"').next().unwrap().to_string()
}

#[suite_test]
async fn a_link_signs_in_once() {
    let app = spawn_app().await;
    let url = link(&app, json!({})).await;
    let cookie = redeem(&url).await;
    // The session lands on the first page it may see: Endpoints.
    let (status, _, headers) = get(&app, &cookie, "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/endpoints");
    let (status, page, _) = get(&app, &cookie, "/endpoints").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Add an endpoint"),
        "a writable portal can add endpoints"
    );
    // Settings are the team's, not the portal's.
    let (status, _, _) = get(&app, &cookie, "/settings/api-keys").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Used: refused, and no cookie is set.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("Link expired or used"));
    // Garbage, oversize and unknown tokens alike.
    for path in [
        "/portal/x".to_string(),
        format!("/portal/hpt_{}", "a".repeat(43)),
        format!("/portal/{}", "h".repeat(5000)),
        "/portal/%ff".to_string(),
    ] {
        let r = client().get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(r.headers().get(SET_COOKIE).is_none());
    }
}

#[suite_test]
async fn an_expired_link_is_refused_at_the_door() {
    let app = spawn_app().await;
    let url = link(&app, json!({"expiresInSecs": 60})).await;
    let sql = "UPDATE portal_sessions SET expires_at = $1";
    match crate::BACKEND {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.dir.path().join("hookd.db"))
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            sqlx::query(sql).bind(1_i64).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database.url)
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(1_i64)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get(SET_COOKIE).is_none());
}

#[suite_test]
async fn a_project_portal_sees_only_its_project() {
    let app = spawn_app().await;
    let mine = scoped_endpoint(&app, "Mine", "proj_mine").await;
    let theirs = scoped_endpoint(&app, "Theirs", "proj_theirs").await;
    let unscoped = app.create_endpoint(URL, &["post.created"]).await;
    let (status, event) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "projectId": "proj_theirs", "data": {"secret": "theirs"}}),
        )
        .await;
    assert_eq!(status, 202, "{event}");
    let their_event = event["data"]["id"].as_str().unwrap();
    let (_, deliveries) = app
        .get_json(
            &app.live_key,
            &format!("/v1/events/{their_event}/deliveries"),
        )
        .await;
    let cookie = redeem(&link(&app, json!({"projectId": "proj_mine"})).await).await;

    let (_, page, _) = get(&app, &cookie, "/endpoints").await;
    assert!(page.contains("Mine"));
    assert!(
        !page.contains("Theirs") && !page.contains(&theirs),
        "{page}"
    );
    let (status, _, _) = get(&app, &cookie, &format!("/endpoints/{mine}")).await;
    assert_eq!(status, 200);
    let hidden = [
        format!("/endpoints/{theirs}"),
        format!("/endpoints/{}", unscoped["id"].as_str().unwrap()),
        format!("/events/{their_event}"),
        format!(
            "/deliveries/{}",
            deliveries["data"][0]["id"].as_str().unwrap()
        ),
    ];
    for path in &hidden {
        let (status, body, _) = get(&app, &cookie, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("theirs"), "{path}: {body}");
    }
    let (_, events, _) = get(&app, &cookie, "/events").await;
    assert!(!events.contains(their_event), "{events}");

    // An event of the project went to its endpoint and to the unscoped one: the portal sees
    // the event and only the delivery to its own endpoint.
    let (status, ours) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "projectId": "proj_mine", "data": {}}),
        )
        .await;
    assert_eq!(status, 202, "{ours}");
    assert_eq!(ours["data"]["deliveryCount"], 2);
    let (status, event_page, _) = get(
        &app,
        &cookie,
        &format!("/events/{}", ours["data"]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(event_page.contains(&mine), "{event_page}");
    assert!(
        !event_page.contains(unscoped["id"].as_str().unwrap()),
        "{event_page}"
    );

    // A forged post against another project's endpoint is a 404 too, and changes nothing.
    let token = csrf(&page);
    let r = client()
        .post(app.url(&format!("/endpoints/{theirs}/active")))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", token.as_str()), ("active", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (_, after) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{theirs}"))
        .await;
    assert_eq!(after["data"]["isActive"], true);

    // Created from this portal, an endpoint belongs to the project.
    let r = client()
        .post(app.url("/endpoints"))
        .header(COOKIE, &cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("name", "From the portal"),
            ("url", URL),
            ("events", "post.created"),
            ("projectId", "proj_theirs"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, listed) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}?projectId=proj_mine"))
        .await;
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "From the portal"));
}

#[suite_test]
async fn a_read_only_portal_refuses_forged_posts() {
    let app = spawn_app().await;
    let id = scoped_endpoint(&app, "Mine", "proj_ro").await;
    let cookie = redeem(&link(&app, json!({"projectId": "proj_ro", "readOnly": true})).await).await;
    let (_, page, _) = get(&app, &cookie, &format!("/endpoints/{id}")).await;
    assert!(
        !page.contains("Disable") && !page.contains("Send test event"),
        "{page}"
    );
    let token = csrf(&page);
    let forged = [
        (format!("/endpoints/{id}/active"), vec![("active", "false")]),
        (format!("/endpoints/{id}/rotate-secret"), vec![]),
        (
            format!("/endpoints/{id}/test"),
            vec![("test-event", "post.created")],
        ),
        (format!("/endpoints/{id}/replay"), vec![("since", "24h")]),
        (format!("/endpoints/{id}/delete"), vec![]),
        (
            "/endpoints".to_string(),
            vec![("name", "x"), ("url", URL), ("events", "post.created")],
        ),
    ];
    for (path, fields) in forged {
        let mut form = vec![("_csrf", token.as_str())];
        form.extend(fields);
        let r = client()
            .post(app.url(&path))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (_, after) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}/{id}"))
        .await;
    assert_eq!(after["data"]["isActive"], true);
    assert_eq!(listed_ids(&app, &app.live_key).await, [id]);
}

#[suite_test]
async fn only_portal_pages_may_be_framed_and_only_by_configured_origins() {
    let app = spawn_app_with(|c| {
        c.portal_frame_ancestors = vec!["https://app.example.com".into()];
    })
    .await;
    let r = client().get(app.url("/sign-in")).send().await.unwrap();
    assert!(r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()[X_FRAME_OPTIONS], "DENY");

    let url = link(&app, json!({})).await;
    let r = client().get(&url).send().await.unwrap();
    let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors https://app.example.com"),
        "{csp}"
    );
    assert!(r.headers().get(X_FRAME_OPTIONS).is_none());
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    // Plain http: the cookie stays SameSite=Strict (a cross-site frame needs https).
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let (_, _, headers) = get(&app, &cookie, "/endpoints").await;
    assert!(headers[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors https://app.example.com"));
    assert!(headers.get(X_FRAME_OPTIONS).is_none());

    // Without configured origins the portal is not framed either.
    let plain = spawn_app().await;
    let r = client()
        .get(&link(&plain, json!({})).await)
        .send()
        .await
        .unwrap();
    assert!(r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[suite_test]
async fn behind_https_the_portal_cookie_can_live_in_a_cross_site_frame() {
    let app = spawn_app_with(|c| {
        c.public_url = Some("https://hooks.example.com".into());
        c.portal_frame_ancestors = vec!["https://app.example.com".into()];
    })
    .await;
    let url = link(&app, json!({})).await;
    assert!(
        url.starts_with("https://hooks.example.com/portal/"),
        "{url}"
    );
    let local = app.url(&format!("/portal/{}", url.rsplit('/').next().unwrap()));
    let r = client().get(&local).send().await.unwrap();
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    for attribute in ["SameSite=None", "Secure", "Partitioned", "HttpOnly"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
}
