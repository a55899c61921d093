#!/usr/bin/env python3
"""Writes the seed corpora (fuzz/corpus/TARGET/) from valid packets.

Lengths and checksums are left zero: every seed asks the target to repair
them (control bits 0-2 set), so the seeds stay readable here."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
S4, P4 = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
S6 = bytes.fromhex("fd000000000000000000000000000002")
P6 = bytes.fromhex("fd000000000000000000000000000001")


def v4(proto, l4, src=P4, dst=S4, opts=b"", frag=0x4000):
    ihl = 5 + len(opts) // 4
    return bytes([0x40 | ihl, 0]) + b"\0\0" + struct.pack(">HH", 1, frag) + bytes([64, proto]) + b"\0\0" + src + dst + opts + l4


def v6(nh, l4, src=P6, dst=S6, ext=b""):
    return bytes([0x60, 0, 0, 0]) + b"\0\0" + bytes([nh, 64]) + src + dst + ext + l4


def tcp(sport, dport, flags, seq=1000, ack=0, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts + data


def udp(sport, dport, data):
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data


def icmp(t, code, rest):
    return bytes([t, code, 0, 0]) + rest


SYN_OPTS = bytes([2, 4, 5, 0xB4, 1, 3, 3, 7, 4, 2, 1, 1])
packets = {
    "syn4": v4(6, tcp(40001, 80, 0x02, opts=SYN_OPTS)),
    "syn6": v6(6, tcp(40001, 80, 0x02, opts=SYN_OPTS)),
    "syn4_81": v4(6, tcp(40002, 81, 0x02)),
    "syn_closed": v4(6, tcp(40003, 99, 0x02)),
    "ack_est4": v4(6, tcp(40000, 80, 0x18, seq=1001, data=b"hello")),
    "ack_est6": v6(6, tcp(40000, 80, 0x18, seq=1001, data=b"hello")),
    "rst_est4": v4(6, tcp(40000, 80, 0x04, seq=1001)),
    "fin_est6": v6(6, tcp(40000, 80, 0x11, seq=1001)),
    "synack_connecting": v4(6, tcp(9, 49152, 0x12, seq=5000, ack=1)),
    "udp53": v4(17, udp(5000, 53, b"\x12\x34query")),
    "udp53_6": v6(17, udp(5000, 53, b"\x12\x34query")),
    "udp_closed": v4(17, udp(5000, 54, b"x")),
    "udp_bcast": v4(17, udp(5000, 53, b"b"), dst=bytes([10, 0, 0, 255])),
    "echo4": v4(1, icmp(8, 0, struct.pack(">HH", 7, 1) + b"ping")),
    "echo6": v6(58, icmp(128, 0, struct.pack(">HH", 7, 1) + b"ping")),
    "echoreply4": v4(1, icmp(0, 0, struct.pack(">HH", 1, 1) + b"pong")),
    "echoreply6": v6(58, icmp(129, 0, struct.pack(">HH", 1, 1) + b"pong")),
    "unreach4": v4(1, icmp(3, 3, b"\0\0\0\0" + v4(17, udp(49152, 7, b"q"), src=S4, dst=P4))),
    "ptb6": v6(58, icmp(2, 0, struct.pack(">I", 1280) + v6(6, tcp(80, 40000, 0x10), src=S6, dst=P6))),
    "unreach6": v6(58, icmp(1, 4, b"\0\0\0\0" + v6(17, udp(49152, 53, b"q"), src=S6, dst=P6))),
    "v4_opts": v4(17, udp(5000, 53, b"o"), opts=bytes([1, 1, 1, 0])),
    "v4_frag": v4(17, udp(5000, 53, b"f"), frag=0x2000),
    "v6_hbh": v6(0, udp(5000, 53, b"h"), ext=bytes([17, 0, 1, 4, 0, 0, 0, 0])),
    "v6_frag": v6(44, udp(5000, 53, b"f"), ext=bytes([17, 0, 0, 1, 0, 0, 0, 1])),
    "igmp": v4(2, bytes([0x11, 0, 0, 0, 0, 0, 0, 0]), dst=bytes([224, 0, 0, 1])),
    "proto_unknown": v4(200, b"?"),
    "mcast6_all_nodes": v6(58, icmp(128, 0, b"\0\1\0\1"), dst=bytes.fromhex("ff020000000000000000000000000001")),
}


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for name, p in packets.items():
    write("packet", name, bytes([7]) + p)
    write("packet", name + "_timers", bytes([15]) + p)


def rec(op, data):
    assert len(data) < 256
    return bytes([op, len(data)]) + data


def seg(conn, flags, seq_off=0, ack_off=0, window=65535, opts=b"", data=b""):
    return rec(1, struct.pack(">BBhhHB", conn, flags, seq_off, ack_off, window, len(opts)) + opts + data)


sessions = {
    "data_both_ways": seg(0, 0x18, data=b"GET / HTTP/1.0\r\n\r\n") + rec(3, b"\0\x10\0") + seg(0, 0x10) + rec(4, b"\0\x10\0"),
    "close_active": rec(3, b"\1\x01\0") + rec(5, b"\1\1") + seg(1, 0x11) + rec(7, b"\x10\0"),
    "close_passive": seg(0, 0x11) + rec(6, b"\0") + seg(0, 0x10, seq_off=1) + rec(7, b"\xff\xff"),
    "rst": seg(1, 0x04),
    "out_of_order": seg(0, 0x18, seq_off=100, data=b"later") + seg(0, 0x18, data=b"first") + rec(4, b"\0\1\0"),
    "zero_window": rec(3, b"\0\xff\xff") + seg(0, 0x10, window=0) + rec(7, b"\1\0") + seg(0, 0x10, window=4096),
    "big_segment": rec(2, struct.pack(">BBhhHB", 0, 0x18, 0, 0, 0x7fff, 0) + b"x" * 200),
    "new_conns": rec(11, b"\0") + rec(11, b"\1") + rec(10, b"") + rec(6, b"\2"),
    "udp_ping": rec(8, b"\0dns") + rec(9, b"\0echo") + rec(0, b"\7" + packets["unreach4"]),
    "syn_in_estab": seg(0, 0x02) + seg(0, 0x12, ack_off=5),
    "timers": rec(3, b"\0\x04\0") + rec(7, b"\x01\0") + rec(7, b"\x10\0") + rec(7, b"\xff\xff"),
    # A sink taking at most 64 bytes a call, 200 bytes in, then no sink and a read.
    # A source filling at most 100 bytes a call, ACKed, resumed, then removed.
    "source_pausing": rec(3, b"\0\0\x64\x08") + seg(0, 0x10, ack_off=100) + rec(3, b"\0\0\0\x10") + seg(0, 0x10, ack_off=200) + rec(3, b"\0\0\0\x20"),
    "sink_partial": rec(4, b"\0\0\x40\x02") + seg(0, 0x18, data=b"s" * 200) + seg(0, 0x10) + rec(4, b"\0\x10\0\x04"),
}
for name, s in sessions.items():
    write("session", name, s)


# netlink: requests as iproute2 sends them (native byte order: little-endian here).
def nlmsg(ty, flags, body):
    return struct.pack("<IHHII", 16 + len(body), ty, flags, 1, 0) + body


def rta(ty, data):
    a = struct.pack("<HH", 4 + len(data), ty) + data
    return a + b"\0" * (-len(a) % 4)


REQ, ACK, DUMP, CREATE, EXCL = 1, 4, 0x300, 0x400, 0x200
IFINFO = struct.pack("<BxHiII", 0, 0, 0, 0, 0)
LINK2_UP = struct.pack("<BxHiII", 0, 0, 2, 1, 1)


def ifaddr(family, plen, index):
    return struct.pack("<BBBBi", family, plen, 0, 0, index)


def rtmsg(family, dst_len, table=0, proto=0, scope=0, rtype=0):
    return struct.pack("<BBBBBBBBI", family, dst_len, 0, 0, table, proto, scope, rtype, 0)


V4 = lambda *b: bytes(b)
requests = {
    "link_dump": nlmsg(18, REQ | DUMP, IFINFO + rta(29, struct.pack("<I", 1))),
    "link_by_name": nlmsg(18, REQ, IFINFO + rta(3, b"eth0\0")),
    "addr_dump_v4": nlmsg(22, REQ | DUMP, ifaddr(2, 0, 0)),
    "addr_dump_strict": nlmsg(22, REQ | DUMP, ifaddr(10, 0, 2)),
    "route_dump": nlmsg(26, REQ | DUMP, rtmsg(2, 0)),
    "route_dump_v6_main": nlmsg(26, REQ | DUMP, rtmsg(10, 0, table=254)),
    "route_get": nlmsg(26, REQ, rtmsg(2, 32) + rta(1, V4(8, 8, 8, 8))),
    "route_get_from": nlmsg(26, REQ, rtmsg(2, 32) + rta(1, V4(10, 0, 0, 9)) + rta(2, V4(10, 0, 0, 2))),
    "route_get_v6_oif": nlmsg(26, REQ, rtmsg(10, 128) + rta(1, bytes.fromhex("fd000000000000000000000000000009")) + rta(4, struct.pack("<I", 2))),
    "addr_add_del": nlmsg(20, REQ | ACK | CREATE | EXCL, ifaddr(2, 24, 2) + rta(2, V4(10, 0, 1, 2)) + rta(1, V4(10, 0, 1, 2)))
    + nlmsg(21, REQ | ACK, ifaddr(2, 24, 2) + rta(2, V4(10, 0, 1, 2))),
    "route_add_del": nlmsg(24, REQ | ACK | CREATE | EXCL, rtmsg(2, 16, 254, 3, 0, 1) + rta(1, V4(192, 168, 0, 0)) + rta(5, V4(10, 0, 0, 1)) + rta(4, struct.pack("<I", 2)))
    + nlmsg(25, REQ | ACK, rtmsg(2, 16, 254, 0, 0, 1) + rta(1, V4(192, 168, 0, 0))),
    "link_mtu_down": nlmsg(19, REQ | ACK, struct.pack("<BxHiII", 0, 0, 2, 0, 1) + rta(4, struct.pack("<I", 1400))),
    "link_up": nlmsg(16, REQ | ACK, LINK2_UP),
    "neigh_dump": nlmsg(30, REQ | DUMP, struct.pack("<BxxxiHBB", 0, 0, 0, 0, 0)),
    "nsid_dump": nlmsg(90, REQ | DUMP, struct.pack("<Bxxx", 0)),
    "unknown_type": nlmsg(200, REQ | ACK, b""),
    "short": b"\x10\0\0\0\x12\0",
}


def records(*msgs):
    out = b""
    for m in msgs:
        assert len(m) < 256
        out += bytes([len(m)]) + m
    return out


for name, r in requests.items():
    write("netlink", name, bytes([5]) + records(r))
write("netlink", "change_then_read", bytes([1]) + records(requests["addr_add_del"][:40], requests["route_add_del"], requests["route_get"], requests["link_mtu_down"]))
