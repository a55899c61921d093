//! The `netlink` target: NETLINK_ROUTE requests, as a program would send them
//! through sendmsg, answered by the responder over a small stack whose tables
//! the requests may change (addresses, routes, link state and MTU).
//!
//! Input: a control byte (bit 0: NETLINK_EXT_ACK, bit 1: NETLINK_CAP_ACK,
//! bit 2: NETLINK_GET_STRICT_CHK, bit 3: repair each message's nlmsg_len to
//! its record's length), then records of `[len, len bytes]`, each one
//! request (one sendmsg). After the requests, the tables are read back
//! through a dump of each kind and procnet's renderers, so that whatever a
//! change left behind is rendered too.

use netlink::nlmsg::{self, Header, Writer, HDRLEN as NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_REQUEST};
use netlink::responder::{RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE};
use netlink::{Options, Responder};
use netstack::{Link, RouteSpec, Stack};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Dumps of every table the responder serves, each a complete request.
fn read_back_requests() -> Vec<Vec<u8>> {
    // Each with an empty family header of the size its kind expects.
    [
        (RTM_GETLINK, 16),
        (RTM_GETADDR, 8),
        (RTM_GETROUTE, 12),
        (RTM_GETNEIGH, 12),
    ]
    .iter()
    .map(|&(ty, body)| {
        let mut w = Writer::new();
        let start = w.begin(ty, NLM_F_REQUEST | NLM_F_DUMP, 1, 0);
        w.bytes(&[0; 16][..body]);
        w.end(start);
        w.buf
    })
    .collect()
}

/// A reply is whole netlink messages back to back: each header's length
/// covers at least the header and ends inside the reply.
fn check_framing(reply: &[u8]) {
    let mut at = 0;
    while at < reply.len() {
        let h = Header::parse(&reply[at..]).expect("a reply message starts with a whole header");
        let len = h.len as usize;
        assert!(len >= NLMSG_HDRLEN, "reply message shorter than its header");
        assert!(at + len <= reply.len(), "reply message runs past the reply");
        at += nlmsg::align(len);
    }
}

fn bed() -> Stack {
    let stack = Stack::new_manual(0x5eed).expect("a stack");
    let (ours, _wire) = Link::pipe_with_queue(16);
    let eth0 = stack.add_nic("eth0", ours).unwrap();
    stack
        .add_address(eth0, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 24)
        .unwrap();
    stack
        .add_address(
            eth0,
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
            64,
        )
        .unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))))
        .unwrap();
    stack
}

pub fn netlink(data: &[u8]) {
    let _ = netlink_replies(data);
}

/// The target's work; returns each request's reply (`handle`'s bytes).
pub fn netlink_replies(data: &[u8]) -> Vec<Vec<u8>> {
    let mut replies = Vec::new();
    let Some((&control, mut rest)) = data.split_first() else {
        return replies;
    };
    let stack = bed();
    let responder = Responder::with_options(
        stack.clone(),
        Options {
            ext_ack: control & 1 != 0,
            cap_ack: control & 2 != 0,
            strict_check: control & 4 != 0,
            portid: 4242,
            ..Options::default()
        },
    );
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        let mut request = tail[..take].to_vec();
        rest = &tail[take..];
        if control & 8 != 0 && request.len() >= 4 {
            request[..4].copy_from_slice(&(take as u32).to_ne_bytes());
        }
        let reply = responder.handle(&request);
        check_framing(&reply);
        // As recvmsg would deliver them.
        for d in nlmsg::datagrams(&reply, 32 * 1024) {
            check_framing(&d);
        }
        replies.push(reply);
    }
    for request in read_back_requests() {
        check_framing(&responder.handle(&request));
    }
    let snap = stack.snapshot();
    // The files drawn from the tables a request can change (the counter
    // files are fixed text around numbers, and would dominate the run time).
    for name in [
        "dev",
        "route",
        "ipv6_route",
        "if_inet6",
        "arp",
        "igmp",
        "igmp6",
        "dev_mcast",
    ] {
        let _ = procnet::render(name, &snap);
    }
    replies
}
