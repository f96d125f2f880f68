//! What the dashboard's pages need from the API, which scripts get too: `GET /v1/deliveries`
//! across endpoints with its filters, `GET /v1/events?type=`, an endpoint's `description` and
//! `metadata`, and test sends kept in the endpoint's delivery log.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::delivery::{create_endpoint_json, publish, WAIT};
use crate::fixtures::*;
use crate::harness::*;

/// The ids of a list answer (asserting 200).
async fn ids(app: &TestApp, key: &str, path: &str) -> Vec<String> {
    page(app, key, path).await.0
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Two endpoints, `ok` (answers 200, subscribed to two types) and `down` (answers 500, one
/// type), and three events: after it, `ok` has two succeeded deliveries and `down` one that
/// failed its first attempt and waits for a retry (the test schedule retries after 1 s, so it
/// stays pending while its attempts fail).
struct World {
    ok: String,
    down: String,
    /// Deliveries newest first: [job.completed → ok, post.created → down, post.created → ok]
    /// in id order within the post (ids sort by creation).
    all: Vec<String>,
    job_to_ok: String,
}

async fn world(app: &TestApp) -> World {
    let ok_receiver = Receiver::start().await;
    let down_receiver = Receiver::scripted(|_| (500, "down".into())).await;
    let ok = id_of(
        &create_endpoint_json(
            app,
            &app.live_key,
            json!({"name": "ok", "url": ok_receiver.url, "events": ["post.created", "job.completed"]}),
        )
        .await,
    );
    let down = id_of(
        &create_endpoint_json(
            app,
            &app.live_key,
            json!({"name": "down", "url": down_receiver.url, "events": ["post.created"]}),
        )
        .await,
    );
    publish(
        app,
        &app.live_key,
        &json!({"type": "post.created", "data": {"n": 1}}),
    )
    .await;
    let job = publish(
        app,
        &app.live_key,
        &json!({"type": "job.completed", "data": {"n": 2}}),
    )
    .await;
    ok_receiver.wait_for(2, WAIT).await;
    down_receiver.wait_for(1, WAIT).await;
    let ok_path = format!("/v1/deliveries?endpointId={ok}&status=succeeded");
    eventually(WAIT, || async {
        (ids(app, &app.live_key, &ok_path).await.len() == 2).then_some(())
    })
    .await;
    let all = ids(app, &app.live_key, "/v1/deliveries").await;
    let (_, job_deliveries) = app
        .get_json(
            &app.live_key,
            &format!("/v1/events/{}/deliveries", job["id"].as_str().unwrap()),
        )
        .await;
    let job_to_ok = id_of(&job_deliveries["data"][0]);
    World {
        ok,
        down,
        all,
        job_to_ok,
    }
}

#[suite_test]
async fn deliveries_are_listed_across_endpoints_and_filtered() {
    let app = spawn_app().await;
    let w = world(&app).await;
    assert_eq!(w.all.len(), 3, "{:?}", w.all);
    assert_eq!(w.all[0], w.job_to_ok, "newest first");
    let mut sorted = w.all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(sorted, w.all, "in id order, newest first");

    let (_, body) = app.get_json(&app.live_key, "/v1/deliveries").await;
    for d in body["data"].as_array().unwrap() {
        assert_eq!(d["test"], false, "{d}");
        assert!(
            [w.ok.as_str(), w.down.as_str()].contains(&d["endpointId"].as_str().unwrap()),
            "{d}"
        );
    }

    let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    let down_only = ids(
        &app,
        &app.live_key,
        &format!("/v1/deliveries?endpointId={}", w.down),
    )
    .await;
    assert_eq!(down_only.len(), 1);
    assert!(w.all.contains(&down_only[0]));
    assert_eq!(
        ids(
            &app,
            &app.live_key,
            "/v1/deliveries?eventType=job.completed"
        )
        .await,
        std::slice::from_ref(&w.job_to_ok)
    );
    assert_eq!(
        ids(&app, &app.live_key, "/v1/deliveries?status=pending").await,
        down_only,
        "the failing endpoint's delivery waits for its retry"
    );
    let succeeded = ids(&app, &app.live_key, "/v1/deliveries?status=succeeded").await;
    assert_eq!(succeeded.len(), 2);
    assert!(!succeeded.contains(&down_only[0]));
    let combined = ids(
        &app,
        &app.live_key,
        &format!(
            "/v1/deliveries?endpointId={}&eventType=post.created&status=succeeded",
            w.ok
        ),
    )
    .await;
    assert_eq!(combined.len(), 1);
    assert_ne!(combined[0], w.job_to_ok);
    assert_eq!(
        ids(&app, &app.live_key, "/v1/deliveries?status=cancelled").await,
        Vec::<String>::new()
    );

    // `since`: a time before everything lists all, one after lists none.
    assert_eq!(
        set(ids(
            &app,
            &app.live_key,
            "/v1/deliveries?since=2020-01-01T00:00:00Z"
        )
        .await),
        set(w.all.clone())
    );
    assert_eq!(
        ids(
            &app,
            &app.live_key,
            "/v1/deliveries?since=2999-01-01T00:00:00Z"
        )
        .await,
        Vec::<String>::new()
    );
    // An offset is a time like any other (`+` encoded in a query string).
    assert_eq!(
        ids(
            &app,
            &app.live_key,
            "/v1/deliveries?since=2999-01-01T02:00:00%2B02:00"
        )
        .await,
        Vec::<String>::new()
    );

    // Cursor pagination like every list.
    let (first, has_more, cursor) = page(&app, &app.live_key, "/v1/deliveries?limit=2").await;
    assert_eq!(first, w.all[..2]);
    assert!(has_more);
    let cursor = cursor.as_str().unwrap();
    let (rest, has_more, cursor) = page(
        &app,
        &app.live_key,
        &format!("/v1/deliveries?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest, w.all[2..]);
    assert!(!has_more);
    assert_eq!(cursor, Value::Null);
    // A filtered walk pages through matching deliveries only.
    let (first, has_more, cursor) = page(
        &app,
        &app.live_key,
        "/v1/deliveries?status=succeeded&limit=1",
    )
    .await;
    assert!(has_more);
    let (second, has_more, _) = page(
        &app,
        &app.live_key,
        &format!(
            "/v1/deliveries?status=succeeded&limit=1&cursor={}",
            cursor.as_str().unwrap()
        ),
    )
    .await;
    assert!(!has_more);
    assert_eq!(set([first, second].concat()), set(succeeded));
}

#[suite_test]
async fn the_delivery_list_is_tenant_and_mode_scoped() {
    let app = spawn_app().await;
    let w = world(&app).await;
    assert_eq!(
        ids(&app, &app.test_key, "/v1/deliveries").await,
        Vec::<String>::new(),
        "a test key sees no live delivery"
    );
    let (other_live, _) = app.new_workspace("other").await;
    assert_eq!(
        ids(&app, &other_live, "/v1/deliveries").await,
        Vec::<String>::new()
    );
    // Another tenant's endpoint id filters to nothing; it does not reveal that it exists.
    assert_eq!(
        ids(
            &app,
            &other_live,
            &format!("/v1/deliveries?endpointId={}", w.ok)
        )
        .await,
        Vec::<String>::new()
    );
    // A well-formed id of no endpoint lists nothing either.
    assert_eq!(
        ids(
            &app,
            &app.live_key,
            "/v1/deliveries?endpointId=whe_01hzzzzzzzzzzzzzzzzzzzzzzz"
        )
        .await,
        Vec::<String>::new()
    );
    let (status, body) = app.get_json(&app.live_key, "/v1/deliveries").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let (status, _) = app
        .client
        .get(app.url("/v1/deliveries"))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, 401);
}

#[suite_test]
async fn invalid_delivery_filters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let long = "x".repeat(10_000);
    let cases: Vec<(String, &str)> = vec![
        ("status=bogus".into(), "status"),
        ("status=".into(), "status"),
        (
            "endpointId=evt_01hzzzzzzzzzzzzzzzzzzzzzzz".into(),
            "endpointId",
        ),
        ("endpointId=whe_".into(), "endpointId"),
        ("endpointId=".into(), "endpointId"),
        ("eventType=no.such".into(), "eventType"),
        (format!("eventType={long}"), "eventType"),
        ("since=yesterday".into(), "since"),
        ("since=2026-13-01T00:00:00Z".into(), "since"),
        ("since=1733356800".into(), "since"),
        ("limit=0".into(), "limit"),
        ("limit=101".into(), "limit"),
        ("cursor=whe_01hzzzzzzzzzzzzzzzzzzzzzzz".into(), "cursor"),
        (format!("cursor={long}"), "cursor"),
    ];
    for (query, param) in cases {
        let (status, body) = app
            .get_json(&app.live_key, &format!("/v1/deliveries?{query}"))
            .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
    let (status, body) = app
        .get_json(&app.live_key, "/v1/deliveries?colour=blue")
        .await;
    assert_error(status, &body, 400, "invalid_request", None);
    // The endpoint's own log takes the event type filter too, with the same checks.
    let endpoint = app.create_endpoint(URL, &["post.created"]).await;
    let (status, body) = app
        .get_json(
            &app.live_key,
            &format!(
                "{}/deliveries?eventType=nope",
                endpoint_path(&endpoint["id"])
            ),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request", Some("eventType"));
}

#[suite_test]
async fn events_are_listed_by_type() {
    let app = spawn_app().await;
    let mut posts = Vec::new();
    for i in 0..3 {
        let post = publish(
            &app,
            &app.live_key,
            &json!({"type": "post.created", "data": {"i": i}}),
        )
        .await;
        posts.push(id_of(&post));
        publish(
            &app,
            &app.live_key,
            &json!({"type": "job.failed", "data": {"i": i}}),
        )
        .await;
    }
    posts.reverse();
    assert_eq!(
        ids(&app, &app.live_key, "/v1/events?type=post.created").await,
        posts
    );
    assert_eq!(
        ids(&app, &app.live_key, "/v1/events?type=job.failed")
            .await
            .len(),
        3
    );
    assert_eq!(
        ids(&app, &app.live_key, "/v1/events?type=note.created").await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&app, &app.live_key, "/v1/events?limit=100").await.len(),
        6
    );
    assert_eq!(
        ids(&app, &app.test_key, "/v1/events?type=post.created").await,
        Vec::<String>::new()
    );
    // Pages of a filtered list.
    let (first, has_more, cursor) =
        page(&app, &app.live_key, "/v1/events?type=post.created&limit=2").await;
    assert_eq!(first, posts[..2]);
    assert!(has_more);
    let (rest, has_more, _) = page(
        &app,
        &app.live_key,
        &format!(
            "/v1/events?type=post.created&limit=2&cursor={}",
            cursor.as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(rest, posts[2..]);
    assert!(!has_more);
    for query in ["type=no.such", "type=", "type=POST.CREATED"] {
        let (status, body) = app
            .get_json(&app.live_key, &format!("/v1/events?{query}"))
            .await;
        assert_error(status, &body, 400, "invalid_request", Some("type"));
    }
}

#[suite_test]
async fn endpoints_carry_a_description_and_metadata() {
    let app = spawn_app().await;
    let (status, created) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &json!({"name": "crm", "url": URL, "events": ["post.created"],
                    "description": "Orders for the CRM team\nsecond line",
                    "metadata": {"team": "crm", "customerId": "cus_42", "empty": ""}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let data = &created["data"];
    assert_eq!(data["description"], "Orders for the CRM team\nsecond line");
    assert_eq!(
        data["metadata"],
        json!({"team": "crm", "customerId": "cus_42", "empty": ""})
    );
    let path = endpoint_path(&data["id"]);
    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(got["data"]["description"], data["description"]);
    assert_eq!(got["data"]["metadata"], data["metadata"]);
    let (_, listed) = app.get_json(&app.live_key, ENDPOINTS).await;
    assert_eq!(listed["data"][0]["metadata"]["customerId"], "cus_42");

    // A PATCH of something else keeps them; a new map replaces the old one whole.
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"name": "renamed"}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["metadata"], data["metadata"]);
    assert_eq!(patched["data"]["description"], data["description"]);
    let (status, patched) = app
        .patch_json(
            &app.live_key,
            &path,
            &json!({"metadata": {"team": "sales"}, "description": ""}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["metadata"], json!({"team": "sales"}));
    assert_eq!(patched["data"]["description"], "");
    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(got["data"]["metadata"], json!({"team": "sales"}));
    let (status, patched) = app
        .patch_json(&app.live_key, &path, &json!({"metadata": {}}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["metadata"], json!({}));

    // Omitted on create: an empty description and an empty map, never null.
    let plain = app.create_endpoint(URL, &["post.created"]).await;
    assert_eq!(plain["description"], "");
    assert_eq!(plain["metadata"], json!({}));
}

#[suite_test]
async fn description_and_metadata_are_bounded() {
    let app = spawn_app().await;
    let create = |extra: Value| {
        let mut body = new_endpoint("bounded");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // Exactly at every bound is fine.
    let full: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("{i:0>40}"), Value::String("v".repeat(500))))
        .collect();
    let (status, body) = app
        .post_json(
            &app.live_key,
            ENDPOINTS,
            &create(json!({"description": "d".repeat(1024), "metadata": full})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["metadata"].as_object().unwrap().len(), 50);

    let too_many: serde_json::Map<String, Value> = (0..51)
        .map(|i| (format!("k{i}"), Value::String("v".into())))
        .collect();
    let cases = [
        (json!({"description": "d".repeat(1025)}), "description"),
        (json!({"description": "bell\u{7}"}), "description"),
        (json!({"description": 42}), "description"),
        (json!({"metadata": too_many}), "metadata"),
        (json!({"metadata": {"k".repeat(41): "v"}}), "metadata"),
        (json!({"metadata": {"": "v"}}), "metadata"),
        (json!({"metadata": {"a\nb": "v"}}), "metadata"),
        (
            json!({"metadata": {"team": "v".repeat(501)}}),
            "metadata.team",
        ),
        (json!({"metadata": {"team": "nul\u{0}"}}), "metadata.team"),
        (json!({"metadata": {"team": 7}}), "metadata.team"),
        (
            json!({"metadata": {"team": {"nested": "x"}}}),
            "metadata.team",
        ),
        (json!({"metadata": ["team"]}), "metadata"),
        (json!({"metadata": "team=crm"}), "metadata"),
    ];
    for (extra, param) in &cases {
        let (status, body) = app
            .post_json(&app.live_key, ENDPOINTS, &create(extra.clone()))
            .await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
    // The same checks on PATCH, where `null` is refused rather than taken as "clear".
    let endpoint = app.create_endpoint(URL, &["post.created"]).await;
    let path = endpoint_path(&endpoint["id"]);
    for (extra, param) in cases.iter().cloned().chain([
        (json!({"metadata": null}), "metadata"),
        (json!({"description": null}), "description"),
    ]) {
        let (status, body) = app.patch_json(&app.live_key, &path, &extra).await;
        assert_error(status, &body, 400, "invalid_request", Some(param));
    }
    let (_, got) = app.get_json(&app.live_key, &path).await;
    assert_eq!(
        got["data"]["metadata"],
        json!({}),
        "nothing refused was stored"
    );
}

#[suite_test]
async fn test_sends_are_kept_in_the_endpoint_log_marked_as_tests() {
    let app = spawn_app().await;
    let receiver = Receiver::scripted(|n| match n {
        0 => (200, "pong".into()),
        _ => (503, "busy".into()),
    })
    .await;
    let endpoint = create_endpoint_json(
        &app,
        &app.live_key,
        json!({"name": "t", "url": receiver.url, "events": ["post.created"], "projectId": "proj_7"}),
    )
    .await;
    let path = endpoint_path(&endpoint["id"]);
    let (status, ok) = app
        .post_json(
            &app.live_key,
            &format!("{path}/test"),
            &json!({"event": "post.created"}),
        )
        .await;
    assert_eq!(status, 200, "{ok}");
    let (status, busy) = app
        .post_json(
            &app.live_key,
            &format!("{path}/test"),
            &json!({"event": "job.completed"}),
        )
        .await;
    assert_eq!(status, 200, "{busy}");
    assert_eq!(busy["data"]["statusCode"], 503);

    // Both attempts are in the endpoint's log, newest first, each on a test delivery.
    let (status, log) = app
        .get_json(&app.live_key, &format!("{path}/deliveries"))
        .await;
    assert_eq!(status, 200, "{log}");
    let log = log["data"].as_array().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["id"], busy["data"]["deliveryId"]);
    assert_eq!(log[1]["id"], ok["data"]["deliveryId"]);
    for (delivery, status) in [(&log[0], "failed"), (&log[1], "succeeded")] {
        assert_eq!(delivery["test"], true, "{delivery}");
        assert_eq!(delivery["status"], status, "{delivery}");
        assert_eq!(delivery["attemptCount"], 1, "{delivery}");
        assert_eq!(
            delivery["nextAttemptAt"],
            Value::Null,
            "never retried: {delivery}"
        );
        assert_eq!(delivery["endpointId"], endpoint["id"]);
    }
    assert_eq!(log[0]["lastStatusCode"], 503);

    // The delivery shows the very attempt the test route answered with.
    let (status, detail) = app
        .get_json(
            &app.live_key,
            &format!(
                "/v1/deliveries/{}",
                ok["data"]["deliveryId"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    let attempts = detail["data"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["id"], ok["data"]["id"]);
    assert_eq!(attempts[0]["responseBody"], "pong");
    assert_eq!(attempts[0]["statusCode"], 200);

    // Its sample event is readable by id, marked as a test, with what the receiver got.
    let event_id = ok["data"]["eventId"].as_str().unwrap();
    let (status, event) = app
        .get_json(&app.live_key, &format!("/v1/events/{event_id}"))
        .await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["data"]["test"], true);
    assert_eq!(event["data"]["type"], "post.created");
    assert_eq!(event["data"]["projectId"], "proj_7");
    assert_eq!(event["data"]["deliveryCount"], 1);
    let sent: Value = serde_json::from_slice(&receiver.received()[0].body).unwrap();
    assert_eq!(sent["id"], event_id);
    assert_eq!(sent["data"], event["data"]["data"]);

    // Nobody published it: the event list leaves it out, the cross-endpoint log has it.
    assert_eq!(
        ids(&app, &app.live_key, "/v1/events").await,
        Vec::<String>::new()
    );
    let (_, all) = app.get_json(&app.live_key, "/v1/deliveries").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        ids(
            &app,
            &app.live_key,
            "/v1/deliveries?eventType=job.completed&status=failed"
        )
        .await,
        [busy["data"]["deliveryId"].as_str().unwrap().to_string()]
    );
    // Other tenants see none of it.
    assert_eq!(
        ids(&app, &app.test_key, "/v1/deliveries").await,
        Vec::<String>::new()
    );
    let (status, _) = app
        .get_json(&app.test_key, &format!("/v1/events/{event_id}"))
        .await;
    assert_eq!(status, 404);

    // A test delivery can be retried by hand like any other: the attempt goes to the receiver.
    let (status, retried) = app
        .post_json(
            &app.live_key,
            &format!(
                "/v1/deliveries/{}/retry",
                busy["data"]["deliveryId"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    receiver.wait_for(3, Duration::from_secs(20)).await;
}

async fn default_tenant(
    app: &TestApp,
    mode: hookd::domain::tenant::Mode,
) -> hookd::domain::tenant::Tenant {
    let workspace = app
        .store
        .find_workspace(hookd::admin::DEFAULT_WORKSPACE)
        .await
        .unwrap()
        .unwrap();
    hookd::domain::tenant::Tenant {
        workspace_id: workspace.id,
        mode,
    }
}

#[suite_test]
async fn the_store_summarises_an_endpoint_s_recent_deliveries() {
    use hookd::domain::delivery::DeliveryStatus;
    use hookd::domain::ids::EndpointId;
    use hookd::domain::insights::{hourly, WINDOW_MS};
    use hookd::domain::tenant::Mode;
    use hookd::domain::time::Timestamp;

    let app = spawn_app().await;
    let w = world(&app).await;
    let live = default_tenant(&app, Mode::Live).await;
    let ok = EndpointId::parse(&w.ok).unwrap();
    let down = EndpointId::parse(&w.down).unwrap();
    let now = Timestamp::now();
    let since = now.plus_millis(-WINDOW_MS);

    let summary = app.store.endpoint_summary(&live, &ok, since).await.unwrap();
    assert_eq!((summary.succeeded, summary.failed), (2, 0));
    assert_eq!(summary.success_rate(), Some(100.0));
    assert_eq!(summary.last_status, Some(DeliveryStatus::Succeeded));
    assert!(summary.last_delivery_at.is_some());
    let down_summary = app
        .store
        .endpoint_summary(&live, &down, since)
        .await
        .unwrap();
    assert_eq!((down_summary.succeeded, down_summary.failed), (0, 0));
    assert_eq!(down_summary.success_rate(), None, "nothing finished yet");
    assert_eq!(down_summary.last_status, Some(DeliveryStatus::Pending));

    let samples = app
        .store
        .delivery_samples(&live, &ok, since, 100)
        .await
        .unwrap();
    assert_eq!(samples.len(), 2);
    assert!(samples
        .iter()
        .all(|s| s.status == DeliveryStatus::Succeeded
            && s.last_duration_ms.is_some_and(|ms| ms >= 0)));
    let buckets = hourly(&samples, Timestamp::now());
    assert_eq!(
        buckets.last().unwrap().succeeded,
        2,
        "both in the current hour"
    );
    let limited = app
        .store
        .delivery_samples(&live, &ok, since, 1)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);

    // A window starting later holds nothing, but the latest delivery is still known.
    let later = now.plus_millis(60_000);
    let empty = app.store.endpoint_summary(&live, &ok, later).await.unwrap();
    assert_eq!((empty.succeeded, empty.failed), (0, 0));
    assert!(empty.last_delivery_at.is_some());
    assert!(app
        .store
        .delivery_samples(&live, &ok, later, 100)
        .await
        .unwrap()
        .is_empty());

    // Another mode sees nothing of the endpoint.
    let test = default_tenant(&app, Mode::Test).await;
    let other = app.store.endpoint_summary(&test, &ok, since).await.unwrap();
    assert_eq!(other, Default::default());
    assert!(app
        .store
        .delivery_samples(&test, &ok, since, 100)
        .await
        .unwrap()
        .is_empty());
}

#[suite_test]
async fn the_openapi_document_describes_the_additions() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("Delivery", "test"),
        ("Event", "test"),
        ("Endpoint", "description"),
        ("Endpoint", "metadata"),
        ("CreateEndpoint", "metadata"),
        ("UpdateEndpoint", "description"),
        ("TestSent", "deliveryId"),
        ("CreatePortalSession", "expiresInSecs"),
        ("PortalSession", "url"),
        ("PortalSession", "expiresAt"),
    ] {
        // A flattened struct is an `allOf`: look for the property anywhere in the schema.
        let text = schemas[schema].to_string();
        assert!(
            schemas[schema].is_object() && text.contains(&format!("\"{field}\":")),
            "{schema}.{field} in {text}"
        );
    }
    let params: Vec<&str> = doc["paths"]["/v1/deliveries"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "status",
        "endpointId",
        "eventType",
        "since",
        "limit",
        "cursor",
    ] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
    let params: Vec<&str> = doc["paths"]["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"type"), "{params:?}");
}
