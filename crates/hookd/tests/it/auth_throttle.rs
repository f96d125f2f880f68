//! Failed authentications throttled per source address: after the limit, 429 with
//! `Retry-After` for every request from that address until the window ends; successful requests
//! never count; another address (127.0.0.2, also loopback) is unaffected.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::*;

/// A client whose connections come from `source`.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(source.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn status_with(client: &reqwest::Client, app: &TestApp, key: &str) -> reqwest::Response {
    client
        .get(app.url("/v1/webhook-endpoints"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_authentications_from_one_address_are_throttled() {
    let app = spawn_app_with(|c| {
        c.auth_failure_limit = 5;
        c.auth_failure_window_secs = 2;
    })
    .await;
    let attacker = client_from("127.0.0.1");
    let bystander = client_from("127.0.0.2");
    let wrong = format!("scripe_sk_live_{}", "x".repeat(32));

    // Successful requests never count.
    for _ in 0..20 {
        assert_eq!(
            status_with(&attacker, &app, &app.live_key).await.status(),
            200
        );
    }
    // Missing, malformed and unknown keys all count; the fifth failure is still answered 401.
    let none = attacker
        .get(app.url("/v1/webhook-endpoints"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    for key in ["garbage", wrong.as_str(), wrong.as_str(), wrong.as_str()] {
        assert_eq!(status_with(&attacker, &app, key).await.status(), 401);
    }
    // Now every request from that address is refused, a right key included: a guess made
    // while throttled must not learn whether it was right.
    for key in [wrong.as_str(), app.live_key.as_str()] {
        let r = status_with(&attacker, &app, key).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&retry_after), "{retry_after}");
        let (status, body) = into_parts(r).await;
        assert_error(status, &body, 429, "rate_limited", None);
    }
    // Another address is unaffected, with a good key or a bad one.
    assert_eq!(
        status_with(&bystander, &app, &app.live_key).await.status(),
        200
    );
    assert_eq!(status_with(&bystander, &app, &wrong).await.status(), 401);

    // The window ends: the right key works again.
    eventually(Duration::from_secs(5), || async {
        (status_with(&attacker, &app, &app.live_key).await.status() == 200).then_some(())
    })
    .await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("hookd_auth_throttled_total"));
}

#[tokio::test]
async fn mcp_and_the_dashboard_sign_in_count_failures_and_honour_the_throttle() {
    let app = spawn_app_with(|c| {
        c.auth_failure_limit = 3;
        c.auth_failure_window_secs = 60;
    })
    .await;
    let attacker = client_from("127.0.0.1");
    let bystander = client_from("127.0.0.2");
    let wrong = format!("scripe_sk_live_{}", "x".repeat(32));
    let mcp = |client: &reqwest::Client, key: &str| {
        client
            .post(app.url("/mcp"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            )
            .send()
    };
    let sign_in = |client: &reqwest::Client, key: &str| {
        client
            .post(app.url("/sign-in"))
            .form(&[("api_key", key)])
            .send()
    };

    // Wrong keys at /mcp and at the sign-in form count like wrong keys at /v1.
    assert_eq!(mcp(&attacker, &wrong).await.unwrap().status(), 401);
    assert_eq!(sign_in(&attacker, &wrong).await.unwrap().status(), 401);
    assert_eq!(sign_in(&attacker, &wrong).await.unwrap().status(), 401);

    // Throttled, the address is refused at every door, a right key included.
    assert_eq!(
        status_with(&attacker, &app, &app.live_key).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = mcp(&attacker, &app.live_key).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = sign_in(&attacker, &app.live_key).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers().get("set-cookie").is_none());

    // Another address signs in and speaks MCP as before.
    assert_eq!(mcp(&bystander, &app.live_key).await.unwrap().status(), 200);
    let r = sign_in(&bystander, &app.live_key).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}
