//! The server's peak memory, from `/proc/<pid>/status`: the kernel's high-water mark (`VmHWM`)
//! read periodically, with `VmRSS` as a fallback, so the peak survives the process exiting
//! before the end of the run. Linux only; elsewhere the report says `null`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

const PERIOD: Duration = Duration::from_millis(200);

pub struct RssSampler {
    pid: u32,
    peak_kb: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let peak_kb = Arc::new(AtomicU64::new(0));
        let peak = Arc::clone(&peak_kb);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(PERIOD);
            loop {
                tick.tick().await;
                match read_kb(pid) {
                    Some(kb) => {
                        peak.fetch_max(kb, Relaxed);
                    }
                    None => return,
                }
            }
        });
        Self { pid, peak_kb, task }
    }

    /// The peak so far in MiB (reading once more now), or `None` if it could never be read.
    pub fn peak_mb(&self) -> Option<f64> {
        if let Some(kb) = read_kb(self.pid) {
            self.peak_kb.fetch_max(kb, Relaxed);
        }
        let kb = self.peak_kb.load(Relaxed);
        (kb > 0).then(|| kb as f64 / 1024.0)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `max(VmHWM, VmRSS)` in KiB.
fn read_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .filter_map(|line| {
            let rest = line
                .strip_prefix("VmHWM:")
                .or_else(|| line.strip_prefix("VmRSS:"))?;
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_memory() {
        let kb = read_kb(std::process::id()).expect("/proc is readable on Linux");
        assert!(kb > 100, "{kb} KiB");
    }
}
