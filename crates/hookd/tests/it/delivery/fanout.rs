//! Who gets an event: one delivery per active endpoint of the same workspace and mode whose
//! `events` contain the type and whose `projectId` is null or the event's, decided at publish time.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;

/// An endpoint and the receiver behind it.
struct Target {
    id: String,
    receiver: Receiver,
}

async fn target(app: &TestApp, key: &str, events: &[&str], project: Option<&str>) -> Target {
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint_json(
        app,
        key,
        json!({"name": "fan-out", "url": receiver.url, "events": events, "projectId": project}),
    )
    .await;
    Target {
        id: endpoint["id"].as_str().unwrap().to_string(),
        receiver,
    }
}

/// Publishes and checks `deliveryCount` and exactly which endpoints got a delivery.
async fn publish_expecting(
    app: &TestApp,
    key: &str,
    body: serde_json::Value,
    expected: &[&Target],
) -> String {
    let event = publish(app, key, &body).await;
    let id = event["id"].as_str().unwrap().to_string();
    assert_eq!(event["deliveryCount"], expected.len(), "{body} → {event}");
    let got: BTreeSet<String> = deliveries_of_event(app, key, &id)
        .await
        .iter()
        .map(|d| d["endpointId"].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = expected.iter().map(|t| t.id.clone()).collect();
    assert_eq!(got, want, "deliveries of {body}");
    id
}

#[suite_test]
async fn fan_out_follows_type_project_mode_workspace_and_activity() {
    let app = spawn_app().await;
    let live = app.live_key.clone();
    let test = app.test_key.clone();
    let (other_live, _) = app.new_workspace("other").await;

    let all_projects = target(&app, &live, &["post.created", "job.completed"], None).await;
    let project_1 = target(&app, &live, &["post.created"], Some("proj_1")).await;
    let project_2 = target(&app, &live, &["post.created"], Some("proj_2")).await;
    let jobs_only = target(&app, &live, &["job.completed"], None).await;
    let test_mode = target(&app, &test, &["post.created"], None).await;
    let other_workspace = target(&app, &other_live, &["post.created"], None).await;
    let inactive = target(&app, &live, &["post.created"], None).await;
    let (status, body) = app
        .patch_json(
            &live,
            &format!("/v1/webhook-endpoints/{}", inactive.id),
            &json!({"isActive": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let e1 = publish_expecting(
        &app,
        &live,
        json!({"type": "post.created", "projectId": "proj_1", "data": {}}),
        &[&all_projects, &project_1],
    )
    .await;
    let e2 = publish_expecting(
        &app,
        &live,
        json!({"type": "post.created", "data": {}}),
        &[&all_projects],
    )
    .await;
    let e3 = publish_expecting(
        &app,
        &live,
        json!({"type": "job.completed", "projectId": "proj_2", "data": {}}),
        &[&all_projects, &jobs_only],
    )
    .await;
    let e4 = publish_expecting(
        &app,
        &test,
        json!({"type": "post.created", "projectId": "proj_1", "data": {}}),
        &[&test_mode],
    )
    .await;
    let e5 = publish_expecting(
        &app,
        &other_live,
        json!({"type": "post.created", "data": {}}),
        &[&other_workspace],
    )
    .await;
    // A type nobody subscribed to is accepted and goes nowhere.
    publish_expecting(
        &app,
        &live,
        json!({"type": "note.created", "data": {}}),
        &[],
    )
    .await;

    // Endpoints created after an event never receive it.
    let late = target(&app, &live, &["post.created"], None).await;
    let e6 = publish_expecting(
        &app,
        &live,
        json!({"type": "post.created", "data": {}}),
        &[&all_projects, &late],
    )
    .await;

    let ids = |t: &Target| -> Vec<String> {
        t.receiver
            .received()
            .iter()
            .map(|r| header(r, "webhook-id").to_string())
            .collect()
    };
    let arrived = |t: &Target, n: usize| {
        let receiver = t.receiver.clone();
        async move { receiver.wait_for(n, WAIT).await }
    };
    arrived(&all_projects, 4).await;
    arrived(&project_1, 1).await;
    arrived(&jobs_only, 1).await;
    arrived(&test_mode, 1).await;
    arrived(&other_workspace, 1).await;
    arrived(&late, 1).await;
    let mut all = ids(&all_projects);
    all.sort();
    let mut want = vec![e1.clone(), e2, e3.clone(), e6.clone()];
    want.sort();
    assert_eq!(all, want);
    assert_eq!(ids(&project_1), [e1]);
    assert_eq!(ids(&jobs_only), [e3]);
    assert_eq!(ids(&test_mode), [e4.as_str()]);
    assert_eq!(ids(&other_workspace), [e5.as_str()]);
    assert_eq!(ids(&late), [e6]);
    assert_eq!(project_2.receiver.count(), 0);
    assert_eq!(inactive.receiver.count(), 0);

    // Events are partitioned like everything else: no key sees another mode's or workspace's.
    let (status, _) = app.get_json(&live, &format!("/v1/events/{e4}")).await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json(&live, &format!("/v1/events/{e5}")).await;
    assert_eq!(status, 404);
    let (_, list) = app.get_json(&test, "/v1/events").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["id"], e4.as_str());

    // Re-activating the endpoint that was inactive at publish time delivers nothing after all:
    // no delivery was created for it.
    let (status, _) = app
        .patch_json(
            &live,
            &format!("/v1/webhook-endpoints/{}", inactive.id),
            &json!({"isActive": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, deliveries) = app
        .get_json(
            &live,
            &format!("/v1/webhook-endpoints/{}/deliveries", inactive.id),
        )
        .await;
    assert_eq!(deliveries["data"], json!([]));
}
