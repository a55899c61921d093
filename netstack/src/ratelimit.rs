//! Rate limits on the ICMP errors the stack sends, as Linux applies them, so
//! that a flood at closed ports is not answered packet for packet:
//! - one global bucket for IPv4 and IPv6 together (net.ipv4.icmp_msgs_per_sec
//!   1000, icmp_msgs_burst 50), counted OutRateLimitGlobal;
//! - one bucket per destination (inet_peer_xrlim_allow): one message per
//!   net.ipv4.icmp_ratelimit / net.ipv6.icmp.ratelimit (1000 ms), bursts of
//!   6, counted OutRateLimitHost / Icmp6OutRateLimitHost. IPv6 scales the
//!   interval down with the route's prefix length, as icmpv6_xrlim_allow.
//!
//! Limited: IPv4 destination unreachable (except "fragmentation needed"),
//! source quench, time exceeded and parameter problem (icmp_ratemask 0x1818);
//! IPv6 error messages except packet too big (icmpv6 ratemask 0-1,3-127).
//! Echo replies are never limited, nor anything sent to the stack itself.

use std::collections::HashMap;
use std::net::IpAddr;

const GLOBAL_PER_SEC: u64 = 1000;
const GLOBAL_BURST: u64 = 50;
const HOST_INTERVAL_US: u64 = 1_000_000;
const HOST_BURST: u64 = 6;
/// Destinations remembered at most; idle ones are forgotten first.
const MAX_HOSTS: usize = 4096;

#[derive(Default)]
pub(crate) struct IcmpLimiter {
    /// Global credit in millionths of a message, and when it was last topped up.
    credit: u64,
    refilled_at: Option<i64>,
    /// Per destination: tokens (microseconds of interval) and last use.
    hosts: HashMap<IpAddr, (u64, i64)>,
}

pub(crate) enum Verdict {
    Allow,
    Global,
    Host,
}

/// Whether an ICMP message of `kind`/`code` (IPv4 or IPv6) is rate limited at all.
pub(crate) fn limited(v4: bool, kind: u8, code: u8) -> bool {
    if v4 {
        kind <= 18 && (1u32 << kind) & 0x1818 != 0 && !(kind == 3 && code == 4)
    } else {
        kind < 128 && kind != 2
    }
}

impl IcmpLimiter {
    /// Decides for one limited message to `dst` at `now` (microseconds);
    /// `prefix_len` is the IPv6 route's, for the interval's scaling.
    pub(crate) fn check(&mut self, now: i64, dst: IpAddr, prefix_len: u8) -> Verdict {
        // icmp_global_allow: top up; a message needs credit for one, which
        // it spends only if the destination's bucket lets it go
        // (icmp_global_consume).
        let full = GLOBAL_BURST * 1_000_000;
        let elapsed = self
            .refilled_at
            .map_or(u64::MAX, |t| (now - t).max(0) as u64);
        self.credit = self
            .credit
            .saturating_add(elapsed.saturating_mul(GLOBAL_PER_SEC))
            .min(full);
        self.refilled_at = Some(now);
        if self.credit < 1_000_000 {
            return Verdict::Global;
        }
        // inet_peer_xrlim_allow.
        let interval = match dst {
            IpAddr::V4(_) => HOST_INTERVAL_US,
            IpAddr::V6(_) if prefix_len < 128 => {
                HOST_INTERVAL_US >> ((128 - u32::from(prefix_len)) >> 5)
            }
            IpAddr::V6(_) => HOST_INTERVAL_US,
        };
        if self.hosts.len() >= MAX_HOSTS && !self.hosts.contains_key(&dst) {
            let idle = (HOST_BURST * HOST_INTERVAL_US) as i64;
            self.hosts.retain(|_, (_, last)| now - *last < idle);
            if self.hosts.len() >= MAX_HOSTS {
                self.hosts.clear();
            }
        }
        let (tokens, last) = self
            .hosts
            .entry(dst)
            .or_insert((HOST_BURST * interval, now));
        let mut t = tokens.saturating_add((now - *last).max(0) as u64);
        t = t.min(HOST_BURST * interval);
        *last = now;
        if t >= interval {
            *tokens = t - interval;
            self.credit -= 1_000_000;
            Verdict::Allow
        } else {
            *tokens = t;
            Verdict::Host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(l: &mut IcmpLimiter, now: i64, dst: &str, plen: u8) -> bool {
        matches!(l.check(now, dst.parse().unwrap(), plen), Verdict::Allow)
    }

    #[test]
    fn one_host_gets_a_burst_of_six_then_one_a_second() {
        let mut l = IcmpLimiter::default();
        let sent = (0..100)
            .filter(|_| allowed(&mut l, 0, "10.0.0.1", 24))
            .count();
        assert_eq!(sent, 6);
        assert!(!allowed(&mut l, 999_999, "10.0.0.1", 24));
        assert!(allowed(&mut l, 1_000_000, "10.0.0.1", 24));
        // Another host has its own bucket.
        assert!(allowed(&mut l, 1_000_000, "10.0.0.2", 24));
    }

    #[test]
    fn many_hosts_share_a_global_burst_of_fifty_then_a_thousand_a_second() {
        let mut l = IcmpLimiter::default();
        let hosts: Vec<String> = (0..200)
            .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
            .collect();
        let sent = hosts.iter().filter(|h| allowed(&mut l, 0, h, 24)).count();
        assert_eq!(sent, 50);
        // 10 ms later: ten more messages' worth of credit.
        let sent = hosts
            .iter()
            .filter(|h| allowed(&mut l, 10_000, h, 24))
            .count();
        assert_eq!(sent, 10);
    }

    #[test]
    fn ipv6_intervals_shrink_with_the_prefix_and_types_follow_the_masks() {
        let mut l = IcmpLimiter::default();
        // A /64 route: a quarter of the interval.
        let n = (0..6).filter(|_| allowed(&mut l, 0, "fd00::9", 64)).count();
        assert_eq!(n, 6);
        assert!(!allowed(&mut l, 249_999, "fd00::9", 64));
        assert!(allowed(&mut l, 250_000, "fd00::9", 64));
        assert!(limited(true, 3, 3) && limited(true, 11, 0) && limited(true, 12, 0));
        assert!(
            !limited(true, 3, 4),
            "fragmentation needed is never limited"
        );
        assert!(!limited(true, 0, 0) && !limited(true, 8, 0));
        assert!(limited(false, 1, 4) && limited(false, 3, 0) && limited(false, 4, 0));
        assert!(!limited(false, 2, 0) && !limited(false, 129, 0));
    }
}
