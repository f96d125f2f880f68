//! Settings → Integrations in the browser: the Custom Webhook form against a real local
//! upstream, Try it, edit, disconnect, and the API's errors beside their fields.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::harness::Receiver;
use super::support::Browser;

/// An upstream answering 201 with a JSON body and a header of its own.
async fn upstream() -> Receiver {
    Receiver::responding(|n| {
        Box::pin(async move {
            (
                StatusCode::CREATED,
                [("x-upstream", "reports")],
                axum::Json(json!({"received": true, "call": n})),
            )
                .into_response()
        })
    })
    .await
}

pub async fn create_try_edit_and_disconnect_a_custom_webhook(b: &mut Browser) {
    let upstream = upstream().await;
    let key = b.app.live_key.clone();
    b.sign_in(&key).await;
    b.goto("/settings/integrations").await;
    b.click("a.tile").await;
    b.wait_for_path("/settings/integrations/new").await;
    b.check("custom-webhook-form").await;

    b.fill("#url", &upstream.url).await;
    b.fill("#header-name-0", "X-Team").await;
    b.fill("#header-value-0", "platform-team-1234").await;
    b.click("[data-add-header]").await;
    b.fill("#header-name-1", "X-Env").await;
    b.fill("#header-value-1", "staging-env-5678").await;
    // Only the chosen auth type's fields are shown.
    assert!(!b.find("#bearer_token").await.is_displayed().await.unwrap());
    assert!(!b
        .find("#basic_password")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.click("input[name=auth_type][value=oauth2_client_credentials]")
        .await;
    for field in [
        "#oauth_token_url",
        "#oauth_client_id",
        "#oauth_client_secret",
        "#oauth_scope",
    ] {
        assert!(b.find(field).await.is_displayed().await.unwrap(), "{field}");
    }
    assert!(!b.find("#bearer_token").await.is_displayed().await.unwrap());
    b.check("custom-webhook-oauth2").await;
    b.click("input[name=auth_type][value=bearer]").await;
    assert!(b.find("#bearer_token").await.is_displayed().await.unwrap());
    assert!(!b
        .find("#oauth_token_url")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert!(!b
        .find("#auth_header_value")
        .await
        .is_displayed()
        .await
        .unwrap());
    b.fill("#bearer_token", "tok_abcdefgh9876").await;
    b.fill("#timeout_ms", "5000").await;
    // The call policy: Try it below appends /daily, so that prefix is allowed; GET too.
    b.fill("#path-prefix-0", "/daily").await;
    b.click("input[name=allowed_method][value=GET]").await;
    b.fill("#name", "Internal reporting API").await;
    b.fill("#description", "Logs a summary of each automation run.")
        .await;
    b.check("custom-webhook-filled").await;
    b.check_on_phone("custom-webhook-filled").await;
    b.click("form[data-integration-form] button[type=submit]")
        .await;
    let text = b.wait_for_text("Integration saved.").await;
    // Credentials are write-only: only their last four characters are shown.
    assert!(text.contains("Bearer …9876"), "{text}");
    assert!(text.contains("…1234"), "{text}");
    assert!(!text.contains("tok_abcdefgh9876"), "{text}");
    assert!(text.contains("No calls yet"), "{text}");
    // The page shows the policy and the MCP tool agents call.
    let policy = b.text("[data-test=call-policy]").await;
    assert!(
        policy.contains("Logs a summary of each automation run.")
            && policy.contains("/daily and below")
            && policy.contains("POST")
            && policy.contains("GET")
            && policy.contains("Not allowed"),
        "{policy}"
    );
    assert_eq!(
        b.text("[data-test=tool-name]").await,
        "internal_reporting_api"
    );
    // Try it offers only the allowed methods.
    let options = b.text("#try_method").await;
    assert!(
        options.contains("POST") && options.contains("GET") && !options.contains("DELETE"),
        "{options}"
    );
    b.check("integration-created").await;

    // A path outside the allowed prefixes is refused with the API's call_not_allowed message,
    // and nothing reaches the upstream.
    b.fill("#try_path", "/admin").await;
    b.click("#try-panel button[type=submit]").await;
    let text = b.wait_for_text("call_not_allowed").await;
    assert!(
        text.contains("This integration does not allow the path \"/admin\""),
        "{text}"
    );
    b.check("try-it-refused").await;

    // Try it: the upstream's answer appears in the panel.
    b.fill("#try_path", "/daily").await;
    b.fill("#try_body", r#"{"hello": "world"}"#).await;
    b.click("#try-panel button[type=submit]").await;
    b.wait_for_text("\"received\": true").await;
    assert_eq!(b.text("[data-test=try-status]").await, "201");
    let text = b.wait_for_text("x-upstream").await;
    assert!(text.contains("reports"), "{text}");
    b.check("try-it-answer").await;
    let got = upstream.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].path, "/hook/daily");
    assert_eq!(got[0].headers["authorization"], "Bearer tok_abcdefgh9876");
    assert_eq!(got[0].headers["x-team"], "platform-team-1234");
    assert_eq!(got[0].headers["x-env"], "staging-env-5678");
    let sent: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(sent, json!({"hello": "world"}));
    // The call log shows the call.
    let log = b.text("#call-log").await;
    assert!(log.contains("201") && log.contains("/hook/daily"), "{log}");
    assert!(
        log.contains("api"),
        "the log says how the call was made: {log}"
    );
    assert_eq!(
        upstream.received().len(),
        1,
        "the refused call sent nothing"
    );

    // Edit through the ··· menu: rename, new timeout, one header dropped; secrets left blank
    // keep their saved values.
    b.goto("/settings/integrations").await;
    b.click("details.menu summary").await;
    b.check("integrations-list-menu").await;
    b.click("details.menu a[href$='/edit']").await;
    b.wait_for_text("Save changes").await;
    b.check("integration-edit").await;
    b.fill("#name", "Reporting API").await;
    b.fill("#timeout_ms", "8000").await;
    // Rows are in name order: X-Env first.
    assert_eq!(
        b.find("#header-name-0")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("X-Env")
    );
    b.click("#header-rows [data-header-row]:first-child [data-remove-header]")
        .await;
    b.click("form[data-integration-form] button[type=submit]")
        .await;
    let text = b.wait_for_text("Changes saved.").await;
    assert!(
        text.contains("Reporting API") && text.contains("8000 ms"),
        "{text}"
    );
    assert!(!text.contains("X-Env"), "{text}");
    // The policy was kept, and the tool follows the new name.
    assert!(text.contains("/daily and below"), "{text}");
    assert_eq!(b.text("[data-test=tool-name]").await, "reporting_api");
    b.click("#try-panel button[type=submit]").await;
    b.wait_for_text("\"call\": 1").await;
    let got = upstream.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got[1].headers["authorization"], "Bearer tok_abcdefgh9876");
    assert_eq!(got[1].headers["x-team"], "platform-team-1234");
    assert!(got[1].headers.get("x-env").is_none());

    // Disconnect, with its warning.
    let id = b
        .path()
        .await
        .trim_start_matches("/settings/integrations/")
        .split(['/', '?'])
        .next()
        .unwrap()
        .to_string();
    b.goto("/settings/integrations").await;
    b.click("details.menu summary").await;
    b.click("details.menu a[href$='/disconnect']").await;
    let text = b
        .wait_for_text("Scripts and agents calling it will fail from then on")
        .await;
    assert!(text.contains("Disconnect Reporting API?"), "{text}");
    b.check("disconnect-confirm").await;
    b.click("button.danger").await;
    let text = b.wait_for_text("Integration disconnected.").await;
    assert!(text.contains("No integrations yet"), "{text}");
    b.check("integration-disconnected").await;
    let (status, body) = b
        .app
        .get_json(&key, &format!("/v1/integrations/{id}"))
        .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
}

pub async fn form_errors_are_shown_beside_their_fields(b: &mut Browser) {
    let key = b.app.live_key.clone();
    let (status, _) = b
        .app
        .post_json(
            &key,
            "/v1/integrations",
            &json!({"name": "Billing", "url": "https://billing.example.com/hook"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // What the API says about a bad URL, to compare with the page.
    let (_, api_error) = b
        .app
        .post_json(
            &key,
            "/v1/integrations",
            &json!({"name": "X", "url": "ftp://files.example.com/"}),
        )
        .await;
    let api_message = api_error["error"]["message"].as_str().unwrap().to_string();

    b.sign_in(&key).await;
    b.goto("/settings/integrations/new").await;
    b.fill("#url", "ftp://files.example.com/").await;
    b.fill("#name", "billing").await;
    b.click("form[data-integration-form] button[type=submit]")
        .await;
    b.wait_for_text("Some fields need attention").await;
    assert_eq!(b.text("#url-error").await, api_message);
    let url_input = b.find("#url").await;
    assert_eq!(
        url_input.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    // The form comes back filled in.
    assert_eq!(
        url_input.prop("value").await.unwrap().as_deref(),
        Some("ftp://files.example.com/")
    );
    b.check("form-errors").await;

    b.fill("#url", "https://other.example.com/hook").await;
    b.fill("#timeout_ms", "70000").await;
    b.click("form[data-integration-form] button[type=submit]")
        .await;
    let error = b.text("#timeout_ms-error").await;
    assert!(error.contains("timeoutMs"), "{error}");
    b.fill("#timeout_ms", "10000").await;
    b.click("form[data-integration-form] button[type=submit]")
        .await;
    let error = b.text("#name-error").await;
    assert!(error.contains("already exists"), "{error}");
}
