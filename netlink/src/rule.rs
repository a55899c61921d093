//! RTM_NEWRULE messages: the policy rules every namespace starts with, as
//! `fib_nl_fill_rule` (net/core/fib_rules.c) emits them. sandnet has no
//! policy routing: these are the only rules. Pure: bytes out.

use crate::nlmsg::Writer;

pub const RTM_NEWRULE: u16 = 32;
const FRA_PRIORITY: u16 = 6;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_PROTOCOL: u16 = 21;
const FR_ACT_TO_TBL: u8 = 1;
const RTPROT_KERNEL: u8 = 2;

/// `RTNL_FAMILY_IPMR` and `RTNL_FAMILY_IP6MR`: the multicast routing rule sets.
pub const RTNL_FAMILY_IPMR: u8 = 128;
pub const RTNL_FAMILY_IP6MR: u8 = 129;

/// A family's default rules as (priority, table): `fib_default_rules_init`
/// (IPv4: local, main, default), `fib6_rules_net_init` (local, main),
/// `ipmr_rules_init` and `ip6mr_rules_init` (one rule each).
pub fn defaults(family: u8) -> &'static [(u32, u32)] {
    match family {
        2 => &[(0, 255), (32766, 254), (32767, 253)],
        10 => &[(0, 255), (32766, 254)],
        RTNL_FAMILY_IPMR => &[(32767, 253)],
        RTNL_FAMILY_IP6MR => &[(32767, 254)],
        _ => &[],
    }
}

/// The order a dump of every family lists the rule sets in (the order their
/// `fib_rules_ops` registered).
pub const DUMP_ALL_ORDER: [u8; 4] = [2, RTNL_FAMILY_IPMR, RTNL_FAMILY_IP6MR, 10];

/// One rule.
pub fn fill(w: &mut Writer, flags: u16, seq: u32, portid: u32, family: u8, prio: u32, table: u32) {
    let start = w.begin(RTM_NEWRULE, flags, seq, portid);
    // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags.
    let t = if table < 256 { table as u8 } else { 252 };
    w.bytes(&[family, 0, 0, 0, t, 0, 0, FR_ACT_TO_TBL]);
    w.bytes(&0u32.to_ne_bytes());
    w.u32(FRA_TABLE, table);
    w.u32(FRA_SUPPRESS_PREFIXLEN, u32::MAX);
    w.u8(FRA_PROTOCOL, RTPROT_KERNEL);
    if prio != 0 {
        w.u32(FRA_PRIORITY, prio);
    }
    w.end(start);
}
