//! The dashboard over plain HTTP (its screens are driven in Chromium by `tests/browser`): the
//! session cookie's attributes, sign-in refusals with the API's messages, CSRF refusal, revoked
//! keys and garbage cookies ending sessions, isolation between modes, and garbage or oversize
//! form input answered with a readable page, never a 500.

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs a form (`fields` already encoded) with an optional session cookie.
async fn post_form(
    app: &TestApp,
    cookie: Option<&str>,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client()
        .post(app.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap());
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

/// Signs in with `key`; returns the `Set-Cookie` header and the `name=value` pair.
async fn sign_in(app: &TestApp, key: &str) -> (String, String) {
    let response = post_form(app, None, "/sign-in", &[("api_key", key)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let pair = set_cookie.split(';').next().unwrap().to_string();
    (set_cookie, pair)
}

/// The CSRF token in a page's forms.
async fn csrf_token(app: &TestApp, cookie: &str, path: &str) -> String {
    let html = get_page(app, cookie, path).await.text().await.unwrap();
    let start = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

#[suite_test]
async fn signing_in_sets_a_strict_http_only_cookie_that_opens_the_dashboard() {
    let app = spawn_app().await;
    let (set_cookie, cookie) = sign_in(&app, &app.live_key).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // Served as plain http without an https public URL: not Secure.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    // The key itself is not in the cookie.
    assert!(!set_cookie.contains(&app.live_key[15..]), "{set_cookie}");

    let home = get_page(&app, &cookie, "/").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        home.headers()[LOCATION],
        "/endpoints",
        "Endpoints come first in the navigation"
    );
    let page = get_page(&app, &cookie, "/settings/integrations").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("No integrations yet"), "{html}");
    // A live session has no test-mode banner; a test session has.
    assert!(!html.contains("Test mode"));
    let (_, test_cookie) = sign_in(&app, &app.test_key).await;
    let html = get_page(&app, &test_cookie, "/settings/integrations")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Test mode"));
}

#[suite_test]
async fn behind_an_https_public_url_the_cookie_is_secure() {
    let app = spawn_app_with(|c| c.public_url = Some("https://hooks.example.com".into())).await;
    let (set_cookie, _) = sign_in(&app, &app.live_key).await;
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    // Behind a proxy that rewrites Host, the browser's Origin is the public URL's.
    let response = client()
        .post(app.url("/sign-in"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", "https://hooks.example.com")
        .body(serde_urlencoded::to_string([("api_key", &app.live_key)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers().get(SET_COOKIE).is_some());
}

#[suite_test]
async fn wrong_malformed_or_missing_keys_are_refused_with_the_apis_messages() {
    let app = spawn_app().await;
    let unknown = format!("scripe_sk_live_{}", "a".repeat(40));
    let cases: &[(&str, u16, &str)] = &[
        (&unknown, 401, "The API key is unknown or revoked."),
        ("not-a-key", 401, "The API key is malformed."),
        (
            "scripe_sk_live_\u{43a}\u{43b}\u{44e}\u{447}",
            401,
            "The API key is malformed.",
        ),
        ("scripe_sk_live_a\nb", 401, "The API key is malformed."),
        ("", 400, "Enter an API key."),
        ("   ", 400, "Enter an API key."),
    ];
    for (key, status, message) in cases {
        let response = post_form(&app, None, "/sign-in", &[("api_key", key)]).await;
        assert_eq!(response.status().as_u16(), *status, "{key:?}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "{key:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{key:?}: {html}");
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
    }
    // A revoked key.
    let keys = app.store.list_api_keys(None).await.unwrap();
    let test_key = keys
        .iter()
        .find(|k| app.test_key.ends_with(&k.last4))
        .unwrap();
    hookd::admin::revoke_key(&app.store, test_key.id.as_str())
        .await
        .unwrap();
    let response = post_form(&app, None, "/sign-in", &[("api_key", &app.test_key)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[suite_test]
async fn sign_in_refuses_other_content_types_oversize_bodies_and_other_sites() {
    let app = spawn_app().await;
    let json = client()
        .post(app.url("/sign-in"))
        .json(&json!({"api_key": app.live_key}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json.text().await.unwrap().contains("Not a form"));

    let huge = "a".repeat(app.config.max_body_bytes + 10);
    let response = post_form(&app, None, "/sign-in", &[("api_key", &huge)]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.text().await.unwrap().contains("larger than"));

    let cross_site = client()
        .post(app.url("/sign-in"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(serde_urlencoded::to_string([("api_key", &app.live_key)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(cross_site.headers().get(SET_COOKIE).is_none());
}

#[suite_test]
async fn state_changing_forms_need_this_sessions_csrf_token() {
    let app = spawn_app().await;
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let (_, other_cookie) = sign_in(&app, &app.live_key).await;
    let token = csrf_token(&app, &cookie, "/settings/api-keys").await;
    let other_token = csrf_token(&app, &other_cookie, "/settings/api-keys").await;
    assert_ne!(token, other_token);
    let keys_before = app.store.list_api_keys(None).await.unwrap().len();

    for fields in [
        vec![("name", "no token")],
        vec![("name", "empty token"), ("_csrf", "")],
        vec![("name", "other session's"), ("_csrf", other_token.as_str())],
    ] {
        let response = post_form(&app, Some(&cookie), "/settings/api-keys", &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{fields:?}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("could not be verified"));
    }
    assert_eq!(
        app.store.list_api_keys(None).await.unwrap().len(),
        keys_before
    );
    // Sign-out needs it too.
    let response = post_form(&app, Some(&cookie), "/sign-out", &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = post_form(
        &app,
        Some(&cookie),
        "/settings/api-keys",
        &[("name", "with token"), ("_csrf", &token)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("scripe_sk_live_"),
        "the new key is shown once"
    );
    assert_eq!(
        app.store.list_api_keys(None).await.unwrap().len(),
        keys_before + 1
    );

    let response = post_form(&app, Some(&cookie), "/sign-out", &[("_csrf", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[suite_test]
async fn garbage_cookies_and_sessions_of_revoked_keys_lead_to_sign_in() {
    let app = spawn_app().await;
    for garbage in [
        "hookd_session=garbage".to_string(),
        format!("hookd_session={}", "A".repeat(6000)),
        "hookd_session=".to_string(),
        "other=1; hookd_session=%%%".to_string(),
    ] {
        let response = get_page(&app, &garbage, "/settings/integrations").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{garbage}");
        assert!(response.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/sign-in"));
    }

    // htmx requests are told to load the sign-in page whole, not to follow a redirect in place.
    let response = client()
        .post(app.url("/settings/integrations/int_x/try"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["hx-redirect"], "/sign-in");

    let (_, cookie) = sign_in(&app, &app.test_key).await;
    assert_eq!(
        get_page(&app, &cookie, "/settings/api-keys").await.status(),
        StatusCode::OK
    );
    // Revoked elsewhere (the CLI's path): the session ends at once.
    let keys = app.store.list_api_keys(None).await.unwrap();
    let key = keys
        .iter()
        .find(|k| app.test_key.ends_with(&k.last4))
        .unwrap();
    hookd::admin::revoke_key(&app.store, key.id.as_str())
        .await
        .unwrap();
    let response = get_page(&app, &cookie, "/settings/api-keys").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[suite_test]
async fn a_test_session_sees_no_live_integration() {
    let app = spawn_app().await;
    let (_, body) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &json!({"name": "Live billing", "url": "https://billing.example.com/hook"}),
        )
        .await;
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (_, test_cookie) = sign_in(&app, &app.test_key).await;
    let html = get_page(&app, &test_cookie, "/settings/integrations")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Live billing"));
    for path in [
        format!("/settings/integrations/{id}"),
        format!("/settings/integrations/{id}/edit"),
        format!("/settings/integrations/{id}/disconnect"),
        "/settings/integrations/int_nope".to_string(),
        "/settings/integrations/%00%ff".to_string(),
        "/settings/api-keys/key_nope/revoke".to_string(),
    ] {
        let response = get_page(&app, &test_cookie, &path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (_, live_cookie) = sign_in(&app, &app.live_key).await;
    let html = get_page(&app, &live_cookie, "/settings/integrations")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Live billing"));
}

#[suite_test]
async fn garbage_integration_forms_get_readable_errors_never_a_500() {
    let app = spawn_app().await;
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let token = csrf_token(&app, &cookie, "/settings/integrations/new").await;
    let long_name = "n".repeat(300);
    let ok_url = "https://api.example.com/hook";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "url"),
        (vec![("url", "javascript:alert(1)"), ("name", "x")], "url"),
        (vec![("url", ok_url), ("name", &long_name)], "name"),
        (
            vec![("url", ok_url), ("name", "x"), ("timeout_ms", "abc")],
            "whole number of milliseconds",
        ),
        (
            vec![("url", ok_url), ("name", "x"), ("timeout_ms", "-5")],
            "whole number of milliseconds",
        ),
        (
            vec![("url", ok_url), ("name", "x"), ("method", "TRACE")],
            "method",
        ),
        (
            vec![
                ("url", ok_url),
                ("name", "x"),
                ("header_name", "Bad Header"),
                ("header_value", "v"),
            ],
            "header",
        ),
        (
            vec![
                ("url", ok_url),
                ("name", "x"),
                ("header_name", ""),
                ("header_value", "orphan"),
            ],
            "needs a name",
        ),
        (
            vec![("url", ok_url), ("name", "x"), ("auth_type", "bearer")],
            "token",
        ),
        (
            vec![("url", ok_url), ("name", "x"), ("auth_type", "weird")],
            "weird",
        ),
        (
            vec![
                ("url", ok_url),
                ("name", "x"),
                ("content_type", "not a type"),
            ],
            "contentType",
        ),
        (
            vec![("url", "http://127.0.0.1:1/x"), ("name", "\u{0}\u{7}")],
            "name",
        ),
    ];
    for (mut fields, expected) in cases {
        fields.push(("_csrf", &token));
        let response = post_form(&app, Some(&cookie), "/settings/integrations/new", &fields).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}: {html}");
        assert!(
            html.contains(expected),
            "{fields:?} should mention {expected:?}: {html}"
        );
        assert!(html.contains("class=\"field-error\"") || html.contains("class=\"alert\""));
    }
    // Oversize: a readable 413 page.
    let huge = "h".repeat(app.config.max_body_bytes);
    let response = post_form(
        &app,
        Some(&cookie),
        "/settings/integrations/new",
        &[("_csrf", &token), ("name", &huge)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was created.
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(list["data"], json!([]));
}

#[suite_test]
async fn assets_are_embedded_and_cached() {
    let app = spawn_app().await;
    let response = client()
        .get(app.url("/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let htmx = client()
        .get(app.url("/assets/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert!(htmx.text().await.unwrap().starts_with("/*! htmx 2.0.4"));
    for path in ["/assets/nope.js", "/assets/..%2Fmain.rs"] {
        let response = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[suite_test]
async fn the_keys_page_shows_when_each_key_was_last_used() {
    let app = spawn_app().await;
    let (record, key) = hookd::admin::create_named_key(
        &app.store,
        hookd::admin::DEFAULT_WORKSPACE,
        hookd::domain::tenant::Mode::Live,
        Some("Nightly export"),
    )
    .await
    .unwrap();
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let row = |html: &str| {
        let start = html.find("Nightly export").expect("the key's row");
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    let html = get_page(&app, &cookie, "/settings/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(row(&html).contains("Never"), "{}", row(&html));

    let before = hookd::domain::time::Timestamp::now();
    let (status, _) = app.get_json(&key, "/v1/integrations").await;
    assert_eq!(status, StatusCode::OK);
    let used = eventually(std::time::Duration::from_secs(5), || async {
        let keys = app.store.list_api_keys(None).await.unwrap();
        keys.into_iter()
            .find(|k| k.id == record.id)
            .and_then(|k| k.last_used_at)
    })
    .await;
    assert!(used.as_millis() >= before.as_millis() - 1000);
    let html = get_page(&app, &cookie, "/settings/api-keys")
        .await
        .text()
        .await
        .unwrap();
    let row = row(&html);
    assert!(!row.contains("Never") && row.contains(" UTC"), "{row}");
    // Recording a use does not change what authentication answers.
    let (status, _) = app.get_json(&key, "/v1/integrations").await;
    assert_eq!(status, StatusCode::OK);
}

#[suite_test]
async fn try_it_shows_upstream_failures_and_bad_bodies_as_the_api_words_them() {
    let app = spawn_app().await;
    // Nothing listens on port 1.
    let (_, body) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &json!({"name": "Down", "url": "http://127.0.0.1:1/x",
                    "allowedPathPrefixes": ["/reports"]}),
        )
        .await;
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let page = format!("/settings/integrations/{id}");
    let token = csrf_token(&app, &cookie, &page).await;
    let try_path = format!("{page}/try");

    let response = post_form(
        &app,
        Some(&cookie),
        &try_path,
        &[
            ("_csrf", &token),
            ("try_method", "POST"),
            ("try_body", "{}"),
        ],
    )
    .await;
    // 200 with the answer in the panel (htmx swaps only 2xx answers in).
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("No answer: ") && html.contains("upstream_error"),
        "{html}"
    );

    let response = post_form(
        &app,
        Some(&cookie),
        &try_path,
        &[
            ("_csrf", &token),
            ("try_body", "{not json"),
            ("try_path", "/../../etc"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("The body is not valid JSON"), "{html}");
    let response = post_form(
        &app,
        Some(&cookie),
        &try_path,
        &[("_csrf", &token), ("try_path", "/../../etc")],
    )
    .await;
    let html = response.text().await.unwrap();
    assert!(
        html.contains("field-error") && html.contains("path"),
        "{html}"
    );
    let response = post_form(
        &app,
        Some(&cookie),
        &try_path,
        &[("_csrf", &token), ("try_method", "BREW")],
    )
    .await;
    let html = response.text().await.unwrap();
    assert!(html.contains("method"), "{html}");
    // The failed call is in the call log; the refused forms are not calls.
    let (_, log) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}/calls"))
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1, "{log}");
}

/// OAuth2 client credentials on the integration form: created from the form, shown with the
/// secret as `…last4` only, edited with the secret left blank (the saved one is kept), and bad
/// values refused beside their field.
#[suite_test]
async fn oauth2_client_credentials_are_created_and_edited_with_a_write_only_secret() {
    let app = spawn_app().await;
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let token = csrf_token(&app, &cookie, "/settings/integrations/new").await;
    let base = [
        ("_csrf", token.as_str()),
        ("name", "Partner API"),
        ("url", "https://partner.example.com/api"),
        ("method", "POST"),
        ("content_type", "application/json"),
        ("timeout_ms", "10000"),
        ("auth_type", "oauth2_client_credentials"),
    ];
    // Garbage: each refused beside its field, nothing created.
    let long_id = "c".repeat(5000);
    for (extra, expected) in [
        (
            vec![
                ("oauth_token_url", "not a url"),
                ("oauth_client_id", "id"),
                ("oauth_client_secret", "s"),
            ],
            "id=\"oauth_token_url-error\"",
        ),
        (
            vec![
                ("oauth_token_url", "https://u:p@auth.example.com/t"),
                ("oauth_client_id", "id"),
                ("oauth_client_secret", "s"),
            ],
            "id=\"oauth_token_url-error\"",
        ),
        (
            vec![
                ("oauth_token_url", "https://auth.example.com/t"),
                ("oauth_client_id", ""),
                ("oauth_client_secret", "s"),
            ],
            "id=\"oauth_client_id-error\"",
        ),
        (
            vec![
                ("oauth_token_url", "https://auth.example.com/t"),
                ("oauth_client_id", &long_id),
                ("oauth_client_secret", "s"),
            ],
            "id=\"oauth_client_id-error\"",
        ),
        (
            vec![
                ("oauth_token_url", "https://auth.example.com/t"),
                ("oauth_client_id", "id"),
                ("oauth_client_secret", ""),
            ],
            "id=\"oauth_client_secret-error\"",
        ),
    ] {
        let mut fields = base.to_vec();
        fields.extend(extra);
        let response = post_form(&app, Some(&cookie), "/settings/integrations/new", &fields).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}: {html}");
        assert!(html.contains(expected), "{fields:?} → {expected}: {html}");
    }
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(list["data"], json!([]));

    let mut fields = base.to_vec();
    fields.extend([
        ("oauth_token_url", "https://auth.example.com/oauth/token"),
        ("oauth_client_id", "hookd-prod"),
        ("oauth_client_secret", "s3cr3t-client-secret"),
        ("oauth_scope", "reports:write"),
    ]);
    let response = post_form(&app, Some(&cookie), "/settings/integrations/new", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    let auth = &list["data"][0]["auth"];
    assert_eq!(auth["type"], "oauth2_client_credentials", "{auth}");
    assert_eq!(auth["scope"], "reports:write", "{auth}");
    assert_eq!(auth["clientSecretLast4"], "cret", "{auth}");
    let id = list["data"][0]["id"].as_str().unwrap().to_string();

    let edit = format!("/settings/integrations/{id}/edit");
    let html = get_page(&app, &cookie, &edit).await.text().await.unwrap();
    assert!(
        html.contains("value=\"oauth2_client_credentials\" checked"),
        "{html}"
    );
    assert!(
        html.contains("hookd-prod") && html.contains("…cret"),
        "{html}"
    );
    assert!(!html.contains("s3cr3t-client-secret"));

    // A new scope with the secret left blank: the saved secret is kept.
    let mut fields = base.to_vec();
    fields[1] = ("name", "Partner API v2");
    fields.extend([
        ("oauth_token_url", "https://auth.example.com/oauth/token"),
        ("oauth_client_id", "hookd-prod"),
        ("oauth_client_secret", ""),
        ("oauth_scope", "reports:read"),
    ]);
    let response = post_form(&app, Some(&cookie), &edit, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, body) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(body["data"]["name"], "Partner API v2");
    let auth = &body["data"]["auth"];
    assert_eq!(auth["scope"], "reports:read", "{auth}");
    assert_eq!(auth["clientId"], "hookd-prod", "{auth}");
    // The auth object was replaced (new scope), so the API got a secret: the saved one.
    assert_eq!(auth["clientSecretLast4"], "cret", "{auth}");
}

/// Secret query parameters are set from the form, shown masked on the edit page, and kept when
/// the edit form sends the masked URL back; a name that is not in the URL is refused beside the
/// field.
#[suite_test]
async fn integration_secret_query_params_are_edited_without_showing_the_value() {
    let app = spawn_app().await;
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let token = csrf_token(&app, &cookie, "/settings/integrations/new").await;
    let secret = "dash-Secret-3310";
    let url = format!("https://partner.example.com/api?key={secret}&v=1");
    let masked = "https://partner.example.com/api?key=****&v=1";
    let form = |name: &'static str, url: String, params: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("name", name.to_string()),
            ("url", url),
            ("secretQueryParams", params.to_string()),
            ("method", "POST".into()),
            ("content_type", "application/json".into()),
            ("timeout_ms", "10000".into()),
            ("auth_type", "none".into()),
        ]
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, Some(&cookie), &path, &pairs).await
        }
    };

    let response = post(
        "/settings/integrations/new".into(),
        form("Partner", url.clone(), "nope"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"secretQueryParams-error\""), "{html}");

    let response = post(
        "/settings/integrations/new".into(),
        form("Partner", url.clone(), "key"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(list["data"][0]["url"], masked);
    assert_eq!(list["data"][0]["secretQueryParams"], json!(["key"]));
    let id = list["data"][0]["id"].as_str().unwrap().to_string();

    let edit = format!("/settings/integrations/{id}/edit");
    let html = get_page(&app, &cookie, &edit).await.text().await.unwrap();
    assert!(
        !html.contains(secret),
        "the edit page shows the secret value"
    );
    assert!(html.contains("key=****"), "{html}");

    // Renamed, with the URL as the page showed it: the stored value is kept.
    let response = post(edit, form("Partner v2", masked.to_string(), "key")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, body) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(body["data"]["name"], "Partner v2");
    assert_eq!(body["data"]["url"], masked);
    let raw = app.raw_database_dump().await;
    assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert!(
        !raw.windows(4).any(|w| w == b"****"),
        "the mask itself was stored in place of the value"
    );
}

/// Wrong keys at the sign-in form count against the source address in the API's throttle: past
/// the limit the form answers 429 with `Retry-After` and how long to wait, even for a right key;
/// the API is throttled for that address too, and another address signs in as usual.
#[suite_test]
async fn repeated_wrong_keys_at_the_sign_in_form_are_throttled_per_address() {
    let app = spawn_app_with(|c| {
        c.auth_failure_limit = 3;
        c.auth_failure_window_secs = 30;
    })
    .await;
    let from = |source: &str| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let attacker = from("127.0.0.1");
    let bystander = from("127.0.0.2");
    let sign_in_from = |client: reqwest::Client, key: String| {
        let url = app.url("/sign-in");
        async move {
            client
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string([("api_key", key.as_str())]).unwrap())
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = format!("scripe_sk_live_{}", "x".repeat(32));
    for key in [wrong.as_str(), "garbage", wrong.as_str()] {
        let r = sign_in_from(attacker.clone(), key.to_string()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for key in [wrong.as_str(), app.live_key.as_str()] {
        let r = sign_in_from(attacker.clone(), key.to_string()).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(r.headers().get(SET_COOKIE).is_none());
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&retry_after), "{retry_after}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Too many failed sign-in attempts from your address; try again in"),
            "{html}"
        );
        assert!(html.contains(" s."), "{html}");
    }
    // One budget with the API: the address is refused there too.
    let api = attacker
        .get(app.url("/v1/webhook-endpoints"))
        .bearer_auth(&app.live_key)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address is unaffected.
    let r = sign_in_from(bystander, app.live_key.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// The call policy and description on the integration form: garbage and oversize values are
/// refused beside their field with the API's words; a good form saves exactly that policy; Try it
/// with a method or path outside it (a forged post) is refused with `call_not_allowed`, and
/// nothing reaches the upstream.
#[suite_test]
async fn the_call_policy_fields_are_validated_saved_and_enforced_on_try_it() {
    let app = spawn_app().await;
    let upstream = Receiver::start().await;
    let (_, cookie) = sign_in(&app, &app.live_key).await;
    let token = csrf_token(&app, &cookie, "/settings/integrations/new").await;
    let long_description = "d".repeat(2001);
    let long_prefix = format!("/{}", "p".repeat(600));
    let ok_url = "https://api.example.com/hook";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("description", &long_description)],
            "id=\"description-error\"",
        ),
        (
            vec![("description", "bell\u{7}")],
            "id=\"description-error\"",
        ),
        (
            vec![("allowed_method", "BREW")],
            "id=\"allowed-methods-error\"",
        ),
        (
            vec![("path_prefix", "no-slash")],
            "id=\"path-prefix-error\"",
        ),
        (vec![("path_prefix", "/a/../b")], "id=\"path-prefix-error\""),
        (
            vec![("path_prefix", &long_prefix)],
            "id=\"path-prefix-error\"",
        ),
        (vec![("path_prefix", "/x?y=1")], "id=\"path-prefix-error\""),
    ];
    for (extra, expected) in cases {
        let mut fields = vec![("_csrf", token.as_str()), ("url", ok_url), ("name", "x")];
        fields.extend(extra);
        let response = post_form(&app, Some(&cookie), "/settings/integrations/new", &fields).await;
        let status = response.status();
        let html = response.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}: {html}");
        assert!(html.contains(expected), "{fields:?} → {expected}: {html}");
    }
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(list["data"], json!([]));

    // A good form: the policy as ticked, the configured method always included.
    let response = post_form(
        &app,
        Some(&cookie),
        "/settings/integrations/new",
        &[
            ("_csrf", &token),
            ("url", &upstream.url),
            ("name", "Reports"),
            ("method", "POST"),
            ("allowed_method", "GET"),
            ("path_prefix", "/daily"),
            ("path_prefix", ""),
            ("allow_caller_headers", "on"),
            ("description", "Stores daily reports."),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = app.get_json(&app.live_key, "/v1/integrations").await;
    let saved = &list["data"][0];
    assert_eq!(saved["allowedMethods"], json!(["POST", "GET"]));
    assert_eq!(saved["allowedPathPrefixes"], json!(["/daily"]));
    assert_eq!(saved["allowCallerHeaders"], json!(true));
    assert_eq!(saved["description"], json!("Stores daily reports."));
    let id = saved["id"].as_str().unwrap();

    let page = get_page(&app, &cookie, &format!("/settings/integrations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">reports</code>"),
        "the MCP tool name: {page}"
    );
    assert!(!page.contains("<option value=\"DELETE\""), "{page}");

    let try_path = format!("/settings/integrations/{id}/try");
    for (method, path, rule) in [
        ("DELETE", "", "allowedMethods"),
        ("POST", "/admin", "allowedPathPrefixes"),
    ] {
        let response = post_form(
            &app,
            Some(&cookie),
            &try_path,
            &[
                ("_csrf", &token),
                ("try_method", method),
                ("try_path", path),
                ("try_body", ""),
            ],
        )
        .await;
        assert!(!response.status().is_server_error());
        let html = response.text().await.unwrap();
        assert!(
            html.contains("call_not_allowed") && html.contains(rule),
            "{method} {path}: {html}"
        );
    }
    assert_eq!(upstream.count(), 0, "a refused call sends nothing");

    // Editing: unticking GET and clearing the prefix goes back to the defaults.
    let edit = format!("/settings/integrations/{id}/edit");
    let response = post_form(
        &app,
        Some(&cookie),
        &edit,
        &[
            ("_csrf", &token),
            ("url", &upstream.url),
            ("name", "Reports"),
            ("method", "POST"),
            ("auth_type", "none"),
            ("content_type", "application/json"),
            ("timeout_ms", "10000"),
            ("path_prefix", ""),
            ("description", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, got) = app
        .get_json(&app.live_key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(got["data"]["allowedMethods"], json!(["POST"]));
    assert_eq!(got["data"]["allowedPathPrefixes"], json!([]));
    assert_eq!(got["data"]["allowCallerHeaders"], json!(false));
    assert_eq!(got["data"]["description"], json!(null));
}
