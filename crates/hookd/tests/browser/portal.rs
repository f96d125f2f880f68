//! The customer portal in the browser: a project-scoped, read-only portal link shows only that
//! project's endpoints, without any change control, and works once.

use serde_json::json;

use super::support::Browser;

async fn endpoint(b: &Browser, name: &str, project: &str) -> String {
    let (status, body) = b
        .app
        .post_json(
            &b.app.live_key,
            "/v1/webhook-endpoints",
            &json!({"name": name, "url": "https://127.0.0.1:9/hook", "events": ["post.created"], "projectId": project}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

pub async fn a_read_only_project_portal_shows_only_its_project(b: &mut Browser) {
    let alpha = endpoint(b, "Alpha receiver", "proj_alpha").await;
    let beta = endpoint(b, "Beta receiver", "proj_beta").await;
    let (status, link) = b
        .app
        .post_json(
            &b.app.live_key,
            "/v1/portal-sessions",
            &json!({"projectId": "proj_alpha", "readOnly": true, "expiresInSecs": 600}),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let url = link["data"]["url"].as_str().unwrap().to_string();

    b.client.goto(&url).await.expect("open the portal link");
    b.wait_for_path("/endpoints").await;
    let text = b.wait_for_text("Alpha receiver").await;
    assert!(!text.contains("Beta receiver"), "{text}");
    assert!(text.to_lowercase().contains("read-only"), "{text}");
    assert!(!text.contains("Add an endpoint"), "no create form: {text}");
    assert!(!text.contains("API keys"), "no settings: {text}");
    b.check("portal-endpoints").await;

    b.goto(&format!("/endpoints/{alpha}")).await;
    let text = b.wait_for_text("Delivery log").await;
    for control in [
        "Disable",
        "Rotate secret",
        "Send test event",
        "Delete",
        "Replay",
    ] {
        assert!(!text.contains(control), "{control} is hidden: {text}");
    }
    assert!(b
        .client
        .find_all(fantoccini::Locator::Css("main form[method=post]"))
        .await
        .unwrap()
        .is_empty());
    b.check("portal-endpoint-detail").await;

    b.goto(&format!("/endpoints/{beta}")).await;
    b.wait_for_text("Not found").await;
    b.goto("/settings/api-keys").await;
    b.wait_for_text("Not allowed").await;

    // The link worked once.
    b.client.goto(&url).await.expect("open the link again");
    b.wait_for_text("Link expired or used").await;
    b.check("portal-link-used").await;
}
