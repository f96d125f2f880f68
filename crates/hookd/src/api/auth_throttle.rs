//! Failed authentications throttled per source address: after `auth_failure_limit` failed
//! authentications (401s) from one address within `auth_failure_window_secs`, every request
//! from it is answered 429 `rate_limited` with `Retry-After` until the window ends — before its
//! key is looked at, so a guess made while throttled learns nothing, not even whether it was
//! right. Successful requests never count, so a busy client with a good key is never throttled;
//! other addresses are unaffected.
//!
//! IPv6 clients are counted per /64 (what one subscriber is usually given, and what an attacker
//! rotates through for free); IPv4 per address. The table is in process memory (per node) and
//! bounded: at [`MAX_TRACKED`] addresses, expired windows are dropped, then the oldest.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Addresses tracked at most (a few MB of memory at most).
pub const MAX_TRACKED: usize = 100_000;

/// The per-address failure counts (see the module docs).
pub struct AuthThrottle {
    limit: u32,
    window: Duration,
    capacity: usize,
    table: Mutex<HashMap<IpAddr, Strikes>>,
}

#[derive(Clone, Copy)]
struct Strikes {
    since: Instant,
    failures: u32,
}

impl AuthThrottle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_capacity(limit, window, MAX_TRACKED)
    }

    fn with_capacity(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds until the window ends)` when `ip` is throttled.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        match table.get(&subject(ip)) {
            Some(strikes) if strikes.failures >= self.limit => {
                let left = self.window.saturating_sub(strikes.since.elapsed());
                if left.is_zero() {
                    Ok(())
                } else {
                    Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip`; true when it is the one that reaches the limit.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        let key = subject(ip);
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if !table.contains_key(&key) && table.len() >= self.capacity {
            self.make_room(&mut table, now);
        }
        let strikes = table.entry(key).or_insert(Strikes {
            since: now,
            failures: 0,
        });
        if now.duration_since(strikes.since) >= self.window {
            *strikes = Strikes {
                since: now,
                failures: 0,
            };
        }
        strikes.failures = strikes.failures.saturating_add(1);
        strikes.failures == self.limit
    }

    /// Drops expired windows; if none has expired, the oldest one.
    fn make_room(&self, table: &mut HashMap<IpAddr, Strikes>, now: Instant) {
        table.retain(|_, s| now.duration_since(s.since) < self.window);
        if table.len() >= self.capacity {
            if let Some(oldest) = table.iter().min_by_key(|(_, s)| s.since).map(|(ip, _)| *ip) {
                table.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.lock().unwrap().len()
    }
}

/// What is counted for `ip`: the IPv4 address (also when written IPv4-mapped), or the /64 of
/// an IPv6 address.
fn subject(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_limit_th_failure_throttles_that_address_only() {
        let throttle = AuthThrottle::new(3, WINDOW);
        assert!(!throttle.record_failure(ip("192.0.2.1")));
        assert!(!throttle.record_failure(ip("192.0.2.1")));
        assert_eq!(throttle.check(ip("192.0.2.1")), Ok(()));
        assert!(throttle.record_failure(ip("192.0.2.1")));
        let wait = throttle.check(ip("192.0.2.1")).unwrap_err();
        assert!((59..=60).contains(&wait), "{wait}");
        assert_eq!(throttle.check(ip("192.0.2.2")), Ok(()));
        assert!(
            throttle.check(ip("::ffff:192.0.2.1")).is_err(),
            "IPv4-mapped"
        );
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let throttle = AuthThrottle::new(2, WINDOW);
        throttle.record_failure(ip("2001:db8:1:2::1"));
        throttle.record_failure(ip("2001:db8:1:2:ffff::9"));
        assert!(throttle.check(ip("2001:db8:1:2::77")).is_err());
        assert_eq!(throttle.check(ip("2001:db8:1:3::1")), Ok(()));
    }

    #[test]
    fn a_window_ends() {
        let throttle = AuthThrottle::new(1, Duration::from_millis(20));
        throttle.record_failure(ip("192.0.2.1"));
        assert!(throttle.check(ip("192.0.2.1")).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(throttle.check(ip("192.0.2.1")), Ok(()));
        assert!(
            throttle.record_failure(ip("192.0.2.1")),
            "counting starts over"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = AuthThrottle::with_capacity(5, WINDOW, 100);
        throttle.record_failure(ip("198.51.100.1"));
        for n in 0..10_000u32 {
            throttle.record_failure(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n)));
            assert!(throttle.tracked() <= 100);
        }
        assert_eq!(throttle.check(ip("10.0.39.15")), Ok(()));
    }
}
