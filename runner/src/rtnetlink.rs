//! The service each emulated socket gets: the `netlink` crate's responder
//! over the runner's stack, set up as the program set up its socket.

use crate::service::{NetlinkService, ServiceFactory};
use netlink::{LinkExtras, Options, Responder};

pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;
pub const NETLINK_GET_STRICT_CHK: i32 = 12;

struct Rtnetlink(Responder);

impl NetlinkService for Rtnetlink {
    fn request(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.0
            .handle_datagrams(bytes, crate::service::DUMP_DATAGRAM)
    }

    fn set_option(&mut self, name: i32, on: bool) {
        let opts = self.0.options_mut();
        match name {
            NETLINK_CAP_ACK => opts.cap_ack = on,
            NETLINK_EXT_ACK => opts.ext_ack = on,
            NETLINK_GET_STRICT_CHK => opts.strict_check = on,
            _ => {}
        }
    }

    fn set_uid(&mut self, uid: u32) {
        self.0.options_mut().uid = uid;
    }
}

/// A responder per socket, reporting the host's default qdisc for links
/// brought up (what a namespace of this host would show).
pub fn factory(stack: netstack::Stack) -> ServiceFactory {
    let default_qdisc = std::fs::read_to_string("/proc/sys/net/core/default_qdisc")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| LinkExtras::default().default_qdisc);
    Box::new(move |port| {
        let opts = Options {
            portid: port,
            link: LinkExtras {
                default_qdisc: default_qdisc.clone(),
            },
            ..Options::default()
        };
        Box::new(Rtnetlink(Responder::with_options(stack.clone(), opts))) as Box<dyn NetlinkService>
    })
}
