//! Signing in and out, refused keys, expired sessions and forms without their CSRF token.

use std::time::Duration;

use hookd::config::HumanDuration;

use super::harness;
use super::support::Browser;

pub async fn signs_in_and_out_with_a_key(b: &mut Browser) {
    b.goto("/").await;
    b.wait_for_path("/sign-in").await;
    b.check("sign-in").await;

    let key = b.app.test_key.clone();
    b.sign_in(&key).await;
    // Signing in lands on the first page of the navigation: Endpoints.
    b.wait_for_path("/endpoints").await;
    b.goto("/settings/integrations").await;
    let text = b.wait_for_text("Integrations").await;
    assert!(text.contains("Test mode"), "no test-mode banner: {text}");
    assert!(text.contains("No integrations yet"), "{text}");
    b.check("integrations-empty").await;
    b.check_on_phone("integrations-empty").await;

    b.click("form.sign-out button").await;
    b.wait_for_path("/sign-in").await;
    b.wait_for_text("You are signed out.").await;
    b.goto("/settings/integrations").await;
    b.wait_for_path("/sign-in").await;
}

pub async fn a_wrong_key_is_refused(b: &mut Browser) {
    b.goto("/sign-in").await;
    b.fill("#api_key", &format!("scripe_sk_live_{}", "a".repeat(40)))
        .await;
    b.click("button[type=submit]").await;
    let text = b.wait_for_text("unknown or revoked").await;
    assert!(
        text.contains("The API key is unknown or revoked."),
        "{text}"
    );
    assert_eq!(b.path().await, "/sign-in");
    b.check("sign-in-refused").await;

    b.fill("#api_key", "not-a-key").await;
    b.click("button[type=submit]").await;
    b.wait_for_text("The API key is malformed.").await;
    // Not signed in: the pages still send you to the sign-in form.
    b.goto("/settings/api-keys").await;
    b.wait_for_path("/sign-in").await;
}

pub async fn an_expired_session_is_refused(b: &mut Browser) {
    // A server whose sessions last two seconds.
    let short = harness::spawn_app_with(|c| {
        c.dashboard_session_ttl = HumanDuration(Duration::from_secs(2));
    })
    .await;
    let previous = std::mem::replace(&mut b.app, short);
    previous.stop().await;

    let key = b.app.live_key.clone();
    b.sign_in(&key).await;
    b.wait_for_path("/endpoints").await;
    harness::eventually(Duration::from_secs(15), || async {
        b.goto("/settings/api-keys").await;
        let url = b.client.current_url().await.ok()?;
        (url.path() == "/sign-in").then_some(())
    })
    .await;
    b.check("session-expired").await;
}

pub async fn a_form_post_without_the_csrf_token_is_refused(b: &mut Browser) {
    let key = b.app.live_key.clone();
    b.sign_in(&key).await;
    b.goto("/settings/api-keys").await;
    b.fill("#name", "forged").await;
    b.client
        .execute(
            "document.querySelectorAll('input[name=_csrf]').forEach(e => e.remove());",
            vec![],
        )
        .await
        .expect("remove the token");
    b.click("form[action='/settings/api-keys'] button[type=submit]")
        .await;
    let text = b.wait_for_text("could not be verified").await;
    assert!(text.contains("Not allowed"), "{text}");
    b.check("csrf-refused").await;
    // Nothing was created.
    let keys = b.app.store.list_api_keys(None).await.unwrap();
    assert!(keys.iter().all(|k| k.name.as_deref() != Some("forged")));
}

/// Repeated wrong keys from one address get a readable "try again in N s" on the sign-in form
/// (429), and then even the right key is refused until the window ends.
pub async fn repeated_wrong_keys_are_throttled(b: &mut Browser) {
    let strict = harness::spawn_app_with(|c| {
        c.auth_failure_limit = 2;
        c.auth_failure_window_secs = 60;
    })
    .await;
    let previous = std::mem::replace(&mut b.app, strict);
    previous.stop().await;

    let wrong = format!("scripe_sk_live_{}", "b".repeat(40));
    for _ in 0..2 {
        b.goto("/sign-in").await;
        b.fill("#api_key", &wrong).await;
        b.click("button[type=submit]").await;
        b.wait_for_text("unknown or revoked").await;
    }
    let key = b.app.live_key.clone();
    b.goto("/sign-in").await;
    b.fill("#api_key", &key).await;
    b.click("button[type=submit]").await;
    let text = b
        .wait_for_text("Too many failed sign-in attempts from your address")
        .await;
    assert!(text.contains("try again in"), "{text}");
    assert_eq!(b.path().await, "/sign-in");
    b.check("sign-in-throttled").await;
}
