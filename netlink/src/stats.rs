//! RTM_NEWSTATS messages: per-device statistics by group, as
//! `rtnl_fill_statsinfo` (net/core/rtnetlink.c) emits them for lo and a TUN
//! (no extended or slave statistics, no hardware offload). Pure: counters
//! in, bytes out.

use crate::nlmsg::{Writer, NLA_F_NESTED};
use netstack::inet::DevStats;

pub const RTM_NEWSTATS: u16 = 92;
pub const RTM_GETSTATS: u16 = 94;
const IFLA_STATS_LINK_64: u16 = 1;
const IFLA_STATS_LINK_OFFLOAD_XSTATS: u16 = 4;
const IFLA_STATS_AF_SPEC: u16 = 5;
const IFLA_OFFLOAD_XSTATS_HW_S_INFO: u16 = 2;
const IFLA_OFFLOAD_XSTATS_L3_STATS: u16 = 3;

/// The filter bit of a stats group (`IFLA_STATS_FILTER_BIT`).
fn bit(attr: u16) -> u32 {
    1 << (attr - 1)
}

/// One device's statistics for the groups in `mask`.
pub fn fill(
    w: &mut Writer,
    flags: u16,
    seq: u32,
    portid: u32,
    ifindex: u32,
    mask: u32,
    stats: &DevStats,
) {
    let start = w.begin(RTM_NEWSTATS, flags, seq, portid);
    // struct if_stats_msg: family, pad1, pad2, ifindex, filter_mask.
    w.bytes(&[0, 0, 0, 0]);
    w.bytes(&ifindex.to_ne_bytes());
    w.bytes(&mask.to_ne_bytes());
    if mask & bit(IFLA_STATS_LINK_64) != 0 {
        let b: Vec<u8> = crate::link::stats64(stats)
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        w.attr(IFLA_STATS_LINK_64, &b);
    }
    // IFLA_STATS_LINK_XSTATS and _XSTATS_SLAVE: lo and tun have none.
    if mask & bit(IFLA_STATS_LINK_OFFLOAD_XSTATS) != 0 {
        // Only the L3 hardware-stats info, neither requested nor used.
        let o = w.nest(IFLA_STATS_LINK_OFFLOAD_XSTATS);
        let info = w.nest(IFLA_OFFLOAD_XSTATS_HW_S_INFO | NLA_F_NESTED);
        let l3 = w.nest(IFLA_OFFLOAD_XSTATS_L3_STATS | NLA_F_NESTED);
        w.u8(1, 0); // IFLA_OFFLOAD_XSTATS_HW_S_INFO_REQUEST
        w.u8(2, 0); // IFLA_OFFLOAD_XSTATS_HW_S_INFO_USED
        w.nest_end(l3);
        w.nest_end(info);
        w.nest_end(o);
    }
    if mask & bit(IFLA_STATS_AF_SPEC) != 0 {
        // No address family has per-device stats to add here.
        let n = w.nest(IFLA_STATS_AF_SPEC);
        w.nest_end(n);
    }
    w.end(start);
}
