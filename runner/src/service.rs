//! What answers a program's NETLINK_ROUTE requests: one [`NetlinkService`]
//! per socket the program opens. The supervisor owns the socket emulation
//! (fds, addresses, queues, recv semantics); a service only maps request
//! bytes to reply bytes.

/// One emulated netlink socket's responder (what the kernel's rtnetlink is
/// for a real socket).
pub trait NetlinkService {
    /// `bytes` is one datagram the program sent (one or more netlink
    /// messages, unvalidated). Returns the reply datagrams, in order, as
    /// successive receives would return them: each an answer, an ack or
    /// error, or a dump's parts packed as the kernel packs them (up to
    /// [`DUMP_DATAGRAM`] bytes), `nlmsg_pid` set to the socket's port id.
    /// Empty when nothing is answered.
    fn request(&mut self, bytes: &[u8]) -> Vec<Vec<u8>>;

    /// The program set (`on`) or cleared a SOL_NETLINK option `name`
    /// (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, ...) on the socket. Also
    /// called, for every option set before, when the service is made.
    fn set_option(&mut self, _name: i32, _on: bool) {}

    /// The real uid of the process that bound the socket (what a route
    /// lookup reports as RTA_UID).
    fn set_uid(&mut self, _uid: u32) {}
}

/// Makes the service of a newly bound socket; given the socket's port id
/// (`nl_pid`, what the program's getsockname reports).
pub type ServiceFactory = Box<dyn FnMut(u32) -> Box<dyn NetlinkService>>;

pub const NLMSG_HDRLEN: usize = 16;

/// Roughly the kernel's NLMSG_GOODSIZE on 4 KiB pages: the size of one dump
/// datagram, small enough for readers that receive into one page.
pub const DUMP_DATAGRAM: usize = 3776;

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The messages of `bytes` as (type, flags, whole message) slices; a
/// malformed tail is returned as one last piece with type 0.
pub fn messages(bytes: &[u8]) -> Vec<(u16, u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HDRLEN {
            out.push((0, 0, rest));
            break;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            out.push((0, 0, rest));
            break;
        }
        let ty = u16::from_ne_bytes(rest[4..6].try_into().unwrap());
        let flags = u16::from_ne_bytes(rest[6..8].try_into().unwrap());
        out.push((ty, flags, &rest[..len]));
        rest = &rest[align4(len).min(rest.len())..];
    }
    out
}
