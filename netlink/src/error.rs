//! The kernel's answers about requests rather than tables: NLMSG_ERROR
//! (`netlink_ack`) and the NLMSG_DONE that ends a dump (`netlink_dump_done`).

use crate::nlmsg::{
    Header, Message, Writer, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_MULTI,
};

/// `NLMSGERR_ATTR_MSG`: the extended ack's text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

/// Why a request failed: a positive errno and, where the kernel gives one,
/// the extended-ack text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub errno: i32,
    pub msg: Option<&'static str>,
}

impl Failure {
    pub fn new(errno: i32) -> Failure {
        Failure { errno, msg: None }
    }

    pub fn with_msg(errno: i32, msg: &'static str) -> Failure {
        Failure {
            errno,
            msg: Some(msg),
        }
    }
}

impl From<i32> for Failure {
    fn from(errno: i32) -> Failure {
        Failure::new(errno)
    }
}

/// How the requesting socket is set up, as far as acks are concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckMode {
    /// NETLINK_EXT_ACK: error texts are sent as NLMSGERR_ATTR_MSG.
    pub ext_ack: bool,
    /// NETLINK_CAP_ACK: errors quote only the request's header.
    pub cap_ack: bool,
}

/// `netlink_ack`: an NLMSG_ERROR for `req` with `err` (0 for an ACK). The
/// request is quoted whole on error unless capped; an ACK always quotes only
/// its header (NLM_F_CAPPED).
pub fn ack(w: &mut Writer, req: &Message<'_>, err: Option<&Failure>, mode: AckMode, portid: u32) {
    let errno = err.map_or(0, |f| f.errno);
    let msg = err
        .and_then(|f| f.msg)
        .filter(|_| mode.ext_ack && errno != 0);
    let mut flags = 0;
    let quote_payload = errno != 0 && !mode.cap_ack;
    if !quote_payload {
        flags |= NLM_F_CAPPED;
    }
    if msg.is_some() {
        flags |= NLM_F_ACK_TLVS;
    }
    let start = w.begin(NLMSG_ERROR, flags, req.header.seq, portid);
    w.bytes(&(-errno).to_ne_bytes());
    w.bytes(&req.header.to_bytes());
    if quote_payload {
        w.bytes(req.payload);
        w.pad();
    }
    if let Some(m) = msg {
        w.string(NLMSGERR_ATTR_MSG, m);
    }
    w.end(start);
}

/// `netlink_dump_done`: the NLMSG_DONE ending a dump, carrying the dump's
/// result as an int and, with NETLINK_EXT_ACK, its error text.
pub fn done(
    w: &mut Writer,
    req: &Header,
    err: Option<&Failure>,
    answer_flags: u16,
    mode: AckMode,
    portid: u32,
) {
    let errno = err.map_or(0, |f| f.errno);
    let msg = err.and_then(|f| f.msg).filter(|_| mode.ext_ack);
    let mut flags = NLM_F_MULTI | answer_flags;
    if msg.is_some() {
        flags |= NLM_F_ACK_TLVS;
    }
    let start = w.begin(NLMSG_DONE, flags, req.seq, portid);
    w.bytes(&(-errno).to_ne_bytes());
    if let Some(m) = msg {
        w.string(NLMSGERR_ATTR_MSG, m);
    }
    w.end(start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlmsg::split;

    fn req(payload_len: usize) -> Vec<u8> {
        let mut b = Header {
            len: (16 + payload_len) as u32,
            ty: 18,
            flags: 1,
            seq: 1,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        b.resize(16 + payload_len, 0);
        b
    }

    #[test]
    fn error_quotes_the_request_padded() {
        // The kernel's reply to an 18-byte RTM_GETLINK: 40 bytes, EINVAL, the request, 2 pad bytes.
        let r = req(2);
        let m = split(&r)[0];
        let mut w = Writer::new();
        ack(
            &mut w,
            &m,
            Some(&Failure::new(libc::EINVAL)),
            AckMode::default(),
            0,
        );
        let mut want = vec![40, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&(-libc::EINVAL).to_ne_bytes());
        want.extend_from_slice(&r);
        want.extend_from_slice(&[0, 0]);
        assert_eq!(w.buf, want);
    }

    #[test]
    fn ack_is_capped() {
        let r = req(16);
        let m = split(&r)[0];
        let mut w = Writer::new();
        ack(&mut w, &m, None, AckMode::default(), 9);
        assert_eq!(w.buf.len(), 36);
        assert_eq!(Header::parse(&w.buf).unwrap().flags, NLM_F_CAPPED);
        assert_eq!(Header::parse(&w.buf).unwrap().pid, 9);
    }

    #[test]
    fn done_with_text_only_under_ext_ack() {
        let h = Header::parse(&req(0)).unwrap();
        let f = Failure::with_msg(libc::EINVAL, "x");
        let mut w = Writer::new();
        done(&mut w, &h, Some(&f), 0, AckMode::default(), 0);
        assert_eq!(w.buf.len(), 20);
        let mut w = Writer::new();
        let mode = AckMode {
            ext_ack: true,
            cap_ack: false,
        };
        done(&mut w, &h, Some(&f), 0, mode, 0);
        assert_eq!(w.buf.len(), 28);
        assert_eq!(
            Header::parse(&w.buf).unwrap().flags,
            NLM_F_MULTI | NLM_F_ACK_TLVS
        );
    }
}
