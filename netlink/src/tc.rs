//! RTM_NEWQDISC messages: each device's root qdisc as `tc_fill_qdisc`
//! (net/sched/sch_api.c) emits it: `noqueue` for lo (and any device without a
//! transmit queue), the default qdisc otherwise (`pfifo_fast`, whose
//! options `pfifo_fast_dump` gives). sandnet queues nothing itself: the
//! counters are 0. Pure: bytes out.

use crate::nlmsg::Writer;

pub const RTM_NEWQDISC: u16 = 36;
pub const RTM_GETQDISC: u16 = 38;
pub const RTM_GETTCLASS: u16 = 42;
pub const RTM_GETTFILTER: u16 = 46;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_STATS: u16 = 3;
const TCA_STATS2: u16 = 7;
const TCA_HW_OFFLOAD: u16 = 12;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TC_H_ROOT: u32 = 0xffff_ffff;
/// pfifo_fast's bands and its priority-to-band map (`sch_generic.c`'s prio2band).
const PFIFO_FAST_BANDS: u32 = 3;
const PRIO2BAND: [u8; 16] = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];

/// One device's root qdisc of kind `kind`.
pub fn fill(w: &mut Writer, flags: u16, seq: u32, portid: u32, ifindex: u32, kind: &str) {
    let start = w.begin(RTM_NEWQDISC, flags, seq, portid);
    // struct tcmsg: family, pad, pad, ifindex, handle, parent, info (refcount).
    w.bytes(&[0, 0, 0, 0]);
    w.bytes(&ifindex.to_ne_bytes());
    w.bytes(&0u32.to_ne_bytes());
    w.bytes(&TC_H_ROOT.to_ne_bytes());
    w.bytes(&2u32.to_ne_bytes());
    w.string(TCA_KIND, kind);
    if kind == "pfifo_fast" {
        let mut o = PFIFO_FAST_BANDS.to_ne_bytes().to_vec();
        o.extend_from_slice(&PRIO2BAND);
        w.attr(TCA_OPTIONS, &o);
    }
    w.u8(TCA_HW_OFFLOAD, 0);
    // gnet_stats: basic (bytes, packets), queue (qlen, backlog, drops, requeues, overlimits).
    let s2 = w.nest(TCA_STATS2);
    w.attr(TCA_STATS_BASIC, &[0; 16]);
    w.attr(TCA_STATS_QUEUE, &[0; 20]);
    w.nest_end(s2);
    // struct tc_stats (the old form): bytes, packets, drops, overlimits, bps, pps, qlen, backlog.
    w.attr(TCA_STATS, &[0; 40]);
    w.end(start);
}
