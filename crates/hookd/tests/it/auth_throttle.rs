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
