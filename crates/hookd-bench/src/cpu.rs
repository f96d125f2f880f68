//! CPU time spent by a process, from `/proc/<pid>/stat` (user + system, every thread), so a
//! run can say what each delivery cost the server and the harness. Throughput on a shared
//! two-core machine swings by ±5% between runs; CPU per delivery is far steadier, which is
//! what small before/after comparisons need. Linux only; elsewhere the report says `null`.

use std::time::Duration;

/// Linux reports `utime`/`stime` in `USER_HZ` ticks, which is 100 on every architecture the
/// kernel exposes to user space.
const TICKS_PER_SEC: u64 = 100;

/// CPU time used so far by process `pid`.
pub fn used_by(pid: u32) -> Option<Duration> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time used so far by several processes together (`--nodes`); `None` for an empty list
/// or when one of them cannot be read.
pub fn used_by_all(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| used_by(pid)).sum()
}

/// CPU time used so far by this process (the harness).
pub fn used_here() -> Option<Duration> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` from a `stat` line. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SEC,
    ))
}

/// Microseconds of CPU per unit of work between two readings, to one decimal.
pub fn micros_per(before: Option<Duration>, after: Option<Duration>, units: u64) -> Option<f64> {
    let spent = after?.checked_sub(before?)?;
    (units > 0).then(|| (spent.as_secs_f64() * 1e6 / units as f64 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_time_after_a_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio rt) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 3 0 12345 1000 200";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(3000)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn our_own_cpu_time_is_readable_and_grows() {
        let before = used_here().expect("/proc/self/stat is readable on Linux");
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while used_here().unwrap() <= before {
            x = x.wrapping_mul(31).wrapping_add(7);
            assert!(start.elapsed() < Duration::from_secs(30), "{x}");
        }
    }

    #[test]
    fn several_processes_add_up_and_an_unreadable_one_spoils_the_sum() {
        let me = std::process::id();
        assert!(used_by_all(&[me, me]).unwrap() >= used_by(me).unwrap());
        assert_eq!(used_by_all(&[me, u32::MAX]), None);
        assert_eq!(used_by_all(&[]), None);
    }

    #[test]
    fn micros_per_unit() {
        let ms = Duration::from_millis;
        assert_eq!(
            micros_per(Some(ms(1000)), Some(ms(3000)), 20_000),
            Some(100.0)
        );
        assert_eq!(micros_per(Some(ms(1000)), Some(ms(3000)), 0), None);
        assert_eq!(micros_per(None, Some(ms(3000)), 10), None);
        assert_eq!(micros_per(Some(ms(3000)), Some(ms(1000)), 10), None);
    }
}
