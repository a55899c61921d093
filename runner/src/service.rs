//! What answers a program's NETLINK_ROUTE requests: one [`NetlinkService`]
//! per socket the program opens. The supervisor owns the socket emulation
//! (fds, addresses, queues, recv semantics); a service only maps request
//! bytes to reply bytes.

/// One emulated netlink socket's responder (what the kernel's rtnetlink is
/// for a real socket).
pub trait NetlinkService {
    /// `bytes` is one datagram the program sent (one or more netlink
    /// messages, unvalidated). Returns the reply messages, concatenated,
    /// each with its own `nlmsghdr` (`nlmsg_pid` set to the socket's port id
    /// for answers, as the kernel does). Empty when nothing is answered.
    fn request(&mut self, bytes: &[u8]) -> Vec<u8>;

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
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLMSG_ERROR: u16 = 0x2;
pub const NLMSG_DONE: u16 = 0x3;

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

/// Splits a service's reply into the datagrams the kernel would have sent:
/// the messages of a dump (NLM_F_MULTI, and the NLMSG_DONE ending it) packed
/// into datagrams of up to [`DUMP_DATAGRAM`] bytes, every other message
/// (an answer, an error or ack) in a datagram of its own.
pub fn datagrams(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut dump: Vec<u8> = Vec::new();
    for (ty, flags, m) in messages(reply) {
        let multi = flags & NLM_F_MULTI != 0;
        if multi {
            if !dump.is_empty() && dump.len() + align4(m.len()) > DUMP_DATAGRAM {
                out.push(std::mem::take(&mut dump));
            }
            dump.extend_from_slice(m);
            dump.resize(align4(dump.len()), 0);
            if ty == NLMSG_DONE {
                out.push(std::mem::take(&mut dump));
            }
        } else {
            if !dump.is_empty() {
                out.push(std::mem::take(&mut dump));
            }
            out.push(m.to_vec());
        }
    }
    if !dump.is_empty() {
        out.push(dump);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, flags: u16, payload: usize) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload;
        let mut m = Vec::new();
        m.extend((len as u32).to_ne_bytes());
        m.extend(ty.to_ne_bytes());
        m.extend(flags.to_ne_bytes());
        m.extend([0u8; 8]);
        m.resize(align4(len), 0);
        m
    }

    #[test]
    fn dumps_pack_answers_stand_alone() {
        let mut r = Vec::new();
        for _ in 0..10 {
            r.extend(msg(16, NLM_F_MULTI, 1000));
        }
        r.extend(msg(NLMSG_DONE, NLM_F_MULTI, 4));
        r.extend(msg(NLMSG_ERROR, 0, 20));
        let d = datagrams(&r);
        // 3 records of 1016 bytes fit in 3776; 10 records make 4 datagrams, DONE in the last.
        assert_eq!(d.len(), 5);
        assert_eq!(d[3].len(), 1016 + 20);
        assert_eq!(d[4].len(), 36);
        assert_eq!(d.concat(), r);
    }
}
