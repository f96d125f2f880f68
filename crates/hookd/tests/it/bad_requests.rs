//! Malformed requests below the field level: broken or non-object JSON, oversized bodies, bad
//! encodings and content types, bad query strings and bad ids in the path. Each is a clear 4xx in
//! the JSON error shape, never a 500, and changes nothing.

use futures_util::stream;
use reqwest::Method;
use serde_json::json;

use crate::fixtures::*;
use crate::harness::*;

const JSON: Option<&str> = Some("application/json");

#[suite_test]
async fn bodies_that_are_not_one_json_object_are_400() {
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"name\": \"x\", \"url\":".to_vec(),
        b"{name: 'x'}".to_vec(),
        b"[]".to_vec(),
        br#"[{"name": "n", "url": "https://127.0.0.1:9/hook", "events": ["post.created"]}]"#
            .to_vec(),
        b"\"a string\"".to_vec(),
        b"null".to_vec(),
        b"42".to_vec(),
        b"".to_vec(),
        b"   \n".to_vec(),
        br#"{"name": "n", "url": "https://127.0.0.1:9/hook", "events": ["post.created"]} {}"#
            .to_vec(),
        br#"{"name": "a", "name": "b", "url": "https://127.0.0.1:9/hook", "events": ["post.created"]}"#
            .to_vec(),
        deep.into_bytes(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
        let (status, answer) = send_raw(&app, Method::POST, ENDPOINTS, JSON, body).await;
        assert_error(status, &answer, 400, "invalid_request", None);
        assert!(
            answer["error"]["message"].as_str().unwrap().len() < 1000,
            "{shown}"
        );
    }
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn invalid_utf8_is_400() {
    let app = spawn_app().await;
    let mut body = br#"{"name": "bad "#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(br#"", "url": "https://127.0.0.1:9/hook", "events": ["post.created"]}"#);
    let (status, answer) = send_raw(&app, Method::POST, ENDPOINTS, JSON, body.clone()).await;
    assert_error(status, &answer, 400, "invalid_request", None);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{answer}"
    );
    assert_no_endpoints(&app, &app.live_key).await;

    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let (status, answer) = send_raw(
        &app,
        Method::PATCH,
        &path,
        JSON,
        b"{\"name\": \"\xff\"}".to_vec(),
    )
    .await;
    assert_error(status, &answer, 400, "invalid_request", None);
}

#[suite_test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app().await;
    let ten_mb = || {
        let mut body = br#"{"name": ""#.to_vec();
        body.resize(10 * 1024 * 1024, b'a');
        body.extend_from_slice(
            br#"", "url": "https://127.0.0.1:9/hook", "events": ["post.created"]}"#,
        );
        body
    };
    let (status, answer) = send_raw(&app, Method::POST, ENDPOINTS, JSON, ten_mb()).await;
    assert_error(status, &answer, 413, "payload_too_large", None);

    // Chunked, with no Content-Length to refuse up front.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        ten_mb().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(stream::iter(chunks));
    let (status, answer) = send_raw(&app, Method::POST, ENDPOINTS, JSON, body).await;
    assert_error(status, &answer, 413, "payload_too_large", None);

    // Through the idempotency layer, which reads the body itself.
    let r = app
        .req(Method::POST, ENDPOINTS)
        .header("content-type", "application/json")
        .header("Idempotency-Key", "big-1")
        .body(ten_mb())
        .send()
        .await
        .unwrap();
    let (status, answer) = into_parts(r).await;
    assert_error(status, &answer, 413, "payload_too_large", None);

    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let (status, answer) = send_raw(&app, Method::PATCH, &path, JSON, ten_mb()).await;
    assert_error(status, &answer, 413, "payload_too_large", None);
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["name"], created["name"]);
    assert_eq!(listed_ids(&app, &app.live_key).await.len(), 1);
}

#[suite_test]
async fn the_body_limit_is_configurable() {
    let app = spawn_app_with(|c| c.max_body_bytes = 2048).await;
    let mut body = new_endpoint("n");
    body["name"] = json!("n".repeat(100));
    body["url"] = json!(format!("{URL}?{}", "q".repeat(2000)));
    let (status, answer) = app.post_json(&app.live_key, ENDPOINTS, &body).await;
    assert_error(status, &answer, 413, "payload_too_large", None);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2048"),
        "{answer}"
    );
    assert_no_endpoints(&app, &app.live_key).await;
}

#[suite_test]
async fn only_json_content_types_are_accepted() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&new_endpoint("typed")).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        Some("application/xml"),
        Some(""),
    ] {
        let (status, answer) =
            send_raw(&app, Method::POST, ENDPOINTS, content_type, body.clone()).await;
        assert_error(status, &answer, 415, "unsupported_media_type", None);
    }
    assert_no_endpoints(&app, &app.live_key).await;

    let created = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&created["id"]);
    let (status, answer) = send_raw(
        &app,
        Method::PATCH,
        &path,
        Some("text/plain"),
        r#"{"name":"x"}"#,
    )
    .await;
    assert_error(status, &answer, 415, "unsupported_media_type", None);
    let (status, answer) = send_raw(&app, Method::PATCH, &path, None, r#"{"name":"x"}"#).await;
    assert_error(status, &answer, 415, "unsupported_media_type", None);
    let (_, read) = app.get_json(&app.live_key, &path).await;
    assert_eq!(read["data"]["name"], created["name"]);

    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let (status, answer) = send_raw(
            &app,
            Method::POST,
            ENDPOINTS,
            Some(content_type),
            body.clone(),
        )
        .await;
        assert_eq!(status, 201, "{content_type}: {answer}");
    }
}

#[suite_test]
async fn bad_list_parameters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    app.create_endpoint(URL, &["post.created"]).await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=1000", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("cursor=nope", "cursor"),
        ("cursor=evt_01jc8z6f3v2m9q4w7x5y8z0a1b", "cursor"),
        ("cursor=whe_short", "cursor"),
        ("isActive=maybe", "isActive"),
        ("isActive=1", "isActive"),
        ("isActive=", "isActive"),
        ("foo=bar", "foo"),
        ("project_id=p", "project_id"),
        ("is_active=true", "is_active"),
        ("limit=10&bogus=1", "bogus"),
    ];
    for (query, param) in cases {
        let (status, body) = app
            .get_json(&app.live_key, &format!("{ENDPOINTS}?{query}"))
            .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
    let (status, body) = app
        .get_json(&app.live_key, &format!("{ENDPOINTS}?limit=1&limit=2"))
        .await;
    assert_error(status, &body, 400, "invalid_request", None);
}

#[suite_test]
async fn ids_of_another_kind_or_garbage_are_404() {
    let app = spawn_app().await;
    let created = app.create_endpoint(URL, &["post.created"]).await;
    let real = created["id"].as_str().unwrap();
    let long = "x".repeat(5000);
    let bad_ids = [
        "evt_01jc8z6f3v2m9q4w7x5y8z0a1b".to_string(),
        format!("evt_{}", &real[4..]),
        "whe_01jc8z6f3v2m9q4w7x5y8z0a1b".to_string(),
        "whe_".to_string(),
        "whe_a1b2c3d4e5f6g7h8".to_string(),
        format!("{real}x"),
        format!("{real}%20"),
        format!("%20{real}"),
        "nope".to_string(),
        "%00".to_string(),
        "%FF".to_string(),
        "%C3%28".to_string(),
        "..%2F..%2Fetc".to_string(),
        "%E2%80%AE".to_string(),
        long,
    ];
    for id in &bad_ids {
        let path = format!("{ENDPOINTS}/{id}");
        let (status, body) = app.get_json(&app.live_key, &path).await;
        assert_error(status, &body, 404, "not_found", None);
        let (status, body) = app
            .patch_json(&app.live_key, &path, &json!({"name": "x"}))
            .await;
        assert_error(status, &body, 404, "not_found", None);
        let (status, body) = app.delete(&app.live_key, &path).await;
        assert_error(status, &body, 404, "not_found", None);
        let rotate = format!("{path}/rotate-secret");
        let (status, body) = app.post_json(&app.live_key, &rotate, &json!({})).await;
        assert_error(status, &body, 404, "not_found", None);
    }
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    let (_, read) = app
        .get_json(&app.live_key, &endpoint_path(&created["id"]))
        .await;
    assert_eq!(read["data"], expected, "nothing changed");
}

#[suite_test]
async fn json_nested_deeper_than_64_levels_is_400_naming_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    // A field's value nested `depth` levels (`[1]` is one level).
    let arrays = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let objects = |depth: usize| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let event = |data: &str| format!(r#"{{"type": "post.created", "data": {data}}}"#);

    // `data` must be an object: `{"x": [..]}` is one level more than its array.
    let wrapped = |depth: usize| format!(r#"{{"x": {}}}"#, arrays(depth - 1));
    let accepted = [
        wrapped(64),
        objects(64),
        // Brackets inside strings are not nesting (nor is an escaped quote the string's end).
        format!(r#"{{"s": "[[[{{{{\"[", "x": {}}}"#, arrays(63)),
    ];
    for data in &accepted {
        let (status, answer) = send_raw(&app, Method::POST, "/v1/events", JSON, event(data)).await;
        assert_eq!(status, 202, "{answer}");
    }
    let refused = [
        wrapped(65),
        objects(65),
        wrapped(100_000),
        objects(100_000),
        format!(r#"{{"s": "]]]}}}}\"]", "x": {}}}"#, arrays(64)),
    ];
    for data in refused {
        let (status, answer) = send_raw(&app, Method::POST, "/v1/events", JSON, event(&data)).await;
        assert_error(status, &answer, 400, "invalid_request", Some("data"));
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("64"),
            "{answer}"
        );
    }
    let (status, listed) = app.get_json(&app.live_key, "/v1/events?limit=100").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        accepted.len(),
        "{listed}"
    );

    // Every JSON body, not only events: the field at fault is named.
    let body = format!(
        r#"{{"name": "n", "url": "https://127.0.0.1:9/hook", "events": {}}}"#,
        arrays(100_000)
    );
    let (status, answer) = send_raw(&app, Method::POST, ENDPOINTS, JSON, body).await;
    assert_error(status, &answer, 400, "invalid_request", Some("events"));
    assert_no_endpoints(&app, &app.live_key).await;
}
