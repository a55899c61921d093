//! netstack::os::ifconfig on a TUN device in a private namespace (root
//! only): what the ioctls set is what `ip` then reports.

mod support;

use sandnet::netstack::os::ifconfig;
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::Link;
use std::net::{Ipv4Addr, Ipv6Addr};

#[test]
fn addresses_netmask_and_up_as_ip_reports_them() {
    if !support::root::have_root("addresses_netmask_and_up_as_ip_reports_them") {
        return;
    }
    let ns = NetNs::new().unwrap();
    let link = ns.run(|| Link::tun("cfg0")).unwrap();
    let up = libc::IFF_UP as u32;
    assert_eq!(ns.run(|| ifconfig::flags("cfg0")).unwrap() & up, 0);

    ns.run(|| ifconfig::set_ipv4("cfg0", Ipv4Addr::new(10, 77, 1, 1), 20))
        .unwrap();
    ns.run(|| ifconfig::set_up("cfg0")).unwrap();
    ns.run(|| ifconfig::add_ipv6("cfg0", "fd00:77::1".parse::<Ipv6Addr>().unwrap(), 56))
        .unwrap();
    assert_ne!(ns.run(|| ifconfig::flags("cfg0")).unwrap() & up, 0);
    let addrs = ns.ip(&["-o", "addr", "show", "dev", "cfg0"]).unwrap();
    assert!(addrs.contains("inet 10.77.1.1/20 "), "{addrs}");
    assert!(addrs.contains("inet6 fd00:77::1/56 "), "{addrs}");
    let routes = ns.ip(&["route", "show", "dev", "cfg0"]).unwrap();
    assert_eq!(
        routes.trim(),
        "10.77.0.0/20 proto kernel scope link src 10.77.1.1"
    );
    let routes6 = ns.ip(&["-6", "route", "show", "dev", "cfg0"]).unwrap();
    assert!(
        routes6.contains("fd00:77::/56 proto kernel metric 256"),
        "{routes6}"
    );

    // SIOCSIFADDR replaces the primary IPv4 address; the new mask follows.
    ns.run(|| ifconfig::set_ipv4("cfg0", Ipv4Addr::new(192, 168, 9, 9), 32))
        .unwrap();
    let addrs = ns.ip(&["-4", "-o", "addr", "show", "dev", "cfg0"]).unwrap();
    assert_eq!(addrs.lines().count(), 1, "{addrs}");
    assert!(addrs.contains("inet 192.168.9.9/32 "), "{addrs}");

    // The same IPv6 address twice is the kernel's EEXIST.
    let again =
        ns.run(|| ifconfig::add_ipv6("cfg0", "fd00:77::1".parse::<Ipv6Addr>().unwrap(), 56));
    assert_eq!(again.unwrap_err().raw_os_error(), Some(libc::EEXIST));

    drop(link);
    let gone = ns.run(|| ifconfig::set_up("cfg0"));
    assert_eq!(gone.unwrap_err().raw_os_error(), Some(libc::ENODEV));
}
