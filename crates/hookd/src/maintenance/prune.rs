//! `hookd prune [--dry-run]`: the retention pass on demand, against the configured database
//! (like `hookd migrate`), with a progress bar on stderr and one line per table on stdout.

use std::io::Write;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::retention::{cutoff, prune_before};
use crate::config::Config;
use crate::domain::time::Timestamp;
use crate::store::PruneCounts;

/// Removes (or with `dry_run` only counts) what is older than the configured retention, and
/// writes `removed|would remove <TAB> table <TAB> rows` lines to `out`.
pub async fn prune(
    config: &Config,
    dry_run: bool,
    out: &mut impl Write,
) -> anyhow::Result<PruneCounts> {
    let store = crate::app::open_existing_store(config).await?;
    let now = Timestamp::now();
    let cutoff = cutoff(config.retention.0, now);
    eprintln!(
        "{} what was created before {} (retention {})",
        if dry_run { "Counting" } else { "Removing" },
        cutoff.to_rfc3339(),
        humantime::format_duration(config.retention.0)
    );
    // Counted first in both cases: it is the dry run's answer and the progress bar's length.
    let prunable = store
        .count_prunable(cutoff, now)
        .await
        .context("counting what retention would remove")?;
    let counts = if dry_run {
        prunable
    } else {
        let bar = ProgressBar::new(prunable.total()).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({elapsed}) {msg}")
                .context("progress bar template")?,
        );
        let removed = prune_before(store.as_ref(), cutoff, |so_far| {
            bar.set_position(so_far.total());
            bar.set_message(format!("{} events", so_far.events));
        })
        .await
        .context("removing old rows")?;
        bar.finish_and_clear();
        removed
    };
    let verb = if dry_run { "would remove" } else { "removed" };
    for (table, rows) in counts.by_table() {
        writeln!(out, "{verb}\t{table}\t{rows}")?;
    }
    Ok(counts)
}
