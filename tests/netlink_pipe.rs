//! The responder for a stack without root or a kernel peer (in-memory
//! links): every table row comes back in its message, and lookups agree
//! with `route_get`. Byte-exactness against the kernel is in
//! netlink_kernel.rs; this runs everywhere.

use sandnet::netlink::nlmsg::{split, Attrs, NLMSG_DONE, NLM_F_DUMP, NLM_F_REQUEST};
use sandnet::netlink::{Options, Responder};
use sandnet::netstack::{Link, RouteSpec, Stack};
use std::net::IpAddr;

fn req(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut v = sandnet::netlink::nlmsg::Header {
        len: (16 + body.len()) as u32,
        ty,
        flags,
        seq: 7,
        pid: 0,
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(body);
    v
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn netlink_answers_a_pipe_stack_from_its_tables() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Responder>();

    let stack = Stack::new().unwrap();
    let (a, _far) = Link::pipe();
    let i = stack.add_nic("eth0", a).unwrap();
    stack.add_address(i, ip("10.0.0.2"), 24).unwrap();
    stack.add_address(i, ip("fd00::2"), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.0.0.1")))
        .unwrap();
    let r = Responder::with_options(
        stack.clone(),
        Options {
            portid: 4242,
            ..Options::default()
        },
    );
    let dump = NLM_F_REQUEST | NLM_F_DUMP;

    let links = r.handle(&req(18, dump, &[0; 16]));
    let msgs = split(&links);
    assert_eq!(msgs.len(), 3, "lo, eth0, done");
    assert_eq!(msgs[2].header.ty, NLMSG_DONE);
    let names: Vec<Vec<u8>> = msgs[..2]
        .iter()
        .map(|m| {
            Attrs::parse(&m.payload[16..])
                .get(3)
                .unwrap()
                .str()
                .to_vec()
        })
        .collect();
    assert_eq!(names, [b"lo".to_vec(), b"eth0".to_vec()]);
    assert!(msgs
        .iter()
        .all(|m| m.header.seq == 7 && m.header.pid == 4242));

    let addrs = r.handle(&req(22, dump, &[0; 8]));
    let got: Vec<IpAddr> = split(&addrs)
        .iter()
        .filter(|m| m.header.ty == 20)
        .map(|m| {
            let a = Attrs::parse(&m.payload[8..]).get(1).unwrap().value.to_vec();
            match a.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(a).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(a).unwrap()),
            }
        })
        .collect();
    let mut want: Vec<IpAddr> = stack.interface_addrs().iter().map(|a| a.addr).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "every address, once");

    let routes = r.handle(&req(26, dump, &[0; 12]));
    let n = split(&routes).iter().filter(|m| m.header.ty == 24).count();
    assert_eq!(n, stack.route_table().len(), "every route, once");

    // A lookup answers what route_get answers.
    let mut body = vec![2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&[8, 0, 1, 0, 8, 8, 8, 8]);
    let answer = r.handle(&req(26, NLM_F_REQUEST, &body));
    let m = split(&answer)[0];
    let attrs = Attrs::parse(&m.payload[12..]);
    let expect = stack.route_get(ip("8.8.8.8"), None).unwrap();
    assert_eq!(attrs.get(4).unwrap().u32(), Ok(expect.oif));
    assert_eq!(attrs.get(5).unwrap().value, &[10, 0, 0, 1]);
    assert_eq!(attrs.get(7).unwrap().value, &[10, 0, 0, 2]);

    // A change through netlink is a change of the stack.
    let mut add = vec![2, 24, 0, 0];
    add.extend_from_slice(&i.to_ne_bytes());
    add.extend_from_slice(&[8, 0, 2, 0, 10, 0, 1, 2]);
    let ack = r.handle(&req(20, NLM_F_REQUEST | 0x4 | 0x400 | 0x200, &add));
    assert_eq!(&split(&ack)[0].payload[..4], &0i32.to_ne_bytes());
    assert!(stack
        .interface_addrs()
        .iter()
        .any(|a| a.addr == ip("10.0.1.2")));

    // Options the stack cannot hold are refused, not dropped: no prefix route,
    // a finite lifetime.
    let eopnotsupp = (-libc::EOPNOTSUPP).to_ne_bytes();
    let mut noprefix = add.clone();
    noprefix[15] = 3;
    noprefix.extend_from_slice(&[8, 0, 8, 0, 0, 2, 0, 0]); // IFA_FLAGS: IFA_F_NOPREFIXROUTE
    let reply = r.handle(&req(20, NLM_F_REQUEST | 0x4 | 0x400 | 0x200, &noprefix));
    assert_eq!(&split(&reply)[0].payload[..4], &eopnotsupp);
    let mut lifetime = add.clone();
    lifetime[15] = 4;
    lifetime.extend_from_slice(&[
        20, 0, 6, 0, 60, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    let reply = r.handle(&req(20, NLM_F_REQUEST | 0x4 | 0x400 | 0x200, &lifetime));
    assert_eq!(&split(&reply)[0].payload[..4], &eopnotsupp);
    assert!(!stack
        .interface_addrs()
        .iter()
        .any(|a| a.addr == ip("10.0.1.3") || a.addr == ip("10.0.1.4")));
    // A route with metrics (RTA_METRICS { RTAX_MTU 1400 }) is refused too.
    let mut route = vec![2, 24, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
    route.extend_from_slice(&[8, 0, 1, 0, 192, 0, 2, 0, 8, 0, 5, 0, 10, 0, 0, 1]);
    route.extend_from_slice(&[12, 0, 8, 0, 8, 0, 2, 0, 0x78, 5, 0, 0]);
    let before = stack.route_table().len();
    let reply = r.handle(&req(24, NLM_F_REQUEST | 0x4 | 0x400 | 0x200, &route));
    assert_eq!(&split(&reply)[0].payload[..4], &eopnotsupp);
    assert_eq!(stack.route_table().len(), before);
}
