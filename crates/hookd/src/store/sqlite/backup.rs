//! Online backup and restore of the SQLite database (`hookd backup`, `hookd restore`), with
//! SQLite's online backup API.
//!
//! **Consistency while the server writes.** The backup API restarts from the first page when
//! another connection writes the source between two steps, so a copy made in small steps of a
//! busy database might never finish. Instead the source connection opens a read transaction
//! before the first step and holds it to the last: in WAL mode that pins one snapshot (the
//! server's writer goes on appending to the WAL meanwhile), every step reads from it, and the
//! copy is exactly the database as of that moment — every commit before it, none after.
//!
//! **Never half a file.** A backup is written to a new file (an existing one is never
//! overwritten) and removed again if anything fails; a restore is copied to a temporary file
//! beside the database, checked, synced, and only then renamed into place. The database it
//! replaces is kept (renamed together with its WAL), not deleted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// Pages copied per step: about 4 MiB with the default 4 KiB pages, so progress moves smoothly.
const PAGES_PER_STEP: std::ffi::c_int = 1024;

/// What a database holds, to name it in messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub workspaces: u64,
    pub events: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} workspace(s), {} event(s), {:.1} MiB",
            self.workspaces,
            self.events,
            self.bytes as f64 / (1024.0 * 1024.0)
        )
    }
}

/// Called after each step with (pages copied, pages in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Copies the live database at `source` into the new file `dest`, consistently, while other
/// processes go on writing the source. `dest` must not exist.
pub fn backup(source: &Path, dest: &Path, progress: Progress<'_>) -> anyhow::Result<Summary> {
    create_new(dest)?;
    let result = (|| {
        let src = open(source, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // Pin one snapshot for the whole copy (see the module comment).
        src.execute_batch("BEGIN")?;
        src.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |_| Ok(()))?;
        let mut dst = open(dest, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        copy(&src, &mut dst, progress)
            .with_context(|| format!("writing the backup to {}", dest.display()))?;
        src.execute_batch("COMMIT")?;
        // A self-contained file: no WAL beside it, readable on a read-only medium.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        check(&dst, dest)?;
        let summary = summarize(&dst, dest)?;
        dst.close().map_err(|(_, e)| e)?;
        sync(dest)?;
        Ok(summary)
    })();
    if result.is_err() {
        remove_with_sidecars(dest);
    }
    result
}

/// Describes an existing database (opened read-only).
pub fn describe(path: &Path) -> anyhow::Result<Summary> {
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    summarize(&conn, path)
}

/// Checks that `backup` is a sound hookd database: SQLite's quick check passes and it has
/// hookd's schema.
pub fn verify(backup: &Path) -> anyhow::Result<Summary> {
    let conn = open(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check(&conn, backup)?;
    summarize(&conn, backup)
}

/// Replaces the database at `target` with a copy of `backup`. The caller holds the
/// single-server lock, so no server uses `target`. Returns where the replaced database was
/// moved (with its WAL), if there was one.
pub fn restore(
    backup: &Path,
    target: &Path,
    progress: Progress<'_>,
) -> anyhow::Result<Option<PathBuf>> {
    verify(backup)?;
    let staged = sibling(target, ".restoring");
    remove_with_sidecars(&staged);
    create_new(&staged)?;
    let copied = (|| {
        let src = open(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut dst = open(&staged, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        copy(&src, &mut dst, progress).with_context(|| format!("writing {}", staged.display()))?;
        check(&dst, &staged)?;
        dst.close().map_err(|(_, e)| e)?;
        sync(&staged)
    })();
    if let Err(e) = copied {
        remove_with_sidecars(&staged);
        return Err(e);
    }
    let kept = if target.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let kept = sibling(target, &format!(".replaced-{stamp}"));
        std::fs::rename(target, &kept)
            .with_context(|| format!("moving {} aside", target.display()))?;
        // The WAL goes with its database (SQLite finds it by name), so the kept copy is whole.
        let wal = sibling(target, "-wal");
        if wal.exists() {
            std::fs::rename(&wal, sibling(&kept, "-wal"))
                .with_context(|| format!("moving {} aside", wal.display()))?;
        }
        let _ = std::fs::remove_file(sibling(target, "-shm"));
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staged, target)
        .with_context(|| format!("moving the restored database to {}", target.display()))?;
    sync_dir(target)?;
    Ok(kept)
}

fn open(path: &Path, flags: OpenFlags) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// Creates `path`, refusing an existing file or directory.
fn create_new(path: &Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!(
            "{} is a directory: give the backup's file name, e.g. {}",
            path.display(),
            path.join("hookd-backup.db").display()
        );
    }
    // 0600 like the database: a backup holds the same payloads and sealed secrets.
    match crate::data_dir::private_options()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: a backup never overwrites a file, give a new name",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

fn copy(src: &Connection, dst: &mut Connection, progress: Progress<'_>) -> anyhow::Result<()> {
    let backup = Backup::new(src, dst)?;
    loop {
        let step = backup.step(PAGES_PER_STEP)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let left = u64::try_from(p.remaining).unwrap_or(0);
        progress(total.saturating_sub(left), total);
        match step {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            // Busy or Locked: another connection holds a lock the step needs; wait and go on.
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn check(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .with_context(|| format!("checking {}", path.display()))?;
    if verdict != "ok" {
        bail!(
            "{} failed SQLite's integrity check: {verdict}",
            path.display()
        );
    }
    Ok(())
}

fn summarize(conn: &Connection, path: &Path) -> anyhow::Result<Summary> {
    let hookd: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' \
         AND name IN ('workspaces', 'events', '_sqlx_migrations')",
        [],
        |r| r.get(0),
    )?;
    if hookd != 3 {
        bail!("{} is not a hookd database", path.display());
    }
    let count = |sql: &str| -> anyhow::Result<u64> {
        Ok(u64::try_from(conn.query_row(sql, [], |r| r.get::<_, i64>(0))?).unwrap_or(0))
    };
    Ok(Summary {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        workspaces: count("SELECT COUNT(*) FROM workspaces")?,
        events: count("SELECT COUNT(*) FROM events")?,
    })
}

/// `path` with `suffix` appended to its file name (`hookd.db` → `hookd.db-wal`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_with_sidecars(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
}

/// Makes the file and its directory entry durable.
fn sync(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}
