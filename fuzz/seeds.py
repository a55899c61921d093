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
}
for name, s in sessions.items():
    write("session", name, s)
