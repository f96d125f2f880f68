//! Invalid fields in create and update bodies: each is a 400 naming the field in `param`, never a
//! 500, and changes nothing. Destinations the egress policy refuses are 400 `url_not_allowed`;
//! those checks look at IP literals and `/etc/hosts` only, so no packet is sent.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::harness::*;

/// A valid create body with `field` replaced by `value` (or removed when `value` is `None`).
fn create_with(field: &str, value: Option<Value>) -> Value {
    let mut body = json!({"name": "n", "url": URL, "events": ["post.created"], "projectId": "p"});
    match value {
        Some(v) => body[field] = v,
        None => {
            body.as_object_mut().unwrap().remove(field);
        }
    }
    body
}

fn long_url(total: usize) -> String {
    let base = "https://127.0.0.1:9/";
    format!("{base}{}", "a".repeat(total - base.len()))
}

/// (field, bad value or `None` for missing, expected `param`)
fn invalid_create_fields() -> Vec<(&'static str, Option<Value>, &'static str)> {
    vec![
        ("name", None, "name"),
        ("name", Some(Value::Null), "name"),
        ("name", Some(json!(5)), "name"),
        ("name", Some(json!(["n"])), "name"),
        ("name", Some(json!("")), "name"),
        ("name", Some(json!("   ")), "name"),
        ("name", Some(json!("n".repeat(129))), "name"),
        ("name", Some(json!("é".repeat(129))), "name"),
        ("name", Some(json!("line\nbreak")), "name"),
        ("url", None, "url"),
        ("url", Some(Value::Null), "url"),
        ("url", Some(json!(443)), "url"),
        ("url", Some(json!({"href": URL})), "url"),
        ("url", Some(json!("")), "url"),
        ("url", Some(json!("ftp://127.0.0.1/hook")), "url"),
        ("url", Some(json!("file:///etc/passwd")), "url"),
        ("url", Some(json!("/relative/path")), "url"),
        ("url", Some(json!("127.0.0.1/hook")), "url"),
        ("url", Some(json!("https://")), "url"),
        ("url", Some(json!("https://127.0.0.1/#fragment")), "url"),
        ("url", Some(json!(long_url(1025))), "url"),
        ("url", Some(json!(long_url(5000))), "url"),
        ("events", None, "events"),
        ("events", Some(Value::Null), "events"),
        ("events", Some(json!("post.created")), "events"),
        ("events", Some(json!([])), "events"),
        ("events", Some(json!([1])), "events[0]"),
        ("events", Some(json!([null])), "events[0]"),
        ("events", Some(json!(["nope"])), "events[0]"),
        ("events", Some(json!(["Post.Created"])), "events[0]"),
        (
            "events",
            Some(json!(["post.created", "post.deleted"])),
            "events[1]",
        ),
        ("projectId", Some(json!("")), "projectId"),
        ("projectId", Some(json!(5)), "projectId"),
        ("projectId", Some(json!({})), "projectId"),
        ("projectId", Some(json!("p".repeat(129))), "projectId"),
        ("secret", Some(json!("whsec_00")), "secret"),
        ("isActive", Some(json!(false)), "isActive"),
        ("project_id", Some(json!("p")), "project_id"),
    ]
}

#[suite_test]
async fn each_invalid_create_field_is_a_400_naming_it_and_creates_nothing() {
    let app = spawn_app().await;
    for (field, value, param) in invalid_create_fields() {
        let body = create_with(field, value);
        let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn boundary_values_are_accepted() {
    let app = spawn_app().await;
    let accepted = [
        ("url", json!(long_url(1024))),
        ("projectId", Value::Null),
        ("projectId", json!("p".repeat(128))),
        ("name", json!("Ünïcode ✓ names")),
    ];
    for (field, value) in accepted {
        let body = create_with(field, Some(value.clone()));
        let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_eq!(status, 201, "{body} -> {answer}");
        assert_eq!(answer["data"][field], value);
    }
}

#[suite_test]
async fn plain_http_is_refused_unless_allowed() {
    let app = spawn_app_with(|c| c.egress_allow_http = false).await;
    let body = create_with("url", Some(json!("http://127.0.0.1:9/hook")));
    let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_error(status, &answer, 400, "url_not_allowed", Some("url"));
    assert_no_endpoints(&app, &app.live_key).await;
    let (status, answer) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &create_with("url", Some(json!(URL))),
        )
        .await;
    assert_eq!(status, 201, "https is fine: {answer}");

    let allowed = spawn_app().await;
    let (status, answer) = allowed.post_json(&allowed.live_key, ENDPOINTS, &body).await;
    assert_eq!(
        status, 201,
        "egress_allow_http = true accepts http: {answer}"
    );
}

const INTERNAL_DESTINATIONS: [&str; 12] = [
    "https://127.0.0.1/x",
    "https://127.1.2.3:8443/x",
    "https://2130706433/",
    "https://0x7f.0.0.1/",
    "https://10.0.0.1/",
    "https://192.168.1.1/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://[::1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://localhost/",
];

#[suite_test]
async fn internal_destinations_are_refused_when_not_allowlisted() {
    let app = spawn_app_with(|c| c.egress_allow_nets.clear()).await;
    for url in INTERNAL_DESTINATIONS {
        let body = create_with("url", Some(json!(url)));
        let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
        assert_error(status, &answer, 400, "url_not_allowed", Some("url"));
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("HOOKD_EGRESS_ALLOW_NETS"),
            "the message says how to allow it: {answer}"
        );
    }
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn patching_to_an_internal_destination_is_refused_and_changes_nothing() {
    // Only 127.0.0.9 is allowlisted: somewhere valid to start from, and nothing else internal.
    let app = spawn_app_with(|c| c.egress_allow_nets = vec!["127.0.0.9/32".parse().unwrap()]).await;
    let created = app
        .create_endpoint("https://127.0.0.9/ok", &["post.created"])
        .await;
    let path = endpoint_path(&created["id"]);
    for url in INTERNAL_DESTINATIONS {
        let (status, answer) = app
            .patch_json(
                &app.live_key,
                &path,
                &json!({"url": url, "name": "changed"}),
            )
            .await;
        assert_error(status, &answer, 400, "url_not_allowed", Some("url"));
    }
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["url"], "https://127.0.0.9/ok");
    assert_eq!(read["data"]["name"], created["name"]);
}

/// (PATCH body, expected `param`)
fn invalid_patches() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(129)}), "name"),
        (json!({"name": 1}), "name"),
        (json!({"url": null}), "url"),
        (json!({"url": "ftp://127.0.0.1/"}), "url"),
        (json!({"url": long_url(1025)}), "url"),
        (json!({"events": null}), "events"),
        (json!({"events": []}), "events"),
        (json!({"events": ["post.created", "nope"]}), "events[1]"),
        (json!({"projectId": ""}), "projectId"),
        (json!({"projectId": 7}), "projectId"),
        (json!({"isActive": null}), "isActive"),
        (json!({"isActive": "false"}), "isActive"),
        (json!({"isActive": 0}), "isActive"),
        (json!({"disabledReason": "manual"}), "disabledReason"),
        (json!({"secret": "whsec_00"}), "secret"),
        (json!({"id": "whe_01jc8z6f3v2m9q4w7x5y8z0a1b"}), "id"),
        (json!({"name": "fine", "events": []}), "events"),
    ]
}

#[suite_test]
async fn each_invalid_patch_is_a_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let body = json!({"name": "orig", "url": URL, "events": ["post.created"], "projectId": "p"});
    let (status, created) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_eq!(status, 201);
    let path = endpoint_path(&created["data"]["id"]);
    let (_, before) = app.get_json(&app.live_key, &path).await;
    for (patch, param) in invalid_patches() {
        let (status, answer) = app.patch_json(&app.live_key, &path, &patch).await;
        assert_eq!(status, 400, "{patch} -> {answer}");
        assert_error(status, &answer, 400, "invalid_request", Some(param));
    }
    let (_, after) = app.get_json(&app.live_key, &path).await;
    assert_eq!(after, before);
}
