//! The glue: request bytes in, reply bytes out, answered from a `Stack`.
//! Dispatch follows `rtnetlink_rcv_msg` (net/core/rtnetlink.c) and
//! `netlink_rcv_skb` (net/netlink/af_netlink.c); each request kind's checks
//! follow its handler in the kernel.

use crate::error::{ack, done, AckMode, Failure};
use crate::link::{LinkExtras, IFLA_EXT_MASK, IFLA_IFNAME};
use crate::nlmsg::{
    u16_at, u32_at, Attrs, Done, Message, Writer, NLMSG_MIN_TYPE, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_FILTERED, NLM_F_MULTI, NLM_F_REQUEST,
};
use crate::route::{
    Lookup, RTA_DST, RTA_IIF, RTA_OIF, RTA_SRC, RTA_TABLE, RTA_UID, RTM_F_CLONED, RTM_F_FIB_MATCH,
    RTM_F_LOOKUP_TABLE, RTM_F_NOTIFY, RTM_F_PREFIX,
};
use crate::{addr, link, route};
use netstack::inet::{Snapshot, RT_TABLE_LOCAL, RT_TABLE_MAIN};
use netstack::Stack;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_SETLINK: u16 = 19;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_GETNEIGH: u16 = 30;
pub const RTM_GETRULE: u16 = 34;
pub const RTM_GETNETCONF: u16 = 82;
pub const RTM_GETNSID: u16 = 90;
/// Linux 6.18's RTM_MAX.
pub const RTM_MAX: u16 = 123;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

/// How the requesting NETLINK_ROUTE socket is set up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// NETLINK_EXT_ACK: error texts come back as NLMSGERR_ATTR_MSG.
    pub ext_ack: bool,
    /// NETLINK_CAP_ACK: errors quote only the request header.
    pub cap_ack: bool,
    /// NETLINK_GET_STRICT_CHK: dump requests are checked strictly and their
    /// header fields filter (address dumps by ifindex, route dumps by table...).
    pub strict_check: bool,
    /// The socket's port id, sent back as nlmsg_pid.
    pub portid: u32,
    /// The requester's uid: what an IPv4 route lookup reports as RTA_UID.
    pub uid: u32,
    /// Link facts the tables do not hold.
    pub link: LinkExtras,
}

/// A NETLINK_ROUTE responder for one stack (one network namespace).
pub struct Responder {
    stack: Stack,
    opts: Options,
}

enum Outcome {
    /// Answered (or nothing to answer): an ACK follows if asked for.
    Ok,
    /// A dump: its NLMSG_DONE ends it, no ACK.
    Dumped(Done),
    Failed(Failure),
}

/// A dump's outcome; the flags its parts and NLMSG_DONE carry (NLM_F_DUMP_FILTERED)
/// are set in the `answer` argument as soon as a filter is accepted, so that
/// they are there even when the dump then fails.
type Dumped = Result<(), Failure>;

/// The families a dump asked for with `family` covers: one of them, or, for
/// any other value, both in family order (rtnl_dump_all walks every family
/// that registered the dump).
fn inet_families(family: u8) -> &'static [u8] {
    match family {
        AF_INET => &[AF_INET],
        AF_INET6 => &[AF_INET6],
        _ => &[AF_INET, AF_INET6],
    }
}

fn einval(msg: &'static str) -> Failure {
    Failure::with_msg(libc::EINVAL, msg)
}

impl Responder {
    pub fn new(stack: Stack) -> Responder {
        Responder::with_options(stack, Options::default())
    }

    pub fn with_options(stack: Stack, opts: Options) -> Responder {
        Responder { stack, opts }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn options_mut(&mut self) -> &mut Options {
        &mut self.opts
    }

    fn mode(&self) -> AckMode {
        AckMode {
            ext_ack: self.opts.ext_ack,
            cap_ack: self.opts.cap_ack,
        }
    }

    /// Answers every message in `request` (as one sendmsg would carry them),
    /// returning the replies back to back, as the socket would deliver them.
    pub fn handle(&self, request: &[u8]) -> Vec<u8> {
        let mut w = Writer::new();
        for m in crate::nlmsg::split(request) {
            self.one(&mut w, &m);
        }
        w.buf
    }

    /// `handle`, as datagrams (see `nlmsg::datagrams_with`): what successive
    /// recvmsg calls on the socket would return, with dump parts packed up to
    /// `max` bytes (the kernel's size depends on the reader's buffer; 32 KiB
    /// is what iproute2 reads with) and each dump's NLMSG_DONE alone or with
    /// its last parts, as its kernel handler has it.
    pub fn handle_datagrams(&self, request: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for m in crate::nlmsg::split(request) {
            let mut w = Writer::new();
            let done = self.one(&mut w, &m);
            out.extend(crate::nlmsg::datagrams_with(&w.buf, max, done));
        }
        out
    }

    /// Answers one message; says where its NLMSG_DONE goes, if it was a dump.
    fn one(&self, w: &mut Writer, m: &Message<'_>) -> Done {
        let h = m.header;
        let mut err = None;
        if h.flags & NLM_F_REQUEST != 0 && h.ty >= NLMSG_MIN_TYPE {
            match self.dispatch(w, m) {
                Outcome::Ok => {}
                Outcome::Dumped(done) => return done,
                Outcome::Failed(f) => err = Some(f),
            }
        }
        if h.flags & NLM_F_ACK != 0 || err.is_some() {
            ack(w, m, err.as_ref(), self.mode(), self.opts.portid);
        }
        Done::Alone
    }

    fn dispatch(&self, w: &mut Writer, m: &Message<'_>) -> Outcome {
        let ty = m.header.ty;
        if ty > RTM_MAX {
            return Outcome::Failed(Failure::new(libc::EOPNOTSUPP));
        }
        // Every message needs at least its family byte; shorter ones are ignored.
        let Some(&family) = m.payload.first() else {
            return Outcome::Ok;
        };
        let is_dump = (ty - RTM_NEWLINK) % 4 == 2 && m.header.flags & NLM_F_DUMP == NLM_F_DUMP;
        if is_dump {
            let snap = self.stack.snapshot();
            let mut flags = 0;
            // Only inet6_dump_ifinfo (of the dumps checked against the kernel
            // datagram by datagram) reports its end with its last parts.
            let done_at = if ty == RTM_GETLINK && family == AF_INET6 {
                Done::Joins
            } else {
                Done::Alone
            };
            let result = match ty {
                // addrconf's own handler for PF_INET6 (rtnetlink_rcv_msg takes
                // the family's dumpit when it has one): `ip -6 addr` asks this.
                RTM_GETLINK if family == AF_INET6 => self.dump_link6(w, m, &snap),
                RTM_GETLINK => self.dump_link(w, m, &snap),
                RTM_GETADDR => self.dump_addr(w, m, &snap, family, &mut flags),
                RTM_GETROUTE => self.dump_route(w, m, &snap, family, &mut flags),
                RTM_GETNEIGH => self.dump_neigh(m),
                RTM_GETNSID => self.dump_nsid(m),
                RTM_GETRULE => self.dump_rule(w, m, family),
                RTM_GETNETCONF => self.dump_netconf(w, m, &snap, family),
                crate::stats::RTM_GETSTATS => self.dump_stats(w, m, &snap),
                crate::tc::RTM_GETQDISC => self.dump_qdisc(w, m, &snap),
                // No classes or filters on any qdisc.
                crate::tc::RTM_GETTCLASS | crate::tc::RTM_GETTFILTER => Ok(()),
                _ => return Outcome::Failed(Failure::new(libc::EOPNOTSUPP)),
            };
            let err = result.err();
            done(
                w,
                &m.header,
                err.as_ref(),
                flags,
                self.mode(),
                self.opts.portid,
            );
            return Outcome::Dumped(done_at);
        }
        let r = match (ty, family) {
            (RTM_GETLINK, _) => self.get_link(w, m),
            (RTM_GETROUTE, AF_INET) | (RTM_GETROUTE, AF_INET6) => self.get_route(w, m, family),
            (RTM_GETADDR, AF_INET6) => self.get_addr6(w, m),
            (crate::stats::RTM_GETSTATS, _) => self.get_stats(w, m),
            (RTM_GETNETCONF, AF_INET) | (RTM_GETNETCONF, AF_INET6) => {
                self.get_netconf(w, m, family)
            }
            // rtnl_net_getid without NETNSA_PID, NETNSA_FD or NETNSA_NSID; with one,
            // the namespace it names is not one a stack knows.
            (RTM_GETNSID, _) => Err(einval("Peer netns reference is missing")),
            _ => return self.change(m, family),
        };
        match r {
            Ok(()) => Outcome::Ok,
            Err(f) => Outcome::Failed(f),
        }
    }

    /// Requests that change the stack (handled in `change.rs`).
    fn change(&self, m: &Message<'_>, family: u8) -> Outcome {
        match crate::change::apply(&self.stack, m, family) {
            Ok(()) => Outcome::Ok,
            Err(f) => Outcome::Failed(f),
        }
    }

    // ---- links ----

    fn dump_link(&self, w: &mut Writer, m: &Message<'_>, snap: &Snapshot) -> Dumped {
        let p = m.payload;
        let attrs = if self.opts.strict_check {
            // rtnl_valid_dump_ifinfo_req
            if p.len() < 16 {
                return Err(einval("Invalid header for link dump"));
            }
            if p[1] != 0
                || u16_at(p, 2) != Some(0)
                || u32_at(p, 8) != Some(0)
                || u32_at(p, 12) != Some(0)
            {
                return Err(einval("Invalid values in header for link dump request"));
            }
            if u32_at(p, 4) != Some(0) {
                return Err(einval(
                    "Filter by device index not supported for link dumps",
                ));
            }
            let a = Attrs::parse(&p[16..]);
            if a.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            if a.list.iter().any(|x| ![10, 18, 29, 46].contains(&x.ty)) {
                return Err(einval("Unsupported attribute in link dump request"));
            }
            a
        } else {
            Attrs::parse(if p.len() < 16 { &p[1..] } else { &p[16..] })
        };
        let ext_mask = match attrs.get(IFLA_EXT_MASK) {
            Some(a) => a.u32()?,
            None => 0,
        };
        // IFLA_MASTER: sandnet has no bonds or bridges, so a master filter matches nothing.
        let master = match attrs.get(10) {
            Some(a) => a.u32()?,
            None => 0,
        };
        // IFLA_LINKINFO { IFLA_INFO_KIND }: lo has no kind, every other NIC is
        // "tun". A kind the kernel does not know filters nothing
        // (rtnl_link_ops_get finds no ops); sandnet knows only "tun".
        let kind = attrs
            .get(18)
            .and_then(|li| Attrs::parse(li.value).get(1).map(|k| k.str().to_vec()))
            .filter(|k| k.as_slice() == b"tun");
        // rtnl_dump_ifinfo marks the parts filtered, not the NLMSG_DONE.
        let mut flags = NLM_F_MULTI;
        if master != 0 || kind.is_some() {
            flags |= NLM_F_DUMP_FILTERED;
        }
        for iface in &snap.interfaces {
            if master != 0 {
                continue;
            }
            if let Some(k) = &kind {
                if iface.is_loopback() || k.as_slice() != b"tun" {
                    continue;
                }
            }
            let stats = snap
                .stats
                .dev
                .get(&iface.index)
                .copied()
                .unwrap_or_default();
            link::fill(
                w,
                RTM_NEWLINK,
                flags,
                m.header.seq,
                self.opts.portid,
                iface,
                &stats,
                ext_mask,
                &self.opts.link,
            );
        }
        Ok(())
    }

    /// inet6_dump_ifinfo (net/ipv6/addrconf.c): an RTM_GETLINK dump with
    /// family AF_INET6. One `inet6_fill_ifinfo` message per device with IPv6,
    /// nothing filters: without strict checking the header and attributes are
    /// not read at all (an ifindex dumps every device), with it anything but
    /// an all-zero ifinfomsg is refused. Not flagged NLM_F_DUMP_FILTERED.
    fn dump_link6(&self, w: &mut Writer, m: &Message<'_>, snap: &Snapshot) -> Dumped {
        if self.opts.strict_check {
            // inet6_valid_dump_ifinfo (NL_SET_ERR_MSG_MOD: the texts carry "ipv6: ").
            let p = m.payload;
            if p.len() < 16 {
                return Err(einval("ipv6: Invalid header for link dump request"));
            }
            if p.len() > 16 {
                return Err(einval("ipv6: Invalid data after header"));
            }
            if p[1..16].iter().any(|&b| b != 0) {
                return Err(einval("ipv6: Invalid values in header for dump request"));
            }
        }
        for iface in snap.interfaces.iter().filter(|i| link::has_inet6(i)) {
            link::fill_inet6(
                w,
                RTM_NEWLINK,
                NLM_F_MULTI,
                m.header.seq,
                self.opts.portid,
                iface,
            );
        }
        Ok(())
    }

    /// rtnl_getlink, whatever the family: addrconf registers no doit for
    /// PF_INET6 RTM_GETLINK, so rtnetlink_rcv_msg falls back to PF_UNSPEC's.
    fn get_link(&self, w: &mut Writer, m: &Message<'_>) -> Result<(), Failure> {
        let p = m.payload;
        // rtnl_valid_getlink_req
        if p.len() < 16 {
            return Err(einval("Invalid header for get link"));
        }
        let attrs = Attrs::parse(&p[16..]);
        if self.opts.strict_check {
            if p[1] != 0
                || u16_at(p, 2) != Some(0)
                || u32_at(p, 8) != Some(0)
                || u32_at(p, 12) != Some(0)
            {
                return Err(einval("Invalid values in header for get link request"));
            }
            if attrs.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            if attrs.list.iter().any(|x| ![3, 29, 46, 53].contains(&x.ty)) {
                return Err(einval("Unsupported attribute in get link request"));
            }
        }
        let index = u32_at(p, 4).unwrap_or(0) as i32;
        let snap = self.stack.snapshot();
        let iface = if index > 0 {
            snap.interfaces.iter().find(|i| i.index == index as u32)
        } else if let Some(name) = attrs
            .get(IFLA_IFNAME)
            .or(attrs.get(crate::link::IFLA_ALT_IFNAME))
        {
            let name = name.str();
            snap.interfaces.iter().find(|i| i.name.as_bytes() == name)
        } else {
            return Err(Failure::new(libc::EINVAL));
        };
        let iface = iface.ok_or(Failure::new(libc::ENODEV))?;
        let ext_mask = match attrs.get(IFLA_EXT_MASK) {
            Some(a) => a.u32()?,
            None => 0,
        };
        let stats = snap
            .stats
            .dev
            .get(&iface.index)
            .copied()
            .unwrap_or_default();
        link::fill(
            w,
            RTM_NEWLINK,
            0,
            m.header.seq,
            self.opts.portid,
            iface,
            &stats,
            ext_mask,
            &self.opts.link,
        );
        Ok(())
    }

    // ---- addresses ----

    fn dump_addr(
        &self,
        w: &mut Writer,
        m: &Message<'_>,
        snap: &Snapshot,
        family: u8,
        answer: &mut u16,
    ) -> Dumped {
        let families = inet_families(family);
        for &fam in families {
            let v4 = fam == AF_INET;
            let mut ifindex = 0;
            if self.opts.strict_check {
                // inet_valid_dump_ifaddr_req / inet6_valid_dump_ifaddr_req
                let p = m.payload;
                if p.len() < 8 {
                    return Err(einval(if v4 {
                        "ipv4: Invalid header for address dump request"
                    } else {
                        "ipv6: Invalid header for address dump request"
                    }));
                }
                if p[1] != 0 || p[2] != 0 || p[3] != 0 {
                    return Err(einval(if v4 {
                        "ipv4: Invalid values in header for address dump request"
                    } else {
                        "ipv6: Invalid values in header for address dump request"
                    }));
                }
                ifindex = u32_at(p, 4).unwrap_or(0);
                if ifindex != 0 {
                    *answer |= NLM_F_DUMP_FILTERED;
                }
                let a = Attrs::parse(&p[8..]);
                if a.leftover {
                    return Err(Failure::new(libc::EINVAL));
                }
                if a.list.iter().any(|x| x.ty != addr::IFA_TARGET_NETNSID) {
                    return Err(einval(if v4 {
                        "ipv4: Unsupported attribute in dump request"
                    } else {
                        "ipv6: Unsupported attribute in dump request"
                    }));
                }
                if ifindex != 0 && !snap.interfaces.iter().any(|i| i.index == ifindex) {
                    return Err(Failure::new(libc::ENODEV));
                }
            }
            let flags = NLM_F_MULTI | *answer;
            for iface in &snap.interfaces {
                if ifindex != 0 && iface.index != ifindex {
                    continue;
                }
                let mine: Vec<_> = snap
                    .addrs
                    .iter()
                    .filter(|a| a.ifindex == iface.index && a.addr.is_ipv4() == v4)
                    .collect();
                let ordered = if v4 {
                    addr::ipv4_dev_order(&mine)
                } else {
                    addr::ipv6_dev_order(&mine)
                };
                for a in ordered {
                    addr::fill(w, RTM_NEWADDR, flags, m.header.seq, self.opts.portid, a);
                }
            }
        }
        Ok(())
    }

    /// inet6_rtm_getaddr: one IPv6 address, by IFA_ADDRESS (or IFA_LOCAL) and
    /// optionally ifindex.
    fn get_addr6(&self, w: &mut Writer, m: &Message<'_>) -> Result<(), Failure> {
        let p = m.payload;
        if p.len() < 8 {
            return Err(einval(crate::change::SHORT));
        }
        let attrs = Attrs::parse(&p[8..]);
        if self.opts.strict_check {
            // inet6_valid_get_addr_req
            if p[1] != 0 || p[2] != 0 || p[3] != 0 {
                return Err(einval(
                    "ipv6: Invalid values in header for get address request",
                ));
            }
            if attrs.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            if attrs.list.iter().any(|x| {
                ![addr::IFA_ADDRESS, addr::IFA_LOCAL, addr::IFA_TARGET_NETNSID].contains(&x.ty)
            }) {
                return Err(einval("ipv6: Unsupported attribute in get address request"));
            }
        }
        let a = attrs
            .get(addr::IFA_LOCAL)
            .or(attrs.get(addr::IFA_ADDRESS))
            .ok_or(Failure::new(libc::EINVAL))?;
        let b: [u8; 16] = a
            .value
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or(Failure::new(libc::EINVAL))?;
        let want = IpAddr::V6(Ipv6Addr::from(b));
        let ifindex = u32_at(p, 4).unwrap_or(0);
        let snap = self.stack.snapshot();
        let found = snap
            .addrs
            .iter()
            .find(|x| x.addr == want && (ifindex == 0 || x.ifindex == ifindex))
            .ok_or(Failure::new(libc::EADDRNOTAVAIL))?;
        addr::fill(w, RTM_NEWADDR, 0, m.header.seq, self.opts.portid, found);
        Ok(())
    }

    // ---- routes ----

    fn dump_route(
        &self,
        w: &mut Writer,
        m: &Message<'_>,
        snap: &Snapshot,
        family: u8,
        answer: &mut u16,
    ) -> Dumped {
        let families = inet_families(family);
        let p = m.payload;
        let mut f = RouteFilter::default();
        let mut part_flags = NLM_F_MULTI;
        if self.opts.strict_check {
            // ip_valid_fib_dump_req (each family's dump runs it; the result is the same).
            if p.len() < 12 {
                return Err(einval("Invalid header for FIB dump request"));
            }
            if p[1] != 0 || p[2] != 0 || p[3] != 0 || p[6] != 0 {
                return Err(einval("Invalid values in header for FIB dump request"));
            }
            let flags = u32_at(p, 8).unwrap_or(0);
            if flags & !(RTM_F_CLONED | RTM_F_PREFIX) != 0 {
                return Err(einval("Invalid flags for FIB dump request"));
            }
            f.flags = flags;
            f.table = u32::from(p[4]);
            f.protocol = p[5];
            f.kind = p[7];
            let a = Attrs::parse(&p[12..]);
            if a.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            for x in &a.list {
                match x.ty {
                    RTA_TABLE => f.table = x.u32()?,
                    RTA_OIF => {
                        let i = x.u32()?;
                        if !snap.interfaces.iter().any(|n| n.index == i) {
                            return Err(Failure::new(libc::ENODEV));
                        }
                        f.oif = i;
                    }
                    _ => return Err(einval("Unsupported attribute in dump request")),
                }
            }
            if f.flags != 0 || f.table != 0 || f.protocol != 0 || f.kind != 0 || f.oif != 0 {
                *answer = NLM_F_DUMP_FILTERED;
            }
            // Observed on Linux 6.18: under strict checking every route of a
            // dump is marked filtered, even when nothing filters (the
            // NLMSG_DONE is marked only when something does).
            part_flags |= NLM_F_DUMP_FILTERED;
        } else if p.len() >= 12 {
            f.flags = u32_at(p, 8).unwrap_or(0) & (RTM_F_PREFIX | RTM_F_CLONED);
        }
        for &fam in families {
            let v4 = fam == AF_INET;
            if f.table != 0 && f.table != RT_TABLE_MAIN && f.table != RT_TABLE_LOCAL {
                if family == fam {
                    return Err(Failure::with_msg(
                        libc::ENOENT,
                        if v4 {
                            "ipv4: FIB table does not exist"
                        } else {
                            "ipv6: FIB table does not exist"
                        },
                    ));
                }
                continue;
            }
            // RA prefix routes (RTM_F_PREFIX; IPv4 has none at all) and, under
            // strict checking, only cached exceptions (RTM_F_CLONED): sandnet has
            // neither. Without strict checking, RTM_F_CLONED changes nothing.
            if f.flags & RTM_F_PREFIX != 0
                || (self.opts.strict_check && f.flags & RTM_F_CLONED != 0)
            {
                continue;
            }
            for table in [RT_TABLE_MAIN, RT_TABLE_LOCAL] {
                if f.table != 0 && f.table != table {
                    continue;
                }
                let mut rows: Vec<_> = snap
                    .routes
                    .iter()
                    .filter(|r| {
                        r.dst.is_ipv4() == v4
                            && r.table == table
                            && (f.kind == 0 || r.kind as u8 == f.kind)
                            && (f.protocol == 0 || r.protocol == f.protocol)
                            && (f.oif == 0 || r.oif == f.oif)
                    })
                    .collect();
                route::dump_order(&mut rows);
                for r in rows {
                    route::fill(
                        w,
                        RTM_NEWROUTE,
                        part_flags,
                        m.header.seq,
                        self.opts.portid,
                        r,
                    );
                }
            }
        }
        Ok(())
    }

    fn get_route(&self, w: &mut Writer, m: &Message<'_>, family: u8) -> Result<(), Failure> {
        let p = m.payload;
        let v4 = family == AF_INET;
        if p.len() < 12 {
            return Err(if v4 {
                einval("ipv4: Invalid header for route get request")
            } else {
                einval("ipv6: Invalid header for get route request")
            });
        }
        let attrs = Attrs::parse(&p[12..]);
        let (dst_len, src_len) = (p[1], p[2]);
        let flags = u32_at(p, 8).unwrap_or(0);
        if self.opts.strict_check && !v4 {
            // inet6_rtm_valid_getroute_req
            if (src_len != 0 && src_len != 128)
                || (dst_len != 0 && dst_len != 128)
                || p[4] != 0
                || p[5] != 0
                || p[6] != 0
                || p[7] != 0
            {
                return Err(einval(
                    "ipv6: Invalid values in header for get route request",
                ));
            }
            if flags & !RTM_F_FIB_MATCH != 0 {
                return Err(einval("ipv6: Invalid flags for get route request"));
            }
            if attrs.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            // RTA_SRC, DST, IIF, OIF, MARK, UID, IP_PROTO, SPORT, DPORT, FLOWLABEL.
            if attrs
                .list
                .iter()
                .any(|x| ![1, 2, 3, 4, 16, 25, 27, 28, 29, 31].contains(&x.ty))
            {
                return Err(einval("ipv6: Unsupported attribute in get route request"));
            }
        }
        if self.opts.strict_check && v4 {
            // inet_rtm_valid_getroute_req
            if (src_len != 0 && src_len != 32)
                || (dst_len != 0 && dst_len != 32)
                || p[4] != 0
                || p[5] != 0
                || p[6] != 0
                || p[7] != 0
            {
                return Err(einval(
                    "ipv4: Invalid values in header for route get request",
                ));
            }
            if flags & !(RTM_F_NOTIFY | RTM_F_LOOKUP_TABLE | RTM_F_FIB_MATCH) != 0 {
                return Err(einval("ipv4: Unsupported rtm_flags for route get request"));
            }
            if attrs.leftover {
                return Err(Failure::new(libc::EINVAL));
            }
            // RTA_IIF, OIF, SRC, DST, MARK, UID, IP_PROTO, SPORT, DPORT.
            if attrs
                .list
                .iter()
                .any(|x| ![1, 2, 3, 4, 16, 25, 27, 28, 29].contains(&x.ty))
            {
                return Err(einval("ipv4: Unsupported attribute in route get request"));
            }
        }
        let addr_of = |ty: u16| -> Result<Option<IpAddr>, Failure> {
            let Some(a) = attrs.get(ty) else {
                return Ok(None);
            };
            if v4 {
                let b: [u8; 4] = a
                    .value
                    .get(..4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(Failure::new(libc::ERANGE))?;
                Ok(Some(IpAddr::V4(Ipv4Addr::from(b))))
            } else {
                let b: [u8; 16] = a
                    .value
                    .get(..16)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(Failure::new(libc::EINVAL))?;
                Ok(Some(IpAddr::V6(Ipv6Addr::from(b))))
            }
        };
        let src = addr_of(RTA_SRC)?;
        let dst = addr_of(RTA_DST)?.unwrap_or(if v4 {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        });
        let uid = match attrs.get(RTA_UID) {
            Some(a) => a.u32()?,
            None => self.opts.uid,
        };
        if let Some(iif) = attrs.get(RTA_IIF) {
            // A packet arriving on a device.
            let iif = iif.u32()?;
            if !v4 {
                let snap = self.stack.snapshot();
                let table = self
                    .stack
                    .route_get(dst, None)
                    .map_err(|e| Failure::new(e.raw_os_error().unwrap_or(libc::EINVAL)));
                let a = crate::lookup::input_lookup_v6(&snap, dst, iif, table)?;
                let from = src.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
                route::fill_input_answer_v6(
                    w,
                    RTM_NEWROUTE,
                    m.header.seq,
                    self.opts.portid,
                    from,
                    iif,
                    &a,
                );
                return Ok(());
            }
            let snap = self.stack.snapshot();
            let kind = crate::lookup::input_lookup_v4(&snap, dst, src, iif)?;
            let lo = self.stack.ifindex("lo").unwrap_or(1);
            let from = src.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            route::fill_input_answer(
                w,
                RTM_NEWROUTE,
                m.header.seq,
                self.opts.portid,
                dst,
                from,
                kind,
                lo,
                iif,
                p[3],
            );
            return Ok(());
        }
        let oif = match attrs.get(RTA_OIF) {
            Some(a) => a.u32()?,
            None => 0,
        };
        if oif != 0 && !self.stack.interfaces().iter().any(|i| i.index == oif) {
            return Err(Failure::new(libc::ENODEV));
        }
        let answer = if v4 && oif != 0 && src.is_none() {
            crate::lookup::bound_lookup_v4(&self.stack.snapshot(), dst, oif)?
        } else if oif != 0 && src.is_none() {
            let table = self.stack.route_get(dst, None).ok();
            crate::lookup::bound_lookup_v6(&self.stack.snapshot(), dst, oif, table)?
        } else {
            let a = self
                .stack
                .route_get(dst, src)
                .map_err(|e| Failure::new(e.raw_os_error().unwrap_or(libc::EINVAL)))?;
            if oif != 0 && a.oif != oif {
                // With a `from` as well, a lookup bound to another device than
                // the table chooses is not modelled.
                return Err(Failure::new(libc::ENETUNREACH));
            }
            a
        };
        if flags & RTM_F_FIB_MATCH != 0 {
            // `ip route get fibmatch`: the table entry the lookup used, as a dump shows it.
            let entry = crate::lookup::fib_match(&self.stack.route_table(), &answer)
                .ok_or(Failure::new(libc::ENETUNREACH))?;
            route::fill(w, RTM_NEWROUTE, 0, m.header.seq, self.opts.portid, &entry);
            return Ok(());
        }
        let lo = self.stack.ifindex("lo").unwrap_or(1);
        let q = Lookup {
            src,
            tos: p[3],
            uid,
            out_loopback: answer.oif == lo,
        };
        route::fill_answer(w, RTM_NEWROUTE, m.header.seq, self.opts.portid, &q, &answer);
        Ok(())
    }

    // ---- policy rules and netconf ----

    fn dump_rule(&self, w: &mut Writer, m: &Message<'_>, family: u8) -> Dumped {
        if self.opts.strict_check {
            // fib_valid_dumprule_req
            let p = m.payload;
            if p.len() < 12 {
                return Err(einval("Invalid header for fib rule dump request"));
            }
            if p[1..8].iter().any(|&b| b != 0) || u32_at(p, 8) != Some(0) {
                return Err(einval("Invalid values in header for fib rule dump request"));
            }
            if p.len() > 12 {
                return Err(einval("Invalid data after header in fib rule dump request"));
            }
        }
        let families: &[u8] = match family {
            0 => &crate::rule::DUMP_ALL_ORDER,
            AF_INET => &[AF_INET],
            AF_INET6 => &[AF_INET6],
            crate::rule::RTNL_FAMILY_IPMR => &[crate::rule::RTNL_FAMILY_IPMR],
            crate::rule::RTNL_FAMILY_IP6MR => &[crate::rule::RTNL_FAMILY_IP6MR],
            _ => return Err(Failure::new(libc::EAFNOSUPPORT)),
        };
        for &fam in families {
            for &(prio, table) in crate::rule::defaults(fam) {
                crate::rule::fill(
                    w,
                    NLM_F_MULTI,
                    m.header.seq,
                    self.opts.portid,
                    fam,
                    prio,
                    table,
                );
            }
        }
        Ok(())
    }

    fn netconf_entries(snap: &Snapshot) -> Vec<i32> {
        let mut v: Vec<i32> = snap.interfaces.iter().map(|i| i.index as i32).collect();
        v.push(crate::netconf::NETCONFA_IFINDEX_ALL);
        v.push(crate::netconf::NETCONFA_IFINDEX_DEFAULT);
        v
    }

    fn dump_netconf(&self, w: &mut Writer, m: &Message<'_>, snap: &Snapshot, family: u8) -> Dumped {
        let families = inet_families(family);
        for &fam in families {
            if self.opts.strict_check {
                // inet_netconf_dump_devconf / inet6_netconf_dump_devconf
                let v4 = fam == AF_INET;
                if m.payload.len() < 4 {
                    return Err(einval(if v4 {
                        "ipv4: Invalid header for netconf dump request"
                    } else {
                        "ipv6: Invalid header for netconf dump request"
                    }));
                }
                if m.payload.len() > 4 {
                    return Err(einval(if v4 {
                        "ipv4: Invalid data after header in netconf dump request"
                    } else {
                        "ipv6: Invalid data after header in netconf dump request"
                    }));
                }
            }
            for ifindex in Self::netconf_entries(snap) {
                crate::netconf::fill(w, NLM_F_MULTI, m.header.seq, self.opts.portid, fam, ifindex);
            }
        }
        Ok(())
    }

    /// inet_netconf_get_devconf / inet6_netconf_get_devconf: one entry by NETCONFA_IFINDEX.
    fn get_netconf(&self, w: &mut Writer, m: &Message<'_>, family: u8) -> Result<(), Failure> {
        let p = m.payload;
        if p.len() < 4 {
            return Err(einval(crate::change::SHORT));
        }
        let attrs = Attrs::parse(&p[4..]);
        let ifindex = attrs
            .get(crate::netconf::NETCONFA_IFINDEX)
            .ok_or(Failure::new(libc::EINVAL))?
            .u32()? as i32;
        let snap = self.stack.snapshot();
        if !Self::netconf_entries(&snap).contains(&ifindex) {
            // inet6_netconf_get_devconf answers an unknown device with EINVAL.
            return Err(Failure::new(if family == AF_INET {
                libc::ENODEV
            } else {
                libc::EINVAL
            }));
        }
        crate::netconf::fill(w, 0, m.header.seq, self.opts.portid, family, ifindex);
        Ok(())
    }

    // ---- statistics ----

    fn dump_stats(&self, w: &mut Writer, m: &Message<'_>, snap: &Snapshot) -> Dumped {
        let p = m.payload;
        if self.opts.strict_check {
            // rtnl_valid_stats_req
            if p.len() < 12 {
                return Err(einval("Invalid header for stats dump"));
            }
            if p[1] != 0 || u16_at(p, 2) != Some(0) || u32_at(p, 4) != Some(0) {
                return Err(einval("Invalid values in header for stats dump request"));
            }
            if p.len() > 12 {
                return Err(einval("Invalid attributes after stats header"));
            }
        }
        let mask = u32_at(p, 8).unwrap_or(0);
        if mask == 0 {
            return Err(einval("Filter mask must be set for stats dump"));
        }
        for iface in &snap.interfaces {
            let stats = snap
                .stats
                .dev
                .get(&iface.index)
                .copied()
                .unwrap_or_default();
            crate::stats::fill(
                w,
                NLM_F_MULTI,
                m.header.seq,
                self.opts.portid,
                iface.index,
                mask,
                &stats,
            );
        }
        Ok(())
    }

    /// rtnl_stats_get: one device's statistics.
    fn get_stats(&self, w: &mut Writer, m: &Message<'_>) -> Result<(), Failure> {
        let p = m.payload;
        if p.len() < 12 {
            return Err(einval("Invalid header for stats dump"));
        }
        let ifindex = u32_at(p, 4).unwrap_or(0);
        let mask = u32_at(p, 8).unwrap_or(0);
        if ifindex == 0 {
            return Err(Failure::new(libc::EINVAL));
        }
        let snap = self.stack.snapshot();
        if !snap.interfaces.iter().any(|i| i.index == ifindex) {
            return Err(Failure::new(libc::ENODEV));
        }
        if mask == 0 {
            return Err(Failure::new(libc::EINVAL));
        }
        let stats = snap.stats.dev.get(&ifindex).copied().unwrap_or_default();
        crate::stats::fill(w, 0, m.header.seq, self.opts.portid, ifindex, mask, &stats);
        Ok(())
    }

    fn dump_qdisc(&self, w: &mut Writer, m: &Message<'_>, snap: &Snapshot) -> Dumped {
        for iface in &snap.interfaces {
            let kind = if iface.is_loopback() || iface.tx_queue_len == 0 {
                "noqueue"
            } else {
                self.opts.link.default_qdisc.as_str()
            };
            crate::tc::fill(
                w,
                NLM_F_MULTI,
                m.header.seq,
                self.opts.portid,
                iface.index,
                kind,
            );
        }
        Ok(())
    }

    // ---- neighbours and namespace ids ----

    fn dump_neigh(&self, m: &Message<'_>) -> Dumped {
        if self.opts.strict_check {
            // neigh_valid_dump_req
            let p = m.payload;
            if p.len() < 12 {
                return Err(einval("Invalid header for neighbor dump request"));
            }
            if p[1] != 0
                || u16_at(p, 2) != Some(0)
                || u32_at(p, 4) != Some(0)
                || u16_at(p, 8) != Some(0)
                || p[11] != 0
            {
                return Err(einval("Invalid values in header for neighbor dump request"));
            }
            // NTF_PROXY only.
            if p[10] & !0x08 != 0 {
                return Err(einval("Invalid flags in header for neighbor dump request"));
            }
            // NDA_IFINDEX and NDA_MASTER filter; sandnet has no entries to filter.
            let a = Attrs::parse(&p[12..]);
            if a.list.iter().any(|x| x.ty != 8 && x.ty != 9) {
                return Err(einval("Unsupported attribute in neighbor dump request"));
            }
        }
        // TUN and lo are NOARP: sandnet keeps no neighbour entries.
        Ok(())
    }

    fn dump_nsid(&self, m: &Message<'_>) -> Dumped {
        if self.opts.strict_check {
            let a = Attrs::parse(m.payload.get(4..).unwrap_or(&[]));
            if a.list.iter().any(|x| x.ty != 3) {
                return Err(einval("Unsupported attribute in dump request"));
            }
        }
        // A stack knows no other namespaces: no peer has an id.
        Ok(())
    }
}

#[derive(Default)]
struct RouteFilter {
    flags: u32,
    table: u32,
    protocol: u8,
    kind: u8,
    oif: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlmsg::{split, Header, NLMSG_DONE, NLMSG_ERROR};

    fn req(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Header {
            len: (16 + body.len()) as u32,
            ty,
            flags,
            seq: 1,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        v.extend_from_slice(body);
        v
    }

    fn seeds() -> Vec<Vec<u8>> {
        let dump = NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK;
        let get = NLM_F_REQUEST | NLM_F_ACK;
        let mut route_get = vec![2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        route_get.extend_from_slice(&[8, 0, 1, 0, 10, 0, 0, 1]);
        let mut bound = route_get.clone();
        bound.extend_from_slice(&[8, 0, 4, 0, 1, 0, 0, 0]);
        let mut arriving = route_get.clone();
        arriving.extend_from_slice(&[8, 0, 2, 0, 10, 0, 0, 7, 8, 0, 3, 0, 1, 0, 0, 0]);
        let mut fib_match = route_get.clone();
        fib_match[8] = 0;
        fib_match[9] = 0x20;
        let mut bound6 = vec![10, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0];
        bound6.extend_from_slice(&[0; 15]);
        bound6.push(1);
        bound6.extend_from_slice(&[8, 0, 4, 0, 1, 0, 0, 0]);
        let mut addr = vec![2, 24, 0, 0, 2, 0, 0, 0];
        addr.extend_from_slice(&[8, 0, 2, 0, 10, 0, 0, 9, 8, 0, 1, 0, 10, 0, 0, 9]);
        let mut link = vec![0u8; 16];
        link[4] = 2;
        link.extend_from_slice(&[8, 0, 4, 0, 0xdc, 5, 0, 0, 8, 0, 29, 0, 8, 0, 0, 0]);
        let mut link6 = vec![0u8; 16];
        link6[0] = AF_INET6;
        vec![
            req(RTM_GETLINK, dump, &[0; 16]),
            req(RTM_GETLINK, dump, &link6),
            req(RTM_GETLINK, get, &link),
            req(RTM_GETADDR, dump, &[0; 8]),
            req(RTM_GETROUTE, dump, &[0; 12]),
            req(RTM_GETROUTE, get, &route_get),
            req(RTM_GETROUTE, get, &bound),
            req(RTM_GETROUTE, get, &arriving),
            req(RTM_GETROUTE, get, &fib_match),
            req(RTM_GETROUTE, get, &bound6),
            req(
                RTM_GETROUTE,
                get,
                &[&bound6[..28], &[8, 0, 3, 0, 1, 0, 0, 0][..]].concat(),
            ),
            req(RTM_NEWADDR, get | NLM_F_CREATE_EXCL, &addr),
            req(RTM_DELADDR, get, &addr),
            req(RTM_NEWLINK, get, &link),
            req(RTM_SETLINK, get, &link),
            req(RTM_NEWROUTE, get | NLM_F_CREATE_EXCL, &route_get),
            req(RTM_DELROUTE, get, &route_get),
            req(RTM_GETNEIGH, dump, &[0; 12]),
            req(RTM_GETNSID, dump, &[0; 4]),
            req(RTM_GETRULE, dump, &[0; 12]),
            req(RTM_GETNETCONF, dump, &[2, 0, 0, 0]),
            req(
                crate::stats::RTM_GETSTATS,
                dump,
                &[0, 0, 0, 0, 0, 0, 0, 0, 0x1f, 0, 0, 0],
            ),
            req(
                crate::stats::RTM_GETSTATS,
                get,
                &[0, 0, 0, 0, 1, 0, 0, 0, 0x1f, 0, 0, 0],
            ),
            req(crate::tc::RTM_GETQDISC, dump, &[0; 20]),
            req(RTM_GETNETCONF, get, &[10, 0, 0, 0, 8, 0, 1, 0, 1, 0, 0, 0]),
            req(
                RTM_GETADDR,
                get,
                &[
                    10, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 1,
                ],
            ),
        ]
    }

    const NLM_F_CREATE_EXCL: u16 = crate::nlmsg::NLM_F_CREATE | crate::nlmsg::NLM_F_EXCL;

    /// Every reply is whole messages, and each request that wants an end gets one.
    fn well_formed(reply: &[u8]) {
        let msgs = split(reply);
        let total: usize = msgs.iter().map(|m| crate::nlmsg::align(m.raw.len())).sum();
        assert_eq!(total, reply.len(), "replies are whole, aligned messages");
        for m in msgs {
            if m.header.ty == NLMSG_ERROR || m.header.ty == NLMSG_DONE {
                assert!(m.payload.len() >= 4);
            }
        }
    }

    /// The attributes of a message after its `hdr`-byte family header.
    fn attrs_of<'a>(m: &crate::nlmsg::Message<'a>, hdr: usize) -> Vec<crate::nlmsg::Attr<'a>> {
        Attrs::parse(&m.payload[hdr..]).list
    }

    /// An AF_INET6 link dump is inet6_dump_ifinfo's, not rtnl_dump_ifinfo's:
    /// per device with IPv6, the short inet6_fill_ifinfo message, whose
    /// IFLA_PROTINFO holds the same IPv6 attributes as the AF_INET6 part of
    /// IFLA_AF_SPEC in the full message (counters included).
    #[test]
    fn inet6_link_dump_is_addrconfs() {
        let stack = Stack::new().unwrap();
        let (nic, _far) = netstack::Link::pipe();
        let i = stack.add_nic("pipe0", nic).unwrap();
        stack.set_up(i).unwrap();
        // Below IPV6_MIN_MTU a device other than lo has no inet6_dev.
        let (small, _far2) = netstack::Link::pipe();
        let j = stack.add_nic("pipe1", small).unwrap();
        stack.set_mtu(j, 1200).unwrap();
        let r = Responder::with_options(
            stack,
            Options {
                portid: 77,
                ..Options::default()
            },
        );
        let dump = NLM_F_REQUEST | NLM_F_DUMP;
        let mut body = vec![0u8; 16];
        body[0] = AF_INET6;
        let reply = r.handle(&req(RTM_GETLINK, dump, &body));
        let full = r.handle(&req(RTM_GETLINK, dump, &[0; 16]));
        let msgs = split(&reply);
        let full_msgs = split(&full);
        assert_eq!(
            msgs.len(),
            3,
            "lo, pipe0 and NLMSG_DONE (pipe1 has no IPv6)"
        );
        assert_eq!(msgs[2].header.ty, NLMSG_DONE);
        for (k, m) in msgs[..2].iter().enumerate() {
            assert_eq!(m.header.ty, RTM_NEWLINK);
            assert_eq!(m.header.flags, NLM_F_MULTI);
            assert_eq!((m.header.seq, m.header.pid), (1, 77));
            let p = m.payload;
            let f = full_msgs[k].payload;
            // ifinfomsg: family AF_INET6, type/index/flags as the full message, change 0.
            assert_eq!(p[0], AF_INET6);
            assert_eq!(p[1..12], f[1..12]);
            assert_eq!(u32_at(p, 12), Some(0));
            let a = attrs_of(m, 16);
            let types: Vec<u16> = a.iter().map(|x| x.ty).collect();
            let lo = k == 0;
            let want: &[u16] = if lo {
                // lo's address length is 6 (zeros); a TUN (or pipe) has none.
                &[3, 1, 4, 16, 12]
            } else {
                &[3, 4, 16, 12]
            };
            assert_eq!(types, want, "IFNAME, [ADDRESS,] MTU, OPERSTATE, PROTINFO");
            let fa = Attrs::parse(&f[16..]);
            for ty in [3, 1, 4, 16] {
                if let Some(x) = a.iter().find(|x| x.ty == ty) {
                    assert_eq!(Some(x.value), fa.get(ty).map(|y| y.value), "attr {ty}");
                }
            }
            let spec = Attrs::parse(fa.get(link::IFLA_AF_SPEC).unwrap().value);
            let inet6 = spec.get(AF_INET6 as u16).unwrap().value;
            let protinfo = a.iter().find(|x| x.ty == link::IFLA_PROTINFO).unwrap();
            assert_eq!(protinfo.value, inet6, "the same inet6_fill_ifla6_attrs");
            let inner: Vec<u16> = Attrs::parse(protinfo.value)
                .list
                .iter()
                .map(|x| x.ty)
                .collect();
            // FLAGS, CACHEINFO, CONF, STATS, ICMP6STATS, TOKEN, ADDR_GEN_MODE.
            assert_eq!(inner, [1, 5, 2, 3, 6, 7, 8]);
        }
        // The full dump still shows pipe1, without an AF_INET6 part.
        let f = Attrs::parse(&full_msgs[2].payload[16..]);
        let spec = Attrs::parse(f.get(link::IFLA_AF_SPEC).unwrap().value);
        assert!(spec.get(AF_INET as u16).is_some());
        assert!(spec.get(AF_INET6 as u16).is_none());
    }

    /// inet6_valid_dump_ifinfo under strict checking; nothing is checked or
    /// filtered without it.
    #[test]
    fn inet6_link_dump_checks() {
        let stack = Stack::new().unwrap();
        let dump = NLM_F_REQUEST | NLM_F_DUMP;
        let mut by_index = vec![0u8; 16];
        by_index[0] = AF_INET6;
        by_index[4] = 1;
        let mut with_attr = vec![0u8; 16];
        with_attr[0] = AF_INET6;
        with_attr.extend_from_slice(&[8, 0, 29, 0, 1, 0, 0, 0]);
        let lax = Responder::new(stack.clone());
        for body in [&by_index[..], &with_attr, &[AF_INET6]] {
            let reply = lax.handle(&req(RTM_GETLINK, dump, body));
            let msgs = split(&reply);
            assert_eq!(msgs.len(), 2, "lo, then NLMSG_DONE");
            assert_eq!(msgs[0].header.ty, RTM_NEWLINK);
            assert_eq!(msgs[0].payload[0], AF_INET6);
            assert_eq!(msgs[1].payload[..4], [0; 4]);
        }
        let strict = Responder::with_options(
            stack,
            Options {
                strict_check: true,
                ext_ack: true,
                ..Options::default()
            },
        );
        for (body, text) in [
            (
                &[AF_INET6][..],
                "ipv6: Invalid header for link dump request",
            ),
            (&with_attr, "ipv6: Invalid data after header"),
            (&by_index, "ipv6: Invalid values in header for dump request"),
        ] {
            let reply = strict.handle(&req(RTM_GETLINK, dump, body));
            let msgs = split(&reply);
            assert_eq!(msgs.len(), 1);
            assert_eq!(msgs[0].header.ty, NLMSG_DONE);
            assert_eq!(
                msgs[0].payload[..4],
                (-libc::EINVAL).to_ne_bytes(),
                "{text}"
            );
            let tlvs = Attrs::parse(&msgs[0].payload[4..]);
            let msg = tlvs.get(crate::error::NLMSGERR_ATTR_MSG).unwrap();
            assert_eq!(msg.str(), text.as_bytes());
        }
        // A get with family AF_INET6 is rtnl_getlink's full message.
        let mut get = vec![0u8; 16];
        get[0] = AF_INET6;
        get[4] = 1;
        let reply = strict.handle(&req(RTM_GETLINK, NLM_F_REQUEST, &get));
        let msgs = split(&reply);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].payload[0], 0);
        assert!(Attrs::parse(&msgs[0].payload[16..])
            .get(link::IFLA_AF_SPEC)
            .is_some());
    }

    #[test]
    fn no_input_makes_it_panic() {
        let stack = Stack::new().unwrap();
        for strict in [false, true] {
            let r = Responder::with_options(
                stack.clone(),
                Options {
                    strict_check: strict,
                    ext_ack: true,
                    ..Options::default()
                },
            );
            // Every truncation of every seed, with its length field kept or fixed.
            for s in seeds() {
                for n in 0..=s.len() {
                    well_formed(&r.handle(&s[..n]));
                    let mut fixed = s[..n].to_vec();
                    if n >= 4 {
                        fixed[..4].copy_from_slice(&(n as u32).to_ne_bytes());
                    }
                    well_formed(&r.handle(&fixed));
                }
            }
            // Random mutations (xorshift, fixed seed).
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for s in seeds() {
                for _ in 0..2000 {
                    let mut m = s.clone();
                    for _ in 0..(next() % 4 + 1) {
                        let i = (next() as usize) % m.len();
                        m[i] = next() as u8;
                    }
                    well_formed(&r.handle(&m));
                }
            }
            let mut junk = vec![0u8; 300];
            for _ in 0..3000 {
                let n = (next() as usize) % junk.len();
                for b in junk.iter_mut().take(n) {
                    *b = next() as u8;
                }
                if n >= 16 {
                    junk[..4].copy_from_slice(&(n as u32).to_ne_bytes());
                    junk[6] |= 1;
                }
                well_formed(&r.handle(&junk[..n]));
            }
        }
    }
}
