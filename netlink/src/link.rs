//! RTM_NEWLINK messages: one interface as Linux 6.18's `rtnl_fill_ifinfo`
//! emits it (net/core/rtnetlink.c), attribute by attribute, for the two kinds
//! of device sandnet has: `lo` and an IP-only TUN (ARPHRD_NONE, no hardware
//! address). Pure: table data in, bytes out.

use crate::nlmsg::{Writer, NLA_F_NESTED};
use netstack::inet::{DevStats, Interface};

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_BROADCAST: u16 = 2;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_LINK: u16 = 5;
pub const IFLA_QDISC: u16 = 6;
pub const IFLA_STATS: u16 = 7;
pub const IFLA_PROTINFO: u16 = 12;
pub const IFLA_TXQLEN: u16 = 13;
pub const IFLA_MAP: u16 = 14;
pub const IFLA_OPERSTATE: u16 = 16;
pub const IFLA_LINKMODE: u16 = 17;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_STATS64: u16 = 23;
pub const IFLA_AF_SPEC: u16 = 26;
pub const IFLA_GROUP: u16 = 27;
pub const IFLA_EXT_MASK: u16 = 29;
pub const IFLA_PROMISCUITY: u16 = 30;
pub const IFLA_NUM_TX_QUEUES: u16 = 31;
pub const IFLA_NUM_RX_QUEUES: u16 = 32;
pub const IFLA_CARRIER: u16 = 33;
pub const IFLA_CARRIER_CHANGES: u16 = 35;
pub const IFLA_PROTO_DOWN: u16 = 39;
pub const IFLA_GSO_MAX_SEGS: u16 = 40;
pub const IFLA_GSO_MAX_SIZE: u16 = 41;
pub const IFLA_XDP: u16 = 43;
pub const IFLA_CARRIER_UP_COUNT: u16 = 47;
pub const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
pub const IFLA_MIN_MTU: u16 = 50;
pub const IFLA_MAX_MTU: u16 = 51;
pub const IFLA_ALT_IFNAME: u16 = 53;
pub const IFLA_GRO_MAX_SIZE: u16 = 58;
pub const IFLA_TSO_MAX_SIZE: u16 = 59;
pub const IFLA_TSO_MAX_SEGS: u16 = 60;
pub const IFLA_ALLMULTI: u16 = 61;
pub const IFLA_DEVLINK_PORT: u16 = 62;
pub const IFLA_GSO_IPV4_MAX_SIZE: u16 = 63;
pub const IFLA_GRO_IPV4_MAX_SIZE: u16 = 64;
pub const IFLA_DPLL_PIN: u16 = 65;
pub const IFLA_MAX_PACING_OFFLOAD_HORIZON: u16 = 66;
pub const IFLA_NETNS_IMMUTABLE: u16 = 67;
pub const IFLA_HEADROOM: u16 = 68;
pub const IFLA_TAILROOM: u16 = 69;

/// `RTEXT_FILTER_SKIP_STATS`: leaves out the IPv6 per-device counters of IFLA_AF_SPEC.
pub const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;

const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_DOWN: u8 = 2;

/// `IPV6_MIN_MTU`: below it addrconf takes IPv6 off a device (other than lo).
const IPV6_MIN_MTU: u32 = 1280;

/// `GSO_MAX_SEGS`, `GSO_LEGACY_MAX_SIZE`, and lo's `tso_max_size` (GSO_MAX_SIZE
/// rounded as loopback_setup sets it).
const GSO_MAX_SEGS: u32 = 65535;
const GSO_LEGACY_MAX_SIZE: u32 = 65536;
const LO_TSO_MAX_SIZE: u32 = 524_280;

/// What the device table does not hold but a link message shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkExtras {
    /// The root qdisc a non-loopback device gets when brought up
    /// (`net.core.default_qdisc`, "pfifo_fast" unless changed).
    pub default_qdisc: String,
}

impl Default for LinkExtras {
    fn default() -> Self {
        LinkExtras {
            default_qdisc: "pfifo_fast".into(),
        }
    }
}

/// One RTM_NEWLINK (or other `ty`) message for `iface`.
#[allow(clippy::too_many_arguments)]
pub fn fill(
    w: &mut Writer,
    ty: u16,
    flags: u16,
    seq: u32,
    portid: u32,
    iface: &Interface,
    stats: &DevStats,
    ext_mask: u32,
    extras: &LinkExtras,
) {
    let lo = iface.is_loopback();
    let start = w.begin(ty, flags, seq, portid);
    // struct ifinfomsg: family, pad, type, index, flags, change.
    w.bytes(&[0, 0]);
    w.bytes(&iface.link_type.to_ne_bytes());
    w.bytes(&iface.index.to_ne_bytes());
    w.bytes(&iface.flags.to_ne_bytes());
    w.bytes(&0u32.to_ne_bytes());

    w.string(IFLA_IFNAME, &iface.name);
    w.u32(IFLA_TXQLEN, iface.tx_queue_len);
    w.u8(IFLA_OPERSTATE, operstate(iface));
    w.u8(IFLA_LINKMODE, 0);
    w.u8(IFLA_NETNS_IMMUTABLE, u8::from(lo));
    w.u32(IFLA_MTU, iface.mtu);
    // lo keeps min/max 0; tun_net_init sets ETH_MIN_MTU and MAX_MTU.
    w.u32(IFLA_MIN_MTU, if lo { 0 } else { 68 });
    w.u32(IFLA_MAX_MTU, if lo { 0 } else { 65535 });
    w.u32(IFLA_GROUP, 0);
    w.u32(IFLA_PROMISCUITY, 0);
    w.u32(IFLA_ALLMULTI, 0);
    w.u32(IFLA_NUM_TX_QUEUES, 1);
    w.u32(IFLA_GSO_MAX_SEGS, GSO_MAX_SEGS);
    w.u32(IFLA_GSO_MAX_SIZE, GSO_LEGACY_MAX_SIZE);
    w.u32(IFLA_GRO_MAX_SIZE, GSO_LEGACY_MAX_SIZE);
    w.u32(IFLA_GSO_IPV4_MAX_SIZE, GSO_LEGACY_MAX_SIZE);
    w.u32(IFLA_GRO_IPV4_MAX_SIZE, GSO_LEGACY_MAX_SIZE);
    w.u32(
        IFLA_TSO_MAX_SIZE,
        if lo {
            LO_TSO_MAX_SIZE
        } else {
            GSO_LEGACY_MAX_SIZE
        },
    );
    w.u32(IFLA_TSO_MAX_SEGS, GSO_MAX_SEGS);
    w.u32(IFLA_MAX_PACING_OFFLOAD_HORIZON, 0);
    w.u32(IFLA_NUM_RX_QUEUES, 1);
    // Every sandnet link has carrier while attached (lo always; a TUN since its fd was attached).
    w.u8(IFLA_CARRIER, 1);
    w.u32(IFLA_CARRIER_CHANGES, 0);
    w.u32(IFLA_CARRIER_UP_COUNT, 0);
    w.u32(IFLA_CARRIER_DOWN_COUNT, 0);
    w.u16(IFLA_HEADROOM, 0);
    w.u16(IFLA_TAILROOM, 0);
    w.u8(IFLA_PROTO_DOWN, 0);
    if let Some(hw) = &iface.hw_addr {
        w.attr(IFLA_ADDRESS, hw);
        // dev->broadcast: all zero for lo, as long as the address.
        w.attr(IFLA_BROADCAST, &vec![0; hw.len()]);
    }
    let s64 = stats64(stats);
    let mut b = Vec::with_capacity(200);
    for v in &s64 {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    w.attr(IFLA_STATS64, &b);
    let mut b = Vec::with_capacity(96);
    for v in &s64[..24] {
        b.extend_from_slice(&(*v as u32).to_ne_bytes());
    }
    w.attr(IFLA_STATS, &b);
    // IFLA_XDP { IFLA_XDP_ATTACHED: XDP_ATTACHED_NONE }.
    let n = w.nest(IFLA_XDP);
    w.u8(2, 0);
    w.nest_end(n);
    if !lo {
        link_info_tun(w, iface.vnet_hdr);
    }
    w.string(
        IFLA_QDISC,
        if lo || iface.tx_queue_len == 0 {
            "noqueue"
        } else {
            &extras.default_qdisc
        },
    );
    af_spec(w, iface, ext_mask);
    // struct rtnl_link_ifmap: mem_start, mem_end, base_addr, irq, dma, port, padded to 32.
    w.attr(IFLA_MAP, &[0; 32]);
    let n = w.nest(IFLA_DEVLINK_PORT | NLA_F_NESTED);
    w.nest_end(n);
    let n = w.nest(IFLA_DPLL_PIN | NLA_F_NESTED);
    w.nest_end(n);
    w.end(start);
}

/// One RTM_NEWLINK (or other `ty`) message for `iface` as addrconf's
/// `inet6_fill_ifinfo` (net/ipv6/addrconf.c) emits it: what an RTM_GETLINK
/// dump with family AF_INET6 gets (`ip -6 addr` sends one), because addrconf
/// registers its own dump handler, `inet6_dump_ifinfo`, for PF_INET6
/// RTM_GETLINK. A short message: no TXQLEN, QDISC, GROUP or statistics; the
/// IPv6 attributes of `inet6_fill_ifla6_attrs` nested in IFLA_PROTINFO
/// instead of IFLA_AF_SPEC. Only for a device with IPv6 (see `has_inet6`).
pub fn fill_inet6(w: &mut Writer, ty: u16, flags: u16, seq: u32, portid: u32, iface: &Interface) {
    let start = w.begin(ty, flags, seq, portid);
    // struct ifinfomsg: family AF_INET6, pad, type, index, flags, change 0.
    w.bytes(&[libc::AF_INET6 as u8, 0]);
    w.bytes(&iface.link_type.to_ne_bytes());
    w.bytes(&iface.index.to_ne_bytes());
    w.bytes(&iface.flags.to_ne_bytes());
    w.bytes(&0u32.to_ne_bytes());

    w.string(IFLA_IFNAME, &iface.name);
    // Only a device with an address length: lo's six zero bytes; a TUN has none.
    if let Some(hw) = &iface.hw_addr {
        w.attr(IFLA_ADDRESS, hw);
    }
    w.u32(IFLA_MTU, iface.mtu);
    // IFLA_LINK only when iflink differs from ifindex: never for lo or a TUN.
    w.u8(IFLA_OPERSTATE, operstate(iface));
    // nla_nest_start_noflag: no NLA_F_NESTED.
    let n = w.nest(IFLA_PROTINFO);
    // inet6_fill_ifla6_attrs(skb, idev, 0): no ext mask, counters included.
    inet6_attrs(w, iface, 0);
    w.nest_end(n);
    w.end(start);
}

/// Whether the kernel would hold an inet6_dev for `iface`: addrconf creates
/// none for a device whose MTU is below IPV6_MIN_MTU and drops it when the
/// MTU goes below (addrconf_notify, NETDEV_CHANGEMTU), except lo's. Without
/// one a device has no AF_INET6 part in IFLA_AF_SPEC and no message in an
/// AF_INET6 link dump.
pub fn has_inet6(iface: &Interface) -> bool {
    iface.is_loopback() || iface.mtu >= IPV6_MIN_MTU
}

/// IFLA_OPERSTATE as both link messages show it (`netif_running ? operstate
/// : IF_OPER_DOWN`): neither lo nor a TUN reports an operational state of
/// its own, so UNKNOWN while up.
fn operstate(iface: &Interface) -> u8 {
    if iface.is_up() {
        IF_OPER_UNKNOWN
    } else {
        IF_OPER_DOWN
    }
}

/// `struct rtnl_link_stats64` from the 16 /proc/net/dev counters (the inverse
/// of dev_seq_printf_stats: the detail counters it sums are kept in the first
/// of each sum).
pub(crate) fn stats64(s: &DevStats) -> [u64; 25] {
    [
        s.rx_packets,
        s.tx_packets,
        s.rx_bytes,
        s.tx_bytes,
        s.rx_errs,
        s.tx_errs,
        s.rx_drop,
        s.tx_drop,
        s.rx_multicast,
        s.tx_colls,
        0, // rx_length_errors
        0, // rx_over_errors
        0, // rx_crc_errors
        s.rx_frame,
        s.rx_fifo,
        0, // rx_missed_errors
        0, // tx_aborted_errors
        s.tx_carrier,
        s.tx_fifo,
        0, // tx_heartbeat_errors
        0, // tx_window_errors
        s.rx_compressed,
        s.tx_compressed,
        0, // rx_nohandler
        0, // rx_otherhost_dropped
    ]
}

/// IFLA_LINKINFO of a TUN as sandnet opens it (tun_fill_info): kind "tun";
/// IFF_TUN, no packet info, a vnet header when it takes offloads, not
/// persistent, one queue, and no owner or group set.
fn link_info_tun(w: &mut Writer, vnet_hdr: bool) {
    let n = w.nest(IFLA_LINKINFO);
    w.string(1, "tun"); // IFLA_INFO_KIND
    let d = w.nest(2); // IFLA_INFO_DATA
    w.u8(3, 1); // IFLA_TUN_TYPE: IFF_TUN
    w.u8(4, 0); // IFLA_TUN_PI
    w.u8(5, u8::from(vnet_hdr)); // IFLA_TUN_VNET_HDR
    w.u8(6, 0); // IFLA_TUN_PERSIST
    w.u8(7, 0); // IFLA_TUN_MULTI_QUEUE
    w.nest_end(d);
    w.nest_end(n);
}

/// `net.ipv4.conf.<dev>.*` (IPV4_DEVCONF_* order) of a fresh namespace:
/// lo has NOXFRM and NOPOLICY set.
const INET_DEVCONF_LO: [i32; 33] = [
    0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10000, 1000, 0,
    0, 0, 0, 1,
];
const INET_DEVCONF: [i32; 33] = [
    0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10000, 1000, 0,
    0, 0, 0, 1,
];

/// `net.ipv6.conf.<dev>.*` (DEVCONF_* order). lo keeps the kernel's defaults
/// (it exists before anything can change `default`); other devices are those
/// of a namespace whose `default` has addr_gen_mode 1 (no link-local address)
/// and router_solicitations 0, which is what sandnet does: it generates no
/// link-local address and sends no router solicitation. Index 2 (mtu6) is the
/// device's MTU.
const INET6_DEVCONF_LO: [i32; 60] = [
    0, 64, 65536, 1, 1, 1, 1, -1, 4000, 1000, -1, 604800, 86400, 3, 600, 16, 0, 1, 1, 1, 60000, 0,
    0, 0, 0, 0, 0, -1, 0, 0, 10000, 1000, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 3600000, 0, 0, 1, 0, 0,
    0, 0, 0, 1024, 0, 65535, -1, 1, 0, 0, 0,
];
const INET6_DEVCONF: [i32; 60] = [
    0, 64, 1500, 1, 1, 1, 1, 0, 4000, 1000, -1, 604800, 86400, 3, 600, 16, 0, 1, 1, 1, 60000, 0, 0,
    0, 0, 0, 0, -1, 0, 0, 10000, 1000, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 3600000, 0, 0, 1, 1, 0, 0,
    0, 0, 1024, 0, 65535, -1, 1, 0, 0, 0,
];
/// `__IPSTATS_MIB_MAX` and `__ICMP6_MIB_MAX`: the lengths (first u64) of the
/// IPv6 per-device counter arrays.
const IPSTATS_MIB_MAX: usize = 38;
const ICMP6_MIB_MAX: usize = 7;
const IF_READY: u32 = 0x8000_0000;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;

fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

/// IFLA_AF_SPEC: AF_INET (inet_fill_link_af) then AF_INET6
/// (inet6_fill_link_af, left out without an inet6_dev), in the order the
/// families registered.
fn af_spec(w: &mut Writer, iface: &Interface, ext_mask: u32) {
    let lo = iface.is_loopback();
    let spec = w.nest(IFLA_AF_SPEC);
    let inet = w.nest(libc::AF_INET as u16);
    w.attr(
        1, // IFLA_INET_CONF
        &i32s(if lo { &INET_DEVCONF_LO } else { &INET_DEVCONF }),
    );
    w.nest_end(inet);

    if has_inet6(iface) {
        let inet6 = w.nest(libc::AF_INET6 as u16);
        inet6_attrs(w, iface, ext_mask);
        w.nest_end(inet6);
    }
    w.nest_end(spec);
}

/// The attributes of `inet6_fill_ifla6_attrs`, which the kernel writes both
/// into IFLA_AF_SPEC/AF_INET6 (inet6_fill_link_af, with the request's ext
/// mask) and into IFLA_PROTINFO of an AF_INET6 link dump (mask 0).
fn inet6_attrs(w: &mut Writer, iface: &Interface, ext_mask: u32) {
    let lo = iface.is_loopback();
    w.u32(1, if iface.is_up() { IF_READY } else { 0 }); // IFLA_INET6_FLAGS

    // struct ifla_cacheinfo: max_reasm_len, tstamp, reachable_time, retrans_time.
    // tstamp (creation time) and reachable_time (random) are Linux's own; sandnet
    // shows the base reachable time.
    let mut ci = Vec::with_capacity(16);
    for v in [65535u32, 0, 30000, 1000] {
        ci.extend_from_slice(&v.to_ne_bytes());
    }
    w.attr(5, &ci); // IFLA_INET6_CACHEINFO
    let mut conf = if lo { INET6_DEVCONF_LO } else { INET6_DEVCONF };
    conf[2] = iface.mtu as i32;
    w.attr(2, &i32s(&conf)); // IFLA_INET6_CONF
    if ext_mask & RTEXT_FILTER_SKIP_STATS == 0 {
        w.attr(3, &counters(IPSTATS_MIB_MAX)); // IFLA_INET6_STATS
        w.attr(6, &counters(ICMP6_MIB_MAX)); // IFLA_INET6_ICMP6STATS
    }
    w.attr(7, &[0; 16]); // IFLA_INET6_TOKEN

    // IFLA_INET6_ADDR_GEN_MODE: lo's is EUI64 (0), as in every namespace.
    w.u8(8, if lo { 0 } else { IN6_ADDR_GEN_MODE_NONE });
    // IFLA_INET6_RA_MTU only once a router advertisement gave one: never here.
}

/// A per-device counter array: its length, then zeros (sandnet keeps IPv6
/// counters per stack, not per device).
fn counters(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n * 8];
    v[..8].copy_from_slice(&(n as u64).to_ne_bytes());
    v
}
