//! Netlink framing: message headers and attributes, read with every length
//! bounds-checked and written with the kernel's 4-byte alignment.

/// `NLMSG_HDRLEN`.
pub const HDRLEN: usize = 16;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
/// Types below this are control messages (`NLMSG_MIN_TYPE`).
pub const NLMSG_MIN_TYPE: u16 = 0x10;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
// Modifiers of NEW requests.
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
// Flags of NLMSG_ERROR replies.
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLA_F_NESTED`, and the mask that strips it and `NLA_F_NET_BYTEORDER`.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// `NLMSG_ALIGN` / `NLA_ALIGN`.
pub fn align(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// A `struct nlmsghdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl Header {
    /// Reads a header from the first 16 bytes, if there are 16.
    pub fn parse(b: &[u8]) -> Option<Header> {
        Some(Header {
            len: u32_at(b, 0)?,
            ty: u16_at(b, 4)?,
            flags: u16_at(b, 6)?,
            seq: u32_at(b, 8)?,
            pid: u32_at(b, 12)?,
        })
    }

    pub fn to_bytes(self) -> [u8; HDRLEN] {
        let mut b = [0u8; HDRLEN];
        b[0..4].copy_from_slice(&self.len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        b[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        b
    }
}

/// One request message: its header, its payload (`nlmsg_len - 16` bytes) and
/// the whole message as sent.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub header: Header,
    pub payload: &'a [u8],
    pub raw: &'a [u8],
}

/// Splits a buffer into messages as `netlink_rcv_skb` walks it: a header whose
/// length is below 16 or beyond the buffer ends the walk silently; each
/// message is followed by padding to 4 bytes.
pub fn split(buf: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= HDRLEN {
        let Some(header) = Header::parse(rest) else {
            break;
        };
        let len = header.len as usize;
        if len < HDRLEN || len > rest.len() {
            break;
        }
        out.push(Message {
            header,
            payload: &rest[HDRLEN..len],
            raw: &rest[..len],
        });
        let step = align(len).min(rest.len());
        rest = &rest[step..];
    }
    out
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// One attribute as read: its type without the NESTED/BYTEORDER bits, and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    pub ty: u16,
    pub value: &'a [u8],
}

impl<'a> Attr<'a> {
    /// A u32 attribute; ERANGE when shorter than 4 bytes, as the policy check answers.
    pub fn u32(&self) -> Result<u32, i32> {
        u32_at(self.value, 0).ok_or(libc::ERANGE)
    }

    pub fn u8(&self) -> Result<u8, i32> {
        self.value.first().copied().ok_or(libc::ERANGE)
    }

    /// A string attribute up to its first NUL (or its end).
    pub fn str(&self) -> &'a [u8] {
        let end = self
            .value
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(self.value.len());
        &self.value[..end]
    }
}

/// Attributes of a payload, and whether bytes were left over that do not
/// form a whole attribute (the kernel's strict parsing refuses those).
pub struct Attrs<'a> {
    pub list: Vec<Attr<'a>>,
    pub leftover: bool,
}

impl<'a> Attrs<'a> {
    pub fn parse(b: &'a [u8]) -> Attrs<'a> {
        let mut list = Vec::new();
        let mut rest = b;
        while rest.len() >= 4 {
            let len = u16_at(rest, 0).unwrap_or(0) as usize;
            let ty = u16_at(rest, 2).unwrap_or(0);
            if len < 4 || len > rest.len() {
                break;
            }
            list.push(Attr {
                ty: ty & NLA_TYPE_MASK,
                value: &rest[4..len],
            });
            rest = &rest[align(len).min(rest.len())..];
        }
        Attrs {
            list,
            leftover: !rest.is_empty(),
        }
    }

    /// The last attribute of a type (the kernel's parse keeps the last one).
    pub fn get(&self, ty: u16) -> Option<Attr<'a>> {
        self.list.iter().rev().find(|a| a.ty == ty).copied()
    }
}

/// Builds reply messages into one buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// Starts a message; returns its offset for `end`.
    pub fn begin(&mut self, ty: u16, flags: u16, seq: u32, pid: u32) -> usize {
        let start = self.buf.len();
        let h = Header {
            len: 0,
            ty,
            flags,
            seq,
            pid,
        };
        self.buf.extend_from_slice(&h.to_bytes());
        start
    }

    /// Sets the length of the message begun at `start`.
    pub fn end(&mut self, start: usize) {
        self.pad();
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn pad(&mut self) {
        let n = align(self.buf.len()) - self.buf.len();
        self.buf.extend(std::iter::repeat_n(0u8, n));
    }

    pub fn attr(&mut self, ty: u16, value: &[u8]) {
        let len = (4 + value.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    pub fn u8(&mut self, ty: u16, v: u8) {
        self.attr(ty, &[v]);
    }

    pub fn u16(&mut self, ty: u16, v: u16) {
        self.attr(ty, &v.to_ne_bytes());
    }

    pub fn u32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_ne_bytes());
    }

    /// A NUL-terminated string.
    pub fn string(&mut self, ty: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v);
    }

    /// Starts a nested attribute; returns its offset for `nest_end`.
    pub fn nest(&mut self, ty: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        at
    }

    /// Closes a nest: its length covers its attributes with their padding.
    pub fn nest_end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// Where a dump's NLMSG_DONE goes (`netlink_dump`, net/netlink/af_netlink.c):
/// it is added to the datagram that holds the last parts when the dump
/// handler reports its end in the same call that wrote them and there is
/// room; most rtnetlink dumps say they are done only in a further call (old
/// handlers return the skb length; newer ones are flagged
/// RTNL_FLAG_DUMP_SPLIT_NLM_DONE for programs that expect that), so their
/// NLMSG_DONE comes alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// In a datagram of its own.
    Alone,
    /// With the last parts, when they leave room for it (inet6_dump_ifinfo).
    Joins,
}

/// Splits a reply (as `Responder::handle` returns it) into the datagrams the
/// kernel would deliver: every reply, ACK and error alone; the parts of a dump
/// (NLM_F_MULTI) packed whole into datagrams of at most `max` bytes (at least
/// one message each); a dump's NLMSG_DONE alone.
pub fn datagrams(reply: &[u8], max: usize) -> Vec<Vec<u8>> {
    datagrams_with(reply, max, Done::Alone)
}

/// `datagrams`, with each dump's NLMSG_DONE placed as `done` says.
pub fn datagrams_with(reply: &[u8], max: usize, done: Done) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut pack: Vec<u8> = Vec::new();
    for m in split(reply) {
        let whole = m.raw;
        let padded = align(whole.len());
        let is_part = m.header.flags & NLM_F_MULTI != 0 && m.header.ty != NLMSG_DONE;
        let joins = done == Done::Joins
            && m.header.ty == NLMSG_DONE
            && !pack.is_empty()
            && pack.len() + padded <= max;
        if joins {
            pack.extend_from_slice(whole);
            pack.resize(align(pack.len()), 0);
            out.push(std::mem::take(&mut pack));
            continue;
        }
        if is_part && (pack.is_empty() || pack.len() + padded <= max) {
            pack.extend_from_slice(whole);
            pack.resize(align(pack.len()), 0);
            continue;
        }
        if !pack.is_empty() {
            out.push(std::mem::take(&mut pack));
        }
        if is_part {
            pack.extend_from_slice(whole);
            pack.resize(align(pack.len()), 0);
        } else {
            let mut d = whole.to_vec();
            d.resize(padded, 0);
            out.push(d);
        }
    }
    if !pack.is_empty() {
        out.push(pack);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_stops_at_bad_lengths() {
        let mut b = Header {
            len: 20,
            ty: 18,
            flags: 1,
            seq: 7,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        b.extend_from_slice(&[1, 2, 3, 4]);
        let mut two = b.clone();
        two.extend_from_slice(&b);
        assert_eq!(split(&two).len(), 2);
        // A length past the buffer, below the header, or a short tail: no message.
        let mut long = b.clone();
        long[0] = 21;
        assert!(split(&long).is_empty());
        let mut short = b.clone();
        short[0] = 15;
        assert!(split(&short).is_empty());
        assert!(split(&b[..10]).is_empty());
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn attrs_never_read_past_the_end() {
        let cases: &[&[u8]] = &[
            &[],
            &[5, 0],
            &[8, 0, 1, 0, 1, 2],
            &[3, 0, 1, 0, 1, 2, 3, 4],
            &[0xff, 0xff, 1, 0, 0],
        ];
        for c in cases {
            let a = Attrs::parse(c);
            assert!(a.list.is_empty());
            assert_eq!(a.leftover, !c.is_empty());
        }
        let a = Attrs::parse(&[5, 0, 3, 0x80, b'x', 0, 0, 0, 4, 0, 9, 0]);
        assert_eq!(a.list.len(), 2);
        assert_eq!(a.list[0].ty, 3);
        assert_eq!(a.list[0].str(), b"x");
        assert_eq!(a.get(9).unwrap().u32(), Err(libc::ERANGE));
        assert!(!a.leftover);
    }

    #[test]
    fn datagrams_pack_dump_parts_only() {
        let mut w = Writer::new();
        for _ in 0..3 {
            let m = w.begin(16, NLM_F_MULTI, 1, 0);
            w.attr(1, &[0; 100]);
            w.end(m);
        }
        let d = w.begin(NLMSG_DONE, NLM_F_MULTI, 1, 0);
        w.bytes(&0i32.to_ne_bytes());
        w.end(d);
        let e = w.begin(NLMSG_ERROR, NLM_F_CAPPED, 2, 0);
        w.bytes(&[0; 20]);
        w.end(e);
        let sizes: Vec<usize> = datagrams(&w.buf, 300).iter().map(Vec::len).collect();
        assert_eq!(sizes, [240, 120, 20, 36]);
        let total: usize = datagrams(&w.buf, 1 << 20).iter().map(Vec::len).sum();
        assert_eq!(total, w.buf.len());
        // A NLMSG_DONE that joins: with the last parts when they leave room.
        let sizes: Vec<usize> = datagrams_with(&w.buf, 300, Done::Joins)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [240, 140, 36]);
        let sizes: Vec<usize> = datagrams_with(&w.buf, 130, Done::Joins)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [120, 120, 120, 20, 36]);
    }

    #[test]
    fn writer_pads_and_nests() {
        let mut w = Writer::new();
        let m = w.begin(16, 2, 1, 2);
        let n = w.nest(43 | NLA_F_NESTED);
        w.u8(2, 0);
        w.nest_end(n);
        w.string(3, "lo");
        w.end(m);
        assert_eq!(w.buf.len(), 16 + 12 + 8);
        assert_eq!(&w.buf[16..20], &[12, 0, 43, 0x80]);
        assert_eq!(Header::parse(&w.buf).unwrap().len, 36);
    }
}
