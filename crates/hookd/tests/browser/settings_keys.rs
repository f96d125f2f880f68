//! Settings → API keys: create (shown once), list, revoke; revoking your own key signs you out.

use reqwest::StatusCode;

use super::support::Browser;

async fn api_status(b: &Browser, key: &str) -> StatusCode {
    b.app
        .client
        .get(b.app.url("/v1/integrations"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

pub async fn create_and_revoke_a_key(b: &mut Browser) {
    let key = b.app.test_key.clone();
    b.sign_in(&key).await;
    b.goto("/settings/api-keys").await;
    let text = b.wait_for_text("Active test keys").await;
    assert!(text.contains("This session"), "{text}");
    b.check("api-keys").await;

    b.fill("#name", "CI deploy").await;
    b.click("form[action='/settings/api-keys'] button[type=submit]")
        .await;
    let shown = b
        .find("#new-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(shown.starts_with("scripe_sk_test_"), "{shown}");
    let text = b.wait_for_text("shown only this once").await;
    assert!(text.contains("CI deploy"), "{text}");
    b.check("api-key-created").await;
    assert_eq!(api_status(b, &shown).await, StatusCode::OK);

    // Revoke it from its row.
    let last4 = &shown[shown.len() - 4..];
    b.click(&format!("a[aria-label$='…{last4}']")).await;
    let text = b.wait_for_text("cannot be undone").await;
    assert!(!text.contains("signs you out"), "{text}");
    b.check("revoke-confirm").await;
    b.click("button.danger").await;
    b.wait_for_text("Key revoked.").await;
    assert_eq!(api_status(b, &shown).await, StatusCode::UNAUTHORIZED);
    // The session's own key still works.
    assert_eq!(api_status(b, &key).await, StatusCode::OK);
}

pub async fn revoking_your_own_key_signs_you_out(b: &mut Browser) {
    let key = b.app.live_key.clone();
    b.sign_in(&key).await;
    b.goto("/settings/api-keys").await;
    let last4 = &key[key.len() - 4..];
    b.click(&format!("a[aria-label$='…{last4}']")).await;
    b.wait_for_text("revoking it signs you out").await;
    b.click("button.danger").await;
    b.wait_for_path("/sign-in").await;
    b.wait_for_text("was revoked, so you were signed out").await;
    b.check("signed-out-by-revocation").await;
    assert_eq!(api_status(b, &key).await, StatusCode::UNAUTHORIZED);
    b.goto("/settings/api-keys").await;
    b.wait_for_path("/sign-in").await;
}
