//! A password in a webhook endpoint's URL is write-only: sealed at rest, `****` in every read,
//! and still sent (as HTTP basic auth) with every delivery and test send. Endpoints stored with a
//! plaintext password by an earlier version are sealed when the server starts. Query parameters
//! declared secret (`secretQueryParams`) are write-only the same way, on endpoints and on
//! integrations.

use std::time::Duration;

use base64::Engine as _;
use hookd::crypto::Cipher;
use hookd::domain::endpoint::Endpoint;
use hookd::domain::ids::EndpointId;
use hookd::domain::secret::{KeyRing, SigningSecret};
use hookd::domain::time::Timestamp;
use hookd::store::StoredEndpoint;
use serde_json::json;

use crate::harness::*;

const PASSWORD: &str = "pw-Do-Not-Show-7731";

fn with_password(receiver: &Receiver) -> (String, String) {
    let url = receiver
        .url
        .replacen("http://", &format!("http://ada:{PASSWORD}@"), 1);
    let masked = receiver.url.replacen("http://", "http://ada:****@", 1);
    (url, masked)
}

/// The basic-auth header a receiver must get.
fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada:{PASSWORD}"))
    )
}

async fn delivered_with_basic_auth(app: &TestApp, receiver: &Receiver, count: usize) {
    eventually(Duration::from_secs(10), || async {
        (receiver.count() >= count).then_some(())
    })
    .await;
    for got in receiver.received() {
        assert_eq!(got.headers["authorization"], basic().as_str());
    }
    let _ = app;
}

#[suite_test]
async fn a_password_in_an_endpoint_url_is_sealed_masked_and_still_sent() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (url, masked) = with_password(&receiver);

    let created = app.create_endpoint(&url, &["post.created"]).await;
    assert_eq!(
        created["url"],
        masked.as_str(),
        "the create answer is masked"
    );
    let path = format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap());
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["url"], masked.as_str());
    let (_, listed) = app.get_json(&app.live_key, "/v1/webhook-endpoints").await;
    assert_eq!(listed["data"][0]["url"], masked.as_str());
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"name": "renamed"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["data"]["url"], masked.as_str());
    // The masked URL sent back as read (an edit form that changed only the name) keeps the
    // stored password rather than storing the mask.
    let (status, patched) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"name": "renamed again", "url": masked}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["url"], masked.as_str());

    // A delivery and a test send both carry the password.
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    delivered_with_basic_auth(&app, &receiver, 1).await;
    let (status, attempt) = app
        .post_json(
            &app.live_key,
            &format!("{path}/test"),
            &json!({"event": "post.created"}),
        )
        .await;
    assert_eq!(status, 200, "{attempt}");
    delivered_with_basic_auth(&app, &receiver, 2).await;

    // A new URL with another password replaces it, sealed as well.
    let (status, patched) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"url": url.replace(PASSWORD, "second-Pw-9")}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["data"]["url"], masked.as_str());

    let raw = app.raw_database_dump().await;
    for secret in [PASSWORD, "second-Pw-9"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in plaintext"
        );
    }
}

#[suite_test]
async fn plaintext_url_passwords_from_an_earlier_version_are_sealed_at_start() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (url, masked) = with_password(&receiver);
    // An endpoint as a version before sealing stored it: the password in plaintext.
    let (_, tenant) = app
        .store
        .authenticate(&hookd::domain::api_key::hash(&app.live_key))
        .await
        .unwrap()
        .unwrap();
    let cipher = Cipher::new(&[0x11; 32]);
    let now = Timestamp::now();
    let secret = SigningSecret::generate();
    let id = EndpointId::generate();
    let old = StoredEndpoint {
        endpoint: Endpoint {
            id: id.clone(),
            url: url.clone(),
            secret_query_params: Vec::new(),
            name: "old".into(),
            events: vec!["post.created".into()],
            is_active: true,
            disabled_reason: None,
            project_id: None,
            filter: None,
            rate_limit_per_sec: None,
            secret_last4: secret.last4(),
            description: String::new(),
            metadata: Default::default(),
            created_at: now,
            updated_at: now,
            auth: None,
        },
        signing_keys: cipher.seal_json(&KeyRing::new(secret)),
        auth_sealed: Default::default(),
    };
    app.store.insert_endpoint(&tenant, &old).await.unwrap();
    let (_, read) = app
        .get_json(&app.live_key, &format!("/v1/webhook-endpoints/{id}"))
        .await;
    assert_eq!(read["data"]["url"], masked.as_str(), "masked even before");

    // The next start seals it.
    let database = std::sync::Arc::clone(&app.database);
    let live_key = app.live_key.clone();
    app.stop().await;
    let app = spawn_app_on(TestDatabase::existing(&database.url), |_| {}).await;
    // Answering means started: the sealing step runs before the server accepts requests.
    let (status, read) = app
        .get_json(&live_key, &format!("/v1/webhook-endpoints/{id}"))
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["url"], masked.as_str());
    let raw = match crate::BACKEND {
        Backend::Sqlite => ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::read(database.dir.path().join(format!("hookd.db{s}"))).ok())
            .flatten()
            .collect::<Vec<u8>>(),
        Backend::Postgres => app.raw_database_dump().await,
    };
    assert!(
        !raw.windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "still stored in plaintext"
    );
    let (status, _) = app
        .post_json(
            &live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    delivered_with_basic_auth(&app, &receiver, 1).await;
}

#[suite_test]
async fn secret_query_params_are_sealed_masked_and_still_sent() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let url = format!("{}?token=qp-Secret-4411&region=eu", receiver.url);
    let masked = format!("{}?token=****&region=eu", receiver.url);
    let (status, created) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &json!({"name": "q", "url": url, "events": ["post.created"],
                    "secretQueryParams": ["token"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["url"], masked.as_str());
    assert_eq!(created["data"]["secretQueryParams"], json!(["token"]));
    let path = format!(
        "/v1/webhook-endpoints/{}",
        created["data"]["id"].as_str().unwrap()
    );
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["url"], masked.as_str());
    assert_eq!(read["data"]["secretQueryParams"], json!(["token"]));

    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        got[0].query.as_deref(),
        Some("token=qp-Secret-4411&region=eu")
    );

    let raw = app.raw_database_dump().await;
    let secret = "qp-Secret-4411";
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "{secret} is stored in plaintext"
    );

    // A parameter that is not in the URL, or a malformed list: 400 naming the field.
    for (bad, param) in [
        (json!(["nope"]), "secretQueryParams"),
        (json!([""]), "secretQueryParams"),
        (json!("token"), "secretQueryParams"),
        (json!([1]), "secretQueryParams[0]"),
    ] {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/webhook-endpoints",
                &json!({"name": "q", "url": url, "events": ["post.created"],
                        "secretQueryParams": bad}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }

    // PATCH: the list alone changes what is sealed (an empty one makes the token plain again,
    // as asked); a new URL keeps the secret parameters.
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"secretQueryParams": []}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["url"], url.as_str());
    assert_eq!(
        patched["data"].get("secretQueryParams"),
        None,
        "none: left out"
    );
    let (status, patched) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"secretQueryParams": ["token", "region"]}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let both = format!("{}?token=****&region=****", receiver.url);
    assert_eq!(patched["data"]["url"], both.as_str());
    let renewed = format!("{}?token=qp-Renewed-5522&region=us", receiver.url);
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"url": renewed}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["url"], both.as_str());

    let raw = app.raw_database_dump().await;
    let secret = "qp-Renewed-5522";
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "{secret} is stored in plaintext"
    );
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(
        got[1].query.as_deref(),
        Some("token=qp-Renewed-5522&region=us")
    );
}

/// An integration's secret query parameters: sealed at rest, `****` in every read and in the
/// call log, sent as configured; the masked URL sent back by a PATCH keeps the stored one.
#[suite_test]
async fn integration_secret_query_params_are_sealed_masked_and_still_sent() {
    let app = spawn_app().await;
    // Not an echo: an upstream that reflected the query would put the value in the call log's
    // response excerpt, which records the upstream's answer as it came.
    let up = crate::upstream::Upstream::start(|_| {
        crate::upstream::raw(
            200,
            &[("content-type", "application/json")],
            r#"{"ok":true}"#,
        )
    })
    .await;
    let secret = "iq-Secret-Value-8812";
    let url = format!("{}?apiKey={secret}&v=2", up.url("/v1"));
    let masked = format!("{}?apiKey=****&v=2", up.url("/v1"));
    let created = crate::integrations::create(
        &app,
        &app.live_key,
        json!({"name": "Reports", "url": url, "secretQueryParams": ["apiKey"]}),
    )
    .await;
    assert_eq!(created["url"], masked.as_str());
    assert_eq!(created["secretQueryParams"], json!(["apiKey"]));
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/v1/integrations/{id}");
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["url"], masked.as_str());
    let (_, listed) = app.get_json(&app.live_key, "/v1/integrations").await;
    assert_eq!(listed["data"][0]["url"], masked.as_str());

    let (status, answer) = crate::integrations::call(&app, &app.live_key, &id, json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        up.last().query.as_deref(),
        Some(format!("apiKey={secret}&v=2").as_str())
    );
    let (_, calls) = app.get_json(&app.live_key, &format!("{path}/calls")).await;
    assert_eq!(calls["data"][0]["url"], masked.as_str(), "{calls}");

    // An edit that sends the URL back as it reads keeps the stored value.
    let (status, patched) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"url": masked, "name": "Reports v2"}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["url"], masked.as_str());
    crate::integrations::call(&app, &app.live_key, &id, json!({})).await;
    assert_eq!(
        up.last().query.as_deref(),
        Some(format!("apiKey={secret}&v=2").as_str())
    );

    let raw = app.raw_database_dump().await;
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "{secret} is stored in plaintext"
    );

    // A name that is not a parameter of the URL: 400 naming the field, on create and PATCH.
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/integrations",
            &json!({"name": "Other", "url": url, "secretQueryParams": ["nope"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("secretQueryParams"),
    );
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"secretQueryParams": [7]}))
        .await;
    assert_error(
        status,
        &body,
        400,
        "invalid_request",
        Some("secretQueryParams[0]"),
    );

    // PATCH of the list alone: an empty list makes the value plain again, as asked.
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"secretQueryParams": []}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["url"], url.as_str());
    assert_eq!(
        patched["data"].get("secretQueryParams"),
        None,
        "none: left out"
    );
}

/// Deliveries carry one `Authorization` header: a URL with a password and an OAuth2 `auth` on
/// the same endpoint is refused (400 naming `auth`) on create and on either PATCH, rather than
/// silently dropping the password.
#[suite_test]
async fn a_url_password_and_oauth2_auth_are_not_combined() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (with_pw, _) = with_password(&receiver);
    let auth = json!({"type": "oauth2_client_credentials",
        "tokenUrl": format!("{}/oauth/token", receiver.url.trim_end_matches('/')),
        "clientId": "hookd-prod", "clientSecret": "client-secret-value"});
    let create = |url: &str, auth: Option<&serde_json::Value>| {
        let mut body = json!({"name": "both", "url": url, "events": ["post.created"]});
        if let Some(auth) = auth {
            body["auth"] = auth.clone();
        }
        body
    };

    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &create(&with_pw, Some(&auth)),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("auth"));

    // A password URL, then auth added by PATCH.
    let (status, created) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &create(&with_pw, None),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!(
        "/v1/webhook-endpoints/{}",
        created["data"]["id"].as_str().unwrap()
    );
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"auth": auth}))
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("auth"));

    // OAuth2 auth, then a password URL by PATCH; a URL without one is fine.
    let (status, created) = app
        .post_json(
            &app.live_key,
            "/v1/webhook-endpoints",
            &create(&receiver.url, Some(&auth)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!(
        "/v1/webhook-endpoints/{}",
        created["data"]["id"].as_str().unwrap()
    );
    let (status, body) = app
        .patch_json(&app.live_key, &path, &json!({"url": with_pw}))
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("auth"));
    let (status, body) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"url": format!("{}/other", receiver.url.trim_end_matches('/'))}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
