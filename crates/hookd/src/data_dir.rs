//! The SQLite data directory's permissions: the database holds every event payload and the
//! sealed secrets, `master.key` unseals them, so the directory is 0700 and every file hookd
//! writes in it 0600 — whatever the process umask.
//!
//! New files are created with those modes rather than chmod-ed afterwards, so there is no window
//! in which they are readable. SQLite creates `-wal`, `-shm` and `-journal` files with the mode
//! of the database file, so a 0600 database is what keeps them private. A data directory left
//! readable by an older hookd (or by hand) is tightened at start (see [`prepare`]).

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file hookd writes in it.
pub const FILE_MODE: u32 = 0o600;

/// Makes the directory holding the database `db` private, creating it (and missing parents)
/// with mode 0700, creates the database file 0600 if missing, and tightens to 0600 the files
/// hookd keeps beside it (database, `-wal`, `-shm`, `.lock`, `master.key`) that already exist.
///
/// An existing directory is tightened to 0700 only when it holds nothing but hookd's files
/// (names starting with the database's, and `master.key`): chmod-ing a directory that holds
/// other things (the working directory, `/tmp`, `/var/lib` for a database put straight in it)
/// would lock other users out of what is not hookd's. Leaving one as it is (at debug level),
/// or failing to tighten it (a warning), is not fatal: hookd's own files are 0600 either way.
pub fn prepare(db: &Path) -> anyhow::Result<()> {
    prepare_dir(db)?;
    private_file(db)
        .with_context(|| format!("creating the database file {} (mode 0600)", db.display()))
}

/// [`prepare`] without creating the database: for the single-server lock, which `hookd
/// restore` takes too, where a missing database must stay missing (no `--yes` needed).
pub fn prepare_dir(db: &Path) -> anyhow::Result<()> {
    let dir = db.parent().filter(|d| !d.as_os_str().is_empty());
    let name = db
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("hookd.db");
    create_private_dir(dir.unwrap_or(Path::new(".")), name)?;
    for path in [
        db.to_path_buf(),
        sibling(db, "-wal"),
        sibling(db, "-shm"),
        sibling(db, ".lock"),
        db.with_file_name("master.key"),
    ] {
        tighten(&path)?;
    }
    Ok(())
}

/// Creates `dir` (and parents) with mode 0700, or tightens an existing one (see [`prepare`]);
/// `db_name` is the file name of the database kept in it.
pub fn create_private_dir(dir: &Path, db_name: &str) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 && !holds_only_hookd_files(dir, db_name) {
                // Expected for a database put in a shared folder: not worth a line per command.
                tracing::debug!(
                    path = %dir.display(),
                    was = format!("{:o}", mode & 0o777),
                    "the data directory is readable by others and holds other files, so it is left as it is; hookd's own files in it are 0600"
                );
            } else if mode & 0o077 != 0 {
                let set = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE));
                match set {
                    Ok(()) => tracing::info!(
                        path = %dir.display(),
                        was = format!("{:o}", mode & 0o777),
                        "made the data directory private (0700)"
                    ),
                    Err(e) => tracing::warn!(
                        path = %dir.display(),
                        error = %e,
                        "the data directory is readable by others and could not be made 0700"
                    ),
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .with_context(|| format!("creating the data directory {}", dir.display())),
        Err(e) => Err(e).with_context(|| format!("reading the data directory {}", dir.display())),
    }
}

/// True when every entry of `dir` is one of hookd's files: the database and what SQLite and
/// hookd keep beside it (names starting with `db_name`), and `master.key`.
fn holds_only_hookd_files(dir: &Path, db_name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.into_iter().all(|entry| {
        entry.ok().is_some_and(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with(db_name) || name == "master.key"
        })
    })
}

/// Opens options that create a file with mode 0600 (the umask can only narrow it).
pub fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Creates `path` 0600 if missing (empty: SQLite treats an empty file as a new database), or
/// tightens it if it exists.
fn private_file(path: &Path) -> anyhow::Result<()> {
    match private_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten(path),
        Err(e) => Err(e.into()),
    }
}

/// Sets an existing file to 0600 if it is more open; a missing file is fine.
fn tighten(path: &Path) -> anyhow::Result<()> {
    let mode = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
            .with_context(|| format!("making {} private (0600)", path.display()))?;
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
