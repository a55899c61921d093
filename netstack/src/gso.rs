//! Software segmentation: a TCP segment larger than its NIC's MTU, cut into
//! segments that fit, as Linux's tcp_gso_segment does for a device without
//! TSO. smoltcp sizes a connection's segments by the MSS ingress clamped
//! to the MTU of the NIC the connection began on; when its route later
//! moves to a NIC with a smaller MTU, its segments no longer fit. Cut, they
//! still arrive (Linux would re-derive the MSS from the new route); dropped,
//! they would be sent again at the same size for ever.

use crate::link::{pool, Packet};
use crate::wire::{self, IpView};

/// Cuts `packet` (TCP, headers of `headers` bytes) into segments of at most
/// `per` payload bytes each, with their checksums, and hands each to `emit`.
/// Every segment carries the original's headers with its own sequence
/// number and lengths; FIN and PSH stay on the last, CWR on the first, and
/// IPv4 identifications count up from the original's.
pub(crate) fn segment_tcp(
    packet: &[u8],
    v: &IpView,
    headers: usize,
    per: usize,
    mut emit: impl FnMut(Packet),
) {
    let (Some(data), true) = (packet.get(headers..v.payload_end), per > 0) else {
        return;
    };
    let tcp = v.payload_start;
    let seq = u32::from_be_bytes([
        packet[tcp + 4],
        packet[tcp + 5],
        packet[tcp + 6],
        packet[tcp + 7],
    ]);
    let flags = packet[tcp + 13];
    let id = u16::from_be_bytes([packet[4], packet[5]]);
    let count = data.len().div_ceil(per);
    for (i, chunk) in data.chunks(per).enumerate() {
        let mut p = pool::empty(headers + chunk.len());
        p.extend_from_slice(&packet[..headers]);
        p.extend_from_slice(chunk);
        let len = p.len();
        if v.dst.is_ipv4() {
            p[4..6].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        }
        wire::set_ip_length(&mut p, v.dst.is_ipv4());
        let at = seq.wrapping_add((i * per) as u32);
        p[tcp + 4..tcp + 8].copy_from_slice(&at.to_be_bytes());
        let mut f = flags;
        if i + 1 < count {
            f &= !(0x01 | 0x08); // FIN, PSH
        }
        if i > 0 {
            f &= !0x80; // CWR
        }
        p[tcp + 13] = f;
        let sv = IpView {
            payload_end: len,
            ..*v
        };
        wire::fill_l4_checksum(&mut p, &sv);
        emit(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP segment from 10.0.0.1:1000 to 10.0.0.2:2000, seq 100,
    /// flags FIN|PSH|ACK|CWR, carrying `data`.
    fn segment(data: &[u8]) -> Vec<u8> {
        wire::testing::tcp_v4(1000, 2000, 100, 0x80 | 0x10 | 0x08 | 0x01, data)
    }

    #[test]
    fn cuts_into_valid_segments_that_carry_the_data_in_order() {
        let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        let big = segment(&data);
        let v = wire::view(&big).unwrap();
        let mut out = Vec::new();
        segment_tcp(&big, &v, 40, 1000, |p| out.push(p));
        assert_eq!(out.len(), 3);
        let mut joined = Vec::new();
        for (i, p) in out.iter().enumerate() {
            let sv = wire::view(p).unwrap();
            assert_eq!(sv.payload_end, p.len(), "IP length");
            assert!(wire::plain_checksum_ok(&p[..20]), "IP checksum");
            assert!(wire::l4_checksum_ok(&sv, &p[20..]), "TCP checksum");
            assert_eq!(u16::from_be_bytes([p[4], p[5]]), 7 + i as u16);
            let seq = u32::from_be_bytes([p[24], p[25], p[26], p[27]]);
            assert_eq!(seq, 100 + 1000 * i as u32);
            let flags = p[33];
            assert_eq!(flags & 0x01 != 0, i == 2, "FIN on the last only");
            assert_eq!(flags & 0x08 != 0, i == 2, "PSH on the last only");
            assert_eq!(flags & 0x80 != 0, i == 0, "CWR on the first only");
            assert!(flags & 0x10 != 0, "ACK on all");
            joined.extend_from_slice(&p[40..]);
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn nothing_comes_of_a_bad_cut() {
        let big = segment(&[1; 100]);
        let v = wire::view(&big).unwrap();
        let mut n = 0;
        segment_tcp(&big, &v, 40, 0, |_| n += 1);
        segment_tcp(&big, &v, 400, 10, |_| n += 1);
        assert_eq!(n, 0);
    }
}
