//! The database commands (`hookd workspaces …`, `hookd keys …`), `hookd listen --respond` and
//! `hookd completions`, run as the real binary next to a real server.

use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli_support::{api, closed_port, command, db};
use crate::harness::*;

async fn status_with(app: &TestApp, key: &str) -> u16 {
    app.client
        .get(app.url("/v1/webhook-endpoints"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[suite_test]
async fn workspaces_and_named_keys_from_the_cli() {
    let app = spawn_app_with(|c| c.retry_schedule = vec![3600]).await;
    let created = db(&app, &["workspaces", "create", "acme"]).await;
    assert!(
        created.ok().starts_with("ws_") && created.stdout.contains("\tacme"),
        "{}",
        created.stdout
    );
    let key = db(
        &app,
        &[
            "keys",
            "create",
            "--workspace",
            "acme",
            "--mode",
            "live",
            "--name",
            "CI deploys",
        ],
    )
    .await;
    let key = key.ok().trim().to_string();
    assert!(
        key.starts_with("scripe_sk_live_") && !key.contains('\n'),
        "{key}"
    );

    let listed = db(&app, &["keys", "list", "--workspace", "acme"]).await;
    let lines: Vec<&str> = listed.ok().lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("CI deploys") && lines[1].contains("active"),
        "{lines:?}"
    );
    assert!(
        !listed.stdout.contains(&key),
        "a key is never printed again"
    );
    let keys = db(&app, &["keys", "list", "--json"]).await.json();
    let acme: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["workspace"] == "acme")
        .collect();
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0]["name"], "CI deploys");
    assert_eq!(acme[0]["revokedAt"], Value::Null);
    let workspaces = db(&app, &["workspaces", "list", "--json"]).await.json();
    let names: Vec<&str> = workspaces
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "acme"]);
    let table = db(&app, &["workspaces", "list"]).await;
    assert!(
        table.ok().lines().next().unwrap().starts_with("ID"),
        "{}",
        table.stdout
    );

    // Give acme an endpoint with a delivery waiting for its retry.
    let receiver = Receiver::scripted(|_| (500, "down".into())).await;
    app.create_endpoint_with(&key, &receiver.url, &["post.created"])
        .await;
    let (status, _) = app
        .post_json(
            &key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    receiver.wait_for(1, Duration::from_secs(10)).await;

    // Without --yes: says what it would delete, changes nothing.
    db(&app, &["workspaces", "delete", "acme"]).await.fails(
        2,
        "without --yes. This would delete workspace \"acme\" (ws_",
    );
    let refused = db(&app, &["workspaces", "delete", "acme"]).await;
    assert!(
        refused.stderr.contains("revokes 1 active API key(s), deletes 1 endpoint(s) and cancels 1 pending deliveries; its 1 event(s)"),
        "{}",
        refused.stderr
    );
    assert_eq!(status_with(&app, &key).await, 200);

    let deleted = db(&app, &["workspaces", "delete", "acme", "--yes"]).await;
    assert!(
        deleted
            .ok()
            .contains("1 key(s) revoked, 1 endpoint(s) deleted, 1 deliveries cancelled"),
        "{}",
        deleted.stdout
    );
    // The running server refuses its key from the next request on; other workspaces go on.
    assert_eq!(status_with(&app, &key).await, 401);
    assert_eq!(status_with(&app, &app.live_key).await, 200);
    let names = db(&app, &["workspaces", "list", "--json"]).await.json();
    assert_eq!(names.as_array().unwrap().len(), 1);
    db(
        &app,
        &["keys", "create", "--workspace", "acme", "--mode", "live"],
    )
    .await
    .fails(1, "no workspace named \"acme\"");
    db(&app, &["workspaces", "create", "acme"])
        .await
        .fails(1, "deleted workspace");
    db(&app, &["workspaces", "delete", "acme", "--yes"])
        .await
        .fails(1, "no workspace named");
}

#[suite_test]
async fn keys_are_revoked_from_the_cli_and_bad_input_is_refused() {
    let app = spawn_app().await;
    let key = db(
        &app,
        &["keys", "create", "--workspace", "default", "--mode", "test"],
    )
    .await
    .ok()
    .trim()
    .to_string();
    assert_eq!(status_with(&app, &key).await, 200);
    let listed = db(&app, &["keys", "list", "--json"]).await.json();
    let id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| {
            key.ends_with(k["last4"].as_str().unwrap())
                && k["mode"] == "test"
                && k["name"].is_null()
        })
        .and_then(|k| k["id"].as_str())
        .unwrap()
        .to_string();
    assert_eq!(
        db(&app, &["keys", "revoke", &id]).await.ok().trim(),
        format!("revoked {id}")
    );
    assert_eq!(status_with(&app, &key).await, 401);
    // The CLI's own requests with it are refused too, with the API's code.
    api(&app, Some(&key), &["events", "list"])
        .await
        .fails(1, "error: unauthorized: ");

    db(&app, &["keys", "revoke", &id])
        .await
        .fails(1, "no active API key");
    db(&app, &["keys", "revoke", "nope"])
        .await
        .fails(1, "is not a key id");
    db(
        &app,
        &[
            "keys",
            "create",
            "--workspace",
            "default",
            "--mode",
            "live",
            "--name",
            "",
        ],
    )
    .await
    .fails(2, "key name");
    db(
        &app,
        &["keys", "create", "--workspace", "nowhere", "--mode", "live"],
    )
    .await
    .fails(1, "no workspace named \"nowhere\"");
    db(&app, &["workspaces", "create", "bad name"])
        .await
        .fails(1, "workspace name");
    let run = db(
        &app,
        &["keys", "create", "--workspace", "default", "--mode", "prod"],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

/// Starts `hookd listen --respond <how>` and returns it with its output lines once it listens.
async fn listen(
    respond: &str,
) -> (
    tokio::process::Child,
    u16,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut cmd = command(dir.path());
    cmd.args(["listen", "--port", &port.to_string(), "--respond", respond])
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(banner.contains("receiving webhooks"), "{banner}");
    (child, port, lines)
}

#[suite_test]
async fn listen_rehearses_failures() {
    let app = spawn_app().await;
    let key = Some(app.live_key.as_str());
    for (respond, answer) in [
        ("500", "answered HTTP 500"),
        ("410", "answered HTTP 410"),
        ("slow", "did not answer"),
    ] {
        let (_child, port, mut lines) = listen(respond).await;
        let endpoint = app
            .create_endpoint(&format!("http://127.0.0.1:{port}/hook"), &["post.created"])
            .await;
        let id = endpoint["id"].as_str().unwrap();
        let run = api(
            &app,
            key,
            &["endpoints", "test", id, "--event", "post.created"],
        )
        .await;
        assert_eq!(run.code, Some(1), "{respond}: {}", run.stderr);
        assert!(run.stderr.contains(answer), "{respond}: {}", run.stderr);
        // The receiver printed the delivery it got.
        let printed = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.starts_with("webhook-id:") {
                    return line;
                }
            }
            String::new()
        })
        .await
        .unwrap();
        assert!(printed.contains("evt_"), "{respond}: {printed}");
        let (_, _) = app
            .req(Method::DELETE, &format!("/v1/webhook-endpoints/{id}"))
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
    }
}

#[suite_test]
async fn completions_for_each_shell() {
    let app = spawn_app().await;
    for shell in ["bash", "zsh", "fish"] {
        let run = api(&app, None, &["completions", shell]).await;
        let out = run.ok();
        assert!(
            out.contains("hookd") && out.contains("endpoints") && out.contains("rotate-secret"),
            "{shell}"
        );
    }
    let run = api(&app, None, &["completions", "tcsh"]).await;
    assert_eq!(run.code, Some(2));
}

/// `hookd prune` against the database of a running server: `--dry-run` counts and removes
/// nothing, then a real pass removes what the dry run counted; a bad retention is refused
/// naming its key.
#[suite_test]
async fn prune_from_the_cli_counts_then_removes() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;
    let mut ids = Vec::new();
    for n in 0..2 {
        let (status, body) = app
            .post_json(
                &app.live_key,
                "/v1/events",
                &json!({"type": "post.created", "data": {"n": n}}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    receiver.wait_for(2, Duration::from_secs(20)).await;
    // Both deliveries final (their results durable) before the pass.
    for id in &ids {
        eventually(Duration::from_secs(20), || async {
            let (_, list) = app
                .get_json(&app.live_key, &format!("/v1/events/{id}/deliveries"))
                .await;
            (list["data"][0]["status"] == "succeeded").then_some(())
        })
        .await;
    }
    // Older than a 1 s retention.
    let old_enough = std::time::Instant::now() + Duration::from_millis(1100);
    eventually(Duration::from_secs(5), || async {
        (std::time::Instant::now() > old_enough).then_some(())
    })
    .await;
    let prune = |args: &'static [&'static str], retention: &'static str| {
        let app = &app;
        async move {
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = command(dir.path());
            cmd.args(args)
                .env("HOOKD_DATABASE_URL", &app.config.database_url)
                .env("HOOKD_MASTER_KEY", "11".repeat(32))
                .env("HOOKD_RETENTION", retention);
            crate::cli_support::finish(cmd).await
        }
    };
    let dry = prune(&["prune", "--dry-run"], "1s").await;
    assert!(
        dry.ok().contains("would remove\tevents\t2\n"),
        "{}",
        dry.stdout
    );
    for id in &ids {
        let (status, _) = app
            .get_json(&app.live_key, &format!("/v1/events/{id}"))
            .await;
        assert_eq!(status, 200, "a dry run removed {id}");
    }
    let real = prune(&["prune"], "1s").await;
    assert!(
        real.ok().contains("removed\tevents\t2\n"),
        "{}",
        real.stdout
    );
    assert!(
        real.stdout.contains("removed\tattempts\t2\n"),
        "{}",
        real.stdout
    );
    for id in &ids {
        let (status, _) = app
            .get_json(&app.live_key, &format!("/v1/events/{id}"))
            .await;
        assert_eq!(status, 404, "{id} survived the pass");
    }
    let refused = prune(&["prune"], "forever").await;
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("\"forever\" is not a duration"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("RETENTION"), "{}", refused.stderr);
    app.stop().await;
}
