//! Secrets at rest: after endpoints are created (with and without idempotency keys), rotated and
//! API keys minted, the SQLite database and its WAL hold no signing secret and no API key in
//! plaintext.

use hookd::admin;
use hookd::domain::tenant::Mode;
use reqwest::Method;
use serde_json::Value;

use crate::fixtures::*;
use crate::harness::*;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Something shaped like a full API key: the prefix and at least 32 base62 characters.
fn find_api_key(haystack: &[u8]) -> Option<String> {
    for prefix in [&b"scripe_sk_live_"[..], b"scripe_sk_test_"] {
        for (at, _) in haystack
            .windows(prefix.len())
            .enumerate()
            .filter(|(_, w)| *w == prefix)
        {
            let rest = &haystack[at + prefix.len()..];
            let random = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if random >= 32 {
                let end = at + prefix.len() + random;
                return Some(String::from_utf8_lossy(&haystack[at..end]).into_owned());
            }
        }
    }
    None
}

/// Everything the database holds, as raw bytes.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    let bytes = app.raw_database_dump().await;
    assert!(!bytes.is_empty(), "no database content found");
    bytes
}

fn secret_of(answer: &Value) -> String {
    answer["data"]["secret"].as_str().unwrap().to_string()
}

#[suite_test]
async fn the_database_holds_no_plaintext_secret_or_key() {
    let app = spawn_app().await;
    let mut secrets = Vec::new();
    let mut keys = vec![app.live_key.clone(), app.test_key.clone()];

    let created = app.create_endpoint(URL, &["post.created"]).await;
    secrets.push(created["secret"].as_str().unwrap().to_string());
    let test_mode = app
        .create_endpoint_with(&app.test_key, URL, &["job.failed"])
        .await;
    secrets.push(test_mode["secret"].as_str().unwrap().to_string());

    // With an idempotency key the answer (which carries the secret) is kept for replays.
    let r = app
        .req(Method::POST, ENDPOINTS)
        .header("Idempotency-Key", "stored-answer")
        .json(&new_endpoint("kept"))
        .send()
        .await
        .unwrap();
    let (status, answer) = into_parts(r).await;
    assert_eq!(status, 201, "{answer}");
    secrets.push(secret_of(&answer));

    for (endpoint, key) in [
        (&created, Some("rotate-1")),
        (&created, None),
        (&test_mode, None),
    ] {
        let path = format!("{}/rotate-secret", endpoint_path(&endpoint["id"]));
        let api_key = if endpoint == &test_mode {
            &app.test_key
        } else {
            &app.live_key
        };
        let mut request = app.client.post(app.url(&path)).bearer_auth(api_key);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let (status, answer) = into_parts(request.send().await.unwrap()).await;
        assert_eq!(status, 200, "{answer}");
        secrets.push(secret_of(&answer));
    }

    let (b_live, b_test) = app.new_workspace("b").await;
    keys.extend([b_live.clone(), b_test]);
    let (_, extra) = admin::create_key(&app.store, "b", Mode::Live)
        .await
        .unwrap();
    keys.push(extra);
    let (status, answer) = app
        .post_json(&b_live, ENDPOINTS, &new_endpoint("b's"))
        .await;
    assert_eq!(status, 201, "{answer}");
    secrets.push(secret_of(&answer));

    // A replay still shows the secret: it is kept, but not in plaintext.
    let r = app
        .req(Method::POST, ENDPOINTS)
        .header("Idempotency-Key", "stored-answer")
        .json(&new_endpoint("kept"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let (_, replay) = into_parts(r).await;
    assert_eq!(secret_of(&replay), secrets[2]);

    let bytes = database_bytes(&app).await;
    for secret in &secrets {
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "secret {secret} is stored in plaintext"
        );
        assert!(
            !contains(&bytes, &secret.as_bytes()[6..]),
            "the hex of secret {secret} is stored in plaintext"
        );
    }
    assert!(
        !contains(&bytes, b"whsec_"),
        "something secret-shaped is stored"
    );
    for key in &keys {
        assert!(
            !contains(&bytes, key.as_bytes()),
            "API key {key} is stored in plaintext"
        );
    }
    assert_eq!(find_api_key(&bytes), None);
}
