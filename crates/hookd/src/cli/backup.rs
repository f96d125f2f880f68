//! `hookd backup PATH` and `hookd restore PATH`: the SQLite database copied while the server
//! runs, and put back while it does not (the copying is in `store/sqlite/backup.rs`).
//!
//! Restore takes the same lock `hookd serve` holds (`app::lock_single_server`), so it refuses
//! while a server uses the database, and keeps a server from starting half-way. Replacing an
//! existing database needs `--yes`; without it, restore names both databases and stops.
//! PostgreSQL has its own tools (`pg_dump`/`pg_restore`); both commands say so.

use std::io::Write;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::app;
use crate::config::Config;
use crate::store::sqlite::backup as sqlite_backup;

fn postgres_hint(config: &Config, what: &str) -> anyhow::Result<std::path::PathBuf> {
    config.sqlite_path().ok_or_else(|| {
        CliError::api(format!(
            "hookd {what} works on the SQLite database; with PostgreSQL use its own tools: \
             pg_dump --format=custom --file=hookd.dump \"$HOOKD_DATABASE_URL\" to back up and \
             pg_restore --clean --dbname=\"$HOOKD_DATABASE_URL\" hookd.dump to restore"
        ))
        .into()
    })
}

/// A bar on stderr (hidden when stderr is not a terminal), moved by the copy's page counts.
fn bar(verb: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {percent}% ({pos}/{len} pages)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(verb.to_string());
    bar
}

/// The reminder that the master key must travel with the database: sealed secrets (signing
/// secrets, integration credentials) cannot be read without the key they were sealed with.
fn master_key_note(config: &Config, db: &Path, restoring: bool) -> String {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = dir.join("master.key");
    match (config.master_key.is_some(), restoring) {
        (true, false) => "note: its secrets are sealed with the master key HOOKD_MASTER_KEY (or \
                          the config file's master_key): keep that key with the backup"
            .to_string(),
        (true, true) => "note: the server will read its secrets with HOOKD_MASTER_KEY (or the \
                         config file's master_key): it must be the key the backup was made with"
            .to_string(),
        (false, false) => format!(
            "note: its secrets are sealed with the master key in {}: back that file up with it",
            file.display()
        ),
        (false, true) if file.exists() => format!(
            "note: the server will read its secrets with the master key in {}: it must be the \
             key the backup was made with",
            file.display()
        ),
        (false, true) => format!(
            "note: there is no master key at {}: copy there the master.key the backup was made \
             with (or set HOOKD_MASTER_KEY) before starting hookd, or its secrets cannot be read",
            file.display()
        ),
    }
}

pub async fn backup(config: &Config, dest: &Path) -> anyhow::Result<()> {
    let source = postgres_hint(config, "backup")?;
    app::require_sqlite_database(config)?;
    let bar = bar("backing up");
    let summary = sqlite_backup::backup(&source, dest, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let summary = summary?;
    println!(
        "backed up {} to {} ({summary})",
        source.display(),
        dest.display()
    );
    eprintln!("{}", master_key_note(config, &source, false));
    Ok(())
}

pub async fn restore(config: &Config, backup: &Path, yes: bool) -> anyhow::Result<()> {
    let target = postgres_hint(config, "restore")?;
    if !backup.is_file() {
        return Err(CliError::usage(format!(
            "no backup file at {}",
            std::path::absolute(backup)
                .unwrap_or(backup.to_path_buf())
                .display()
        ))
        .into());
    }
    let incoming = sqlite_backup::verify(backup)?;
    // Held until the restore is done: no server can start on the database meanwhile.
    let _lock = app::lock_single_server(config)
        .map_err(|e| CliError::api(format!("refusing to restore: {e:#}; stop it first")))?;
    if target.exists() && !yes {
        let current = sqlite_backup::describe(&target)
            .map_or_else(|e| format!("unreadable: {e:#}"), |s| s.to_string());
        return Err(CliError::usage(format!(
            "not restoring without --yes. This would replace the database {} ({current}) with \
             the backup {} ({incoming}); the current one would be kept beside it as \
             {}.replaced-<time>",
            target.display(),
            backup.display(),
            target.display()
        ))
        .into());
    }
    let bar = bar("restoring");
    let kept = sqlite_backup::restore(backup, &target, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let kept = kept?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "restored {} ({incoming}) into {}",
        backup.display(),
        target.display()
    )?;
    if let Some(kept) = kept {
        writeln!(
            out,
            "the database it replaced is kept as {} (delete it when you no longer need it)",
            kept.display()
        )?;
    }
    eprintln!("{}", master_key_note(config, &target, true));
    Ok(())
}
