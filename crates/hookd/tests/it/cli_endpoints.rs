//! `hookd endpoints …` run as the real binary against a real server: tables for people, the
//! API's JSON with `--json`, one-line errors and the documented exit codes.

use serde_json::Value;

use crate::cli_support::{api, api_at, closed_port};
use crate::harness::*;

#[suite_test]
async fn endpoint_lifecycle_from_the_cli() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let key = Some(app.live_key.as_str());

    // Create: the secret is printed once, with a note on stderr.
    let run = api(
        &app,
        key,
        &[
            "endpoints",
            "create",
            "--name",
            "Production CRM",
            "--url",
            &receiver.url,
            "--event",
            "post.created",
            "--event",
            "job.completed,job.failed",
        ],
    )
    .await;
    let out = run.ok();
    assert!(
        out.contains("Production CRM") && out.contains("whsec_"),
        "{out}"
    );
    assert!(run.stderr.contains("shown only now"), "{}", run.stderr);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("id"))
        .map(|v| v.trim().to_string())
        .expect("an id line");
    assert!(id.starts_with("whe_"), "{id}");

    // --json is the API's object, exactly.
    let created = api(
        &app,
        key,
        &[
            "endpoints",
            "create",
            "--name",
            "second",
            "--url",
            &receiver.url,
            "--event",
            "post.created",
            "--project",
            "proj_1",
            "--json",
        ],
    )
    .await
    .json();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["projectId"], "proj_1");
    let (_, fetched) = app
        .get_json(
            &app.live_key,
            &format!("/v1/webhook-endpoints/{}", created["id"].as_str().unwrap()),
        )
        .await;
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(fetched["data"], expected);

    // List: an aligned table with a header; --json is the page.
    let table = api(&app, key, &["endpoints", "list"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    let name_col = lines[0].find("NAME").unwrap();
    assert!(lines[1..]
        .iter()
        .all(|l| l.starts_with("whe_") && l[name_col - 2..name_col] == *"  "));
    let page = api(&app, key, &["endpoints", "list", "--json", "--limit", "1"])
        .await
        .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["hasMore"], true);
    let next = api(&app, key, &["endpoints", "list", "--limit", "1"]).await;
    assert!(next.stderr.contains("--cursor whe_"), "{}", next.stderr);
    let filtered = api(
        &app,
        key,
        &["endpoints", "list", "--project", "proj_1", "--json"],
    )
    .await
    .json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);

    // Get, update, rotate.
    let got = api(&app, key, &["endpoints", "get", &id]).await;
    assert!(
        got.ok().contains("job.completed,job.failed"),
        "{}",
        got.stdout
    );
    assert!(!got.stdout.contains("whsec_") || got.stdout.contains("whsec_…"));
    let updated = api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            &id,
            "--active",
            "false",
            "--name",
            "Renamed",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(updated["isActive"], false);
    assert_eq!(updated["disabledReason"], "manual");
    assert_eq!(updated["name"], "Renamed");
    let shown = api(&app, key, &["endpoints", "get", &id]).await;
    assert!(shown.ok().contains("disabled (manual)"), "{}", shown.stdout);
    let again = api(
        &app,
        key,
        &["endpoints", "update", &id, "--active", "true", "--json"],
    )
    .await
    .json();
    assert_eq!(again["isActive"], true);
    let rotated = api(&app, key, &["endpoints", "rotate-secret", &id, "--json"])
        .await
        .json();
    assert_ne!(rotated["secret"], Value::Null);

    // Test: the receiver gets a signed sample; exit 0 on its 2xx.
    let tested = api(
        &app,
        key,
        &["endpoints", "test", &id, "--event", "post.created"],
    )
    .await;
    assert!(tested.ok().contains("200"), "{}", tested.stdout);
    assert_eq!(receiver.count(), 1);
    assert!(receiver.received()[0]
        .headers
        .contains_key("webhook-signature"));

    // Delete, then it is gone: the API's code and message on one line, exit 1.
    let deleted = api(&app, key, &["endpoints", "delete", &id]).await;
    assert_eq!(deleted.ok().trim(), format!("deleted {id}"));
    api(&app, key, &["endpoints", "get", &id])
        .await
        .fails(1, "error: not_found: ");
}

#[suite_test]
async fn endpoint_test_against_a_failing_receiver_exits_1() {
    let app = spawn_app().await;
    let receiver = Receiver::scripted(|_| (503, "down".into())).await;
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    let id = endpoint["id"].as_str().unwrap();
    let run = api(
        &app,
        Some(&app.live_key),
        &["endpoints", "test", id, "--event", "post.created"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.contains("503"), "{}", run.stdout);
    assert_eq!(
        run.stderr.trim(),
        "error: the test failed: the endpoint answered HTTP 503"
    );
    // With --json the attempt is still printed, and the exit code still says it failed.
    let run = api(
        &app,
        Some(&app.live_key),
        &["endpoints", "test", id, "--event", "post.created", "--json"],
    )
    .await;
    assert_eq!(run.code, Some(1));
    let attempt: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(attempt["statusCode"], 503);
}

#[suite_test]
async fn endpoint_commands_refuse_bad_input_in_one_line() {
    let app = spawn_app().await;
    let live = Some(app.live_key.as_str());

    // No key: usage (2), before any request.
    api(&app, None, &["endpoints", "list"])
        .await
        .fails(2, "HOOKD_API_KEY");
    // Unknown or revoked key: the API's 401 (1).
    api(
        &app,
        Some("scripe_sk_live_0000000000000000000000000000000000"),
        &["endpoints", "list"],
    )
    .await
    .fails(1, "error: unauthorized: ");
    let (record, revoked) =
        hookd::admin::create_key(&app.store, "default", hookd::domain::tenant::Mode::Live)
            .await
            .unwrap();
    app.store
        .revoke_api_key(&record.id, hookd::domain::time::Timestamp::now())
        .await
        .unwrap();
    api(&app, Some(&revoked), &["endpoints", "list"])
        .await
        .fails(1, "error: unauthorized: ");
    // Nothing listening: unavailable (3), naming the URL.
    let closed = format!("http://127.0.0.1:{}", closed_port());
    api_at(&closed, live, &["endpoints", "list"])
        .await
        .fails(3, &format!("could not reach the hookd API at {closed}"));
    // Ids: malformed, of another type, or containing path tricks are all 404s.
    for bad in [
        "whe_nope",
        "evt_01jc8z0000000000000000000",
        "../events",
        "a/b?c",
    ] {
        api(&app, live, &["endpoints", "get", bad])
            .await
            .fails(1, "error: not_found: ");
    }
    // Validation errors come from the API, with its code.
    let receiver = Receiver::start().await;
    api(
        &app,
        live,
        &[
            "endpoints",
            "create",
            "--name",
            "x",
            "--url",
            &receiver.url,
            "--event",
            "no.such",
        ],
    )
    .await
    .fails(1, "error: invalid_request: ");
    // An update that changes nothing is a usage error; so is a flag clap does not know.
    api(&app, live, &["endpoints", "update", "whe_x"])
        .await
        .fails(2, "nothing to change");
    let run = api(&app, live, &["endpoints", "create", "--name", "x"]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    // The test key never sees live endpoints.
    let endpoint = app.create_endpoint(&receiver.url, &["post.created"]).await;
    api(
        &app,
        Some(&app.test_key),
        &["endpoints", "get", endpoint["id"].as_str().unwrap()],
    )
    .await
    .fails(1, "not_found");
}

#[suite_test]
async fn help_documents_the_exit_codes() {
    let app = spawn_app().await;
    for args in [
        &["--help"][..],
        &["endpoints", "--help"],
        &["replay", "--help"],
    ] {
        let run = api(&app, None, args).await;
        let out = run.ok();
        assert!(
            out.contains("Exit codes:") && out.contains("3  unavailable"),
            "{out}"
        );
    }
}

#[suite_test]
async fn endpoint_description_and_metadata_from_the_cli() {
    let app = spawn_app().await;
    let key = Some(app.live_key.as_str());
    let created = api(
        &app,
        key,
        &[
            "endpoints",
            "create",
            "--name",
            "crm",
            "--url",
            "https://127.0.0.1:9/hook",
            "--event",
            "post.created",
            "--description",
            "Orders for the CRM team",
            "--metadata",
            "team=crm",
            "--metadata",
            "query=a=b",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(created["description"], "Orders for the CRM team");
    assert_eq!(
        created["metadata"],
        serde_json::json!({"team": "crm", "query": "a=b"})
    );
    let id = created["id"].as_str().unwrap();

    // The people's view shows both.
    let shown = api(&app, key, &["endpoints", "get", id]).await;
    let out = shown.ok();
    assert!(out.contains("Orders for the CRM team"), "{out}");
    assert!(
        out.contains("query=a=b") && out.contains("team=crm"),
        "{out}"
    );

    let updated = api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            id,
            "--metadata",
            "team=sales",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(updated["metadata"], serde_json::json!({"team": "sales"}));
    assert_eq!(updated["description"], "Orders for the CRM team");
    let cleared = api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            id,
            "--no-metadata",
            "--description",
            "",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(cleared["metadata"], serde_json::json!({}));
    assert_eq!(cleared["description"], "");

    // A pair without `=` is a usage error (clap's, exit 2); the server's bounds come back as
    // its message.
    let run = api(
        &app,
        key,
        &["endpoints", "update", id, "--metadata", "team"],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("KEY=VALUE"), "{}", run.stderr);
    let long = "v".repeat(501);
    api(
        &app,
        key,
        &[
            "endpoints",
            "update",
            id,
            "--metadata",
            &format!("team={long}"),
        ],
    )
    .await
    .fails(1, "metadata.team");
}
