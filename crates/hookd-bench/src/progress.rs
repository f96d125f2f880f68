//! Progress bars on stderr (indicatif), fed from the run's atomic counters by one ticker task
//! per bar, ten times a second: the hot paths never touch the display. When stderr is not a
//! terminal the bars hide themselves and only the phase summaries are printed.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::task::JoinHandle;

const TICK: Duration = Duration::from_millis(100);

pub struct Display {
    multi: MultiProgress,
}

/// A bar and the task keeping it current.
pub struct Tracked {
    pub bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl Display {
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
        }
    }

    /// A bar of `len` steps whose position is `read()`, refreshed until [`Tracked::finish`].
    pub fn track(
        &self,
        prefix: &'static str,
        len: u64,
        read: impl Fn() -> u64 + Send + 'static,
    ) -> Tracked {
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:32.cyan/blue}] {pos:>7}/{len:7} {per_sec:>12} {elapsed:>4}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                shown.set_position(read());
            }
        });
        Tracked { bar, ticker }
    }

    /// Prints a line above the bars (or plainly when they are hidden).
    pub fn note(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }
}

impl Tracked {
    pub fn set_len(&self, len: u64) {
        self.bar.set_length(len);
    }

    /// Stops refreshing, shows `position` and leaves the bar on screen.
    pub fn finish(self, position: u64) {
        self.ticker.abort();
        self.bar.set_position(position);
        self.bar.finish();
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}
