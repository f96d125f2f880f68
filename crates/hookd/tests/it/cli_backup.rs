//! The SQLite data directory from the command line, with the real binary: database commands
//! never create a database, and `hookd backup`/`hookd restore`: a backup taken during
//! a burst of publishes restores into a server that serves every event acknowledged before the
//! backup began, and bad destinations fail cleanly, leaving the live database untouched.

use std::path::Path;

use serde_json::json;

use crate::cli_support::{command, db, finish, Run};
use crate::durability::{free_port, Hookd, Load};
use crate::harness::*;

/// `hookd <args>` on the database in `data` (as `Hookd::start` configures it).
async fn on(data: &Path, args: &[&str]) -> Run {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = command(cwd.path());
    cmd.args(args)
        .env(
            "HOOKD_DATABASE_URL",
            format!("sqlite://{}/hookd.db", data.display()),
        )
        .env("HOOKD_MASTER_KEY", "ab".repeat(32));
    finish(cmd).await
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_every_event_acknowledged_before_it() {
    let (data, backups, fresh) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (mut server, key) = Hookd::start(data.path(), free_port()).await;
    let key = key.expect("first start prints the live key");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    // An endpoint with a sealed secret, subscribed to nothing the load publishes.
    let receiver = Receiver::start().await;
    let endpoint: serde_json::Value = client
        .post(format!("{}/v1/webhook-endpoints", server.base_url))
        .bearer_auth(&key)
        .json(&json!({"name": "kept", "url": receiver.url, "events": ["job.completed"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint_id = endpoint["data"]["id"].as_str().unwrap().to_string();

    let load = Load::start(&server.base_url, &key);
    load.until(200).await;
    let before = load.accepted();
    let backup = backups.path().join("hookd-backup.db");
    let run = on(data.path(), &["backup", backup.to_str().unwrap()]).await;
    assert!(run.ok().starts_with("backed up "), "{}", run.stdout);
    assert!(
        run.stderr.contains("master key"),
        "the reminder: {}",
        run.stderr
    );
    let at_backup_end = load.count();
    // The server went on accepting after the backup.
    load.until(at_backup_end + 100).await;
    let accepted = load.finish().await;
    println!(
        "acknowledged: {} before the backup, {at_backup_end} by its end, {} in all",
        before.len(),
        accepted.len()
    );

    // A backup is never restored over a database a server is using.
    on(data.path(), &["restore", backup.to_str().unwrap(), "--yes"])
        .await
        .fails(
            1,
            "refusing to restore: another `hookd serve` is already using",
        );
    server.terminate().await;

    // Restore into a fresh data directory and serve it.
    let restored = on(fresh.path(), &["restore", backup.to_str().unwrap()]).await;
    assert!(
        restored.ok().starts_with("restored "),
        "{}",
        restored.stdout
    );
    let (mut server, first_start) = Hookd::start(fresh.path(), free_port()).await;
    assert_eq!(
        first_start, None,
        "the restored database has its workspace and keys"
    );
    for id in &before {
        let r = client
            .get(format!("{}/v1/events/{id}", server.base_url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "event {id}, acknowledged before the backup, is missing"
        );
    }
    // Nothing acknowledged after the backup's snapshot beyond what the server had accepted.
    let page: serde_json::Value = client
        .get(format!("{}/v1/events?limit=1", server.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = page["data"][0]["id"].as_str().unwrap();
    assert!(
        accepted[..at_backup_end].iter().any(|id| id == newest),
        "the newest restored event was acknowledged by the backup's end"
    );
    // Sealed secrets are readable with the same master key: the endpoint still signs.
    let tested = crate::cli_support::api_at(
        &server.base_url,
        Some(&key),
        &[
            "endpoints",
            "test",
            &endpoint_id,
            "--event",
            "job.completed",
        ],
    )
    .await;
    tested.ok();
    assert_eq!(receiver.count(), 1);
    server.terminate().await;

    // Restoring over an existing database needs --yes, and keeps the replaced one.
    on(fresh.path(), &["restore", backup.to_str().unwrap()])
        .await
        .fails(
            2,
            "not restoring without --yes. This would replace the database",
        );
    let again = on(
        fresh.path(),
        &["restore", backup.to_str().unwrap(), "--yes"],
    )
    .await;
    assert!(
        again.ok().contains("the database it replaced is kept as"),
        "{}",
        again.stdout
    );
    let kept: Vec<_> = std::fs::read_dir(fresh.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("hookd.db.replaced-") && n.ends_with('Z'))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the replaced database (with its WAL, if any): {kept:?}"
    );
}

/// A tmpfs mounted for one test (needs root), unmounted on drop.
struct Mount(tempfile::TempDir);

impl Mount {
    fn tmpfs(options: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("skipping the {options} tmpfs case: mounting needs root");
        }
        ok.then_some(Self(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test]
async fn bad_backup_destinations_fail_cleanly_and_leave_the_database_alone() {
    let app = spawn_app().await;
    let (status, _) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {}}),
        )
        .await;
    assert_eq!(status, 202);
    let out = tempfile::tempdir().unwrap();
    let existing = out.path().join("existing.db");
    std::fs::write(&existing, "precious").unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();

    db(&app, &["backup", &path(&existing)])
        .await
        .fails(1, "already exists: a backup never overwrites");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "precious");
    db(&app, &["backup", &path(out.path())])
        .await
        .fails(1, "is a directory");
    db(&app, &["backup", "/no/such/dir/b.db"])
        .await
        .fails(1, "cannot create /no/such/dir/b.db");
    if let Some(ro) = Mount::tmpfs("ro,size=1m") {
        db(&app, &["backup", &path(&ro.0.path().join("b.db"))])
            .await
            .fails(1, "Read-only file system");
    }
    if let Some(full) = Mount::tmpfs("size=16k") {
        let target = full.0.path().join("b.db");
        db(&app, &["backup", &path(&target)])
            .await
            .fails(1, "writing the backup to");
        assert!(!target.exists(), "a failed backup leaves no partial file");
        assert_eq!(std::fs::read_dir(full.0.path()).unwrap().count(), 0);
    }
    let mut pg = command(out.path());
    pg.args(["backup", "x.db"])
        .env("HOOKD_DATABASE_URL", "postgres://hookd@127.0.0.1:1/hookd")
        .env("HOOKD_MASTER_KEY", "11".repeat(32));
    finish(pg).await.fails(1, "pg_dump");
    let mut pg = command(out.path());
    pg.args(["restore", &path(&existing)])
        .env("HOOKD_DATABASE_URL", "postgres://hookd@127.0.0.1:1/hookd")
        .env("HOOKD_MASTER_KEY", "11".repeat(32));
    finish(pg).await.fails(1, "pg_restore");

    // Bad backups are refused before anything is replaced.
    db(
        &app,
        &["restore", &path(&out.path().join("missing.db")), "--yes"],
    )
    .await
    .fails(2, "no backup file at");
    db(&app, &["restore", &path(&existing), "--yes"])
        .await
        .fails(1, "not a database");

    // The live database is untouched: it serves, and a good backup still works.
    let (status, _) = app.get_json(&app.live_key, "/v1/events").await;
    assert_eq!(status, 200);
    let good = out.path().join("good.db");
    let run = db(&app, &["backup", &path(&good)]).await;
    assert!(run.ok().contains("1 event(s)"), "{}", run.stdout);
    let cwd = tempfile::tempdir().unwrap();
    let mut missing = command(cwd.path());
    missing.args(["backup", &path(&out.path().join("other.db"))]);
    finish(missing).await.fails(1, "no hookd database at");
}

/// A PostgreSQL database is created by its server's administrator, never by hookd; a SQLite file
/// only by `serve`, `migrate` and `restore`.
#[tokio::test]
async fn database_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["keys", "list"][..],
        &["workspaces", "list"],
        &["workspaces", "create", "x"],
        &["keys", "create", "--workspace", "default", "--mode", "live"],
        &["keys", "revoke", "key_x"],
    ] {
        let mut cmd = command(dir.path());
        cmd.args(args);
        let run = crate::cli_support::finish(cmd).await;
        run.fails(
            1,
            &format!(
                "no hookd database at {}",
                dir.path().join("hookd-data/hookd.db").display()
            ),
        );
        assert!(run.stderr.contains("hookd serve"), "a hint: {}", run.stderr);
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// A database already in use (here: it has a workspace) whose `master.key` is missing, as after
/// restoring a backup without its key: `hookd serve` refuses, rather than generating a new key
/// that can't open the stored secrets and would seal new ones with the wrong key.
#[tokio::test]
async fn a_database_in_use_without_its_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: Vec<String>| {
        let mut cmd = command(dir.path());
        cmd.args(args);
        finish(cmd)
    };
    run(vec!["migrate".into()]).await.ok();
    run(vec!["workspaces".into(), "create".into(), "acme".into()])
        .await
        .ok();
    let key = dir.path().join("hookd-data/master.key");
    assert!(!key.exists());
    let listen = format!("127.0.0.1:{}", free_port());
    let serve = run(vec!["serve".into(), "--listen".into(), listen]);
    let refused = tokio::time::timeout(std::time::Duration::from_secs(30), serve)
        .await
        .expect("hookd serve started on a database whose master key is missing");
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("master key") && refused.stderr.contains("master.key"),
        "{}",
        refused.stderr
    );
    assert!(!key.exists(), "a new master key was generated");
}

/// The permission bits of `path` (file or directory).
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts the data directory is 0700 and every file hookd made in it is 0600.
fn assert_private(data: &Path, files: &[&str]) {
    assert_eq!(mode(data), 0o700, "{}", data.display());
    for file in files {
        let path = data.join(file);
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[tokio::test]
async fn the_data_directory_and_every_file_hookd_writes_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    // The defaults: ./hookd-data/hookd.db and a generated master.key beside it.
    let mut serve = command(root.path());
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .stdout(std::process::Stdio::piped());
    let mut child = serve.spawn().expect("start hookd");
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("hookd listening on") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let data = root.path().join("hookd-data");
    let files = [
        "hookd.db",
        "hookd.db-wal",
        "hookd.db-shm",
        "hookd.db.lock",
        "master.key",
    ];
    assert_private(&data, &files);

    // A backup holds the same secrets as the database.
    let backup = root.path().join("hookd-backup.db");
    let mut cmd = command(root.path());
    cmd.args(["backup", backup.to_str().unwrap()]);
    finish(cmd).await.ok();
    assert_eq!(mode(&backup), 0o600);
    child.kill().await.unwrap();

    // A data directory left readable (by an older hookd, or by hand) is tightened at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for file in files {
        std::fs::set_permissions(data.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut cmd = command(root.path());
    cmd.arg("migrate");
    finish(cmd).await.ok();
    // `migrate` may checkpoint and delete the WAL as it closes the database: what is left
    // must be private.
    let left: Vec<&str> = files
        .into_iter()
        .filter(|file| {
            !file.ends_with("-wal") && !file.ends_with("-shm") || data.join(file).exists()
        })
        .collect();
    assert_private(&data, &left);
}

/// A database put straight into a directory that holds other things (the working directory,
/// `/var/lib`): hookd's own files are private, and the directory is left as it was.
#[tokio::test]
async fn a_shared_directory_is_left_as_it_is() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.path().join("someone-elses.txt"), "not hookd's").unwrap();
    let mut cmd = command(root.path());
    cmd.arg("migrate").env(
        "HOOKD_DATABASE_URL",
        format!("sqlite://{}/hookd.db", root.path().display()),
    );
    finish(cmd).await.ok();
    assert_eq!(
        mode(root.path()),
        0o755,
        "a shared directory was made private"
    );
    assert_eq!(mode(&root.path().join("hookd.db")), 0o600);
}
