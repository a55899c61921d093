#!/usr/bin/env bash
# Side by side, in one run on one machine: bulk TCP between the host kernel and
#   kernel   another kernel namespace over a veth pair (host networking: what a
#            user picks instead of a userspace stack),
#   smoltcp  a bare smoltcp poll loop on a TUN device (no threads, no API: the
#            ceiling of any smoltcp design on this link),
#   smoltcp-copy  the same loop, its program copying what it receives into a
#            buffer of its own and sending from one: the copies a program
#            behind Read and Write makes, so the reference for `sandnet`,
#   sandnet  a sandnet Stack on the same kind of TUN device, the program
#            using Read and Write (a copy each way, as any std::net program),
#   in-place the same, the program using TcpStream::read_with and write_with
#            (it consumes received bytes where they are, as bare smoltcp's
#            loop does, and fills the send buffer where it is),
#   sink/src the same, the program's closure called by the poll thread in the
#            round: inbound a receive sink (TcpStream::set_receive_sink),
#            outbound a send source (set_send_source); the stack's own thread
#            consumes and fills, as bare smoltcp's loop does in its one,
# in both directions (in: kernel -> stack, out: stack -> kernel), and then
# request/response (`tun_bench MODE rr`, and `udp-rr` over UDP: the kernel's
# client sends 64 bytes and waits for them back, RT times a run, 20000
# unless said; the kernel over veth, bare smoltcp's loop echoing through a
# buffer of its own, and sandnet through Read and Write or UdpSocket). The runs
# alternate, their order reversed every other round, and the medians and the
# ratios sandnet/smoltcp and sandnet/kernel are printed, the ratios also as
# the median of each round's own (a round runs its modes back to back) with
# a 95% bootstrap interval over the rounds (benches/stats.awk; 41 rounds
# tell about 10% apart on the project's machine), then the CPU time each
# spent per GiB (robust where wall time is not, on a machine doing other
# work). benches/rounds.sh runs any set of tun_bench variants the same way,
# a build against the one before it among them.
#
#   sudo [PIN=1] [SENDER_CC=cubic] [SENDER_WRITE=65536] [RT=20000] benches/compare.sh [ROUNDS=5] [MIB=256] [MTU=1500] [BUFFER_BYTES=262144]
#
# BUFFER_BYTES is the TCP send and receive buffer of both userspace stacks.
# PIN=1 runs every mode with `tun_bench --pin`: the program's side (bare
# smoltcp's loop; sandnet's program thread and poll thread) on CPU 0, the
# kernel's peer thread on CPU 1. SENDER_CC is the congestion control of the
# kernel's sending socket (`tun_bench --sender-cc`): cubic, Linux's default,
# unless said otherwise, whatever the host's net.ipv4.tcp_congestion_control
# is (a BBR sender paces from the ACKs it sees, and the receiving stacks'
# figures move with it: docs/PERFORMANCE.md). SENDER_WRITE is the size of
# its writes (`tun_bench --sender-write`, 64 KiB unless said): at MTU 65535
# a 64 KiB write leaves a 41-byte segment behind, 130990 bytes none.
#
# Needs root: every run lives in private network namespaces that vanish with it.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
mib=${2:-256}
mtu=${3:-1500}
buffer=${4:-262144}
pin=
[ "${PIN:-0}" = 0 ] || pin=1
sender_cc=${SENDER_CC:-cubic}
sender_write=${SENDER_WRITE:-65536}
rt=${RT:-20000}
if [ "$(id -u)" != 0 ]; then
    echo "compare.sh: needs root (it creates network namespaces, veth pairs and TUN devices)" >&2
    exit 1
fi
cargo build --quiet --release --example tun_bench
bin=target/release/examples/tun_bench
results=$(mktemp)
trap 'rm -f "$results"' EXIT
modes=(kernel smoltcp smoltcp-copy sandnet sandnet-inplace sandnet-sink sandnet-source)
for round in $(seq "$rounds"); do
    order=("${modes[@]}")
    if [ $((round % 2)) = 0 ]; then order=(sandnet-source sandnet-sink sandnet-inplace sandnet smoltcp-copy smoltcp kernel); fi
    for dir in in out; do
        for mode in "${order[@]}"; do
            # A sink receives, a source sends.
            if [ "$mode" = sandnet-sink ] && [ "$dir" = out ]; then continue; fi
            if [ "$mode" = sandnet-source ] && [ "$dir" = in ]; then continue; fi
            line=$("$bin" "$mode" "$dir" --mib "$mib" --mtu "$mtu" --buffer "$buffer" --sender-cc "$sender_cc" --sender-write "$sender_write" ${pin:+--pin})
            echo "round $round: $line" >&2
            echo "$round $line" >>"$results"
        done
    done
    rr=(kernel smoltcp-copy sandnet)
    if [ $((round % 2)) = 0 ]; then rr=(sandnet smoltcp-copy kernel); fi
    for kind in rr udp-rr; do
        for mode in "${rr[@]}"; do
            line=$("$bin" "$mode" "$kind" --mtu "$mtu" --rt "$rt" ${pin:+--pin})
            echo "round $round: $line" >&2
            echo "$round $line" >>"$results"
        done
    done
done
echo
echo "$(date -u +%F) $(nproc) cores, Linux $(uname -r), $rounds rounds of $mib MiB, MTU $mtu, $buffer-byte TCP buffers, the kernel sending with $sender_cc in writes of $sender_write bytes${pin:+, pinned (--pin)}: median MiB/s"
# The program reads the shared statistics (median, bootstrap interval) first.
awk -f benches/stats.awk -f /dev/stdin "$results" <<'AWK'
    # Request/response: round trips per second where bulk lines have MiB/s.
    $3 == "rr" || $3 == "udp-rr" {
      key = $2 " " $3
      split($6, kv, "="); v[key] = v[key] " " kv[2]; r[$1 " " key] = kv[2]
      split($7, pv, "="); p50[key] = p50[key] " " pv[2]
      next }
    { key = $2 " " $3
      if ($2 == "sandnet-source") key = "sandnet-sink " $3
      split($6, kv, "="); v[key] = v[key] " " kv[2]; r[$1 " " key] = kv[2]
      split($7, cv, "="); c[key] = c[key] " " cv[2]
      if ($1 > rounds) rounds = $1 }
    # The ratios of mode to ref and the stalls of ref, in one direction.
    function dir_ratios(mode, dir, ref, clean) { return ratios(r, v, mode " " dir, ref " " dir, rounds, clean) }
    function dir_stalls(ref, dir) { return stalls(r, v, ref " " dir, rounds) }
    function show(x, fmt) { return x > 0 ? sprintf(fmt, x) : "-" }
    END {
        printf "%-4s %10s %10s %10s %10s %10s %16s %15s %17s %17s\n", "dir", "kernel", "smoltcp", "sandnet", "in-place", "sink/src", "sandnet/smoltcp", "sandnet/kernel", "in-place/smoltcp", "sink/src/smoltcp"
        split("in out", dirs, " ")
        for (d = 1; d <= 2; d++) {
            k = median(v["kernel " dirs[d]]); s = median(v["smoltcp " dirs[d]]); n = median(v["sandnet " dirs[d]])
            p = median(v["sandnet-inplace " dirs[d]]); q = median(v["sandnet-sink " dirs[d]])
            printf "%-4s %10.1f %10.1f %10.1f %10.1f %10s %16.2f %15.2f %17.2f %17s\n", dirs[d], k, s, n, p, show(q, "%.1f"), n / s, n / k, p / s, show(q / s, "%.2f")
        }
        printf "\nthe ratios to bare smoltcp as the median of the ratios within each round, and in parentheses\n"
        printf "its 95%% interval (a bootstrap over the rounds): \"at or above\" holds where the interval's low end does\n"
        printf "%-4s %-6s %22s %22s %22s\n", "dir", "rounds", "sandnet/smoltcp", "in-place/smoltcp", "sink/src/smoltcp"
        for (d = 1; d <= 2; d++)
            for (clean = 0; clean <= 1; clean++)
                printf "%-4s %-6s %22s %22s %22s\n", dirs[d], clean ? "clean" : "all", with_interval(dir_ratios("sandnet", dirs[d], "smoltcp", clean)), with_interval(dir_ratios("sandnet-inplace", dirs[d], "smoltcp", clean)), with_interval(dir_ratios("sandnet-sink", dirs[d], "smoltcp", clean))
        printf "(clean: without the rounds in which bare smoltcp stalled; in: %d, out: %d of %d)\n", dir_stalls("smoltcp", "in"), dir_stalls("smoltcp", "out"), rounds
        printf "\nRead and Write against bare smoltcp making the same copies (smoltcp-copy): median MiB/s, ratio of medians, median per-round ratio (95%% interval), the same without its stalled rounds (how many)\n"
        printf "%-4s %12s %10s %14s %22s %22s\n", "dir", "smoltcp-copy", "sandnet", "sandnet/copy", "per-round", "clean"
        for (d = 1; d <= 2; d++) {
            s = median(v["smoltcp-copy " dirs[d]]); n = median(v["sandnet " dirs[d]])
            printf "%-4s %12.1f %10.1f %14.2f %22s %22s (%d)\n", dirs[d], s, n, n / s, with_interval(dir_ratios("sandnet", dirs[d], "smoltcp-copy", 0)), with_interval(dir_ratios("sandnet", dirs[d], "smoltcp-copy", 1)), dir_stalls("smoltcp-copy", dirs[d])
        }
        printf "\nmedian CPU seconds per GiB moved (the whole process: both ends, kernel work included)\n"
        printf "%-4s %10s %10s %12s %10s %10s %10s\n", "dir", "kernel", "smoltcp", "smoltcp-copy", "sandnet", "in-place", "sink/src"
        for (d = 1; d <= 2; d++)
            printf "%-4s %10.2f %10.2f %12.2f %10.2f %10.2f %10s\n", dirs[d], median(c["kernel " dirs[d]]), median(c["smoltcp " dirs[d]]), median(c["smoltcp-copy " dirs[d]]), median(c["sandnet " dirs[d]]), median(c["sandnet-inplace " dirs[d]]), show(median(c["sandnet-sink " dirs[d]]), "%.2f")
        printf "\nrequest/response, 64-byte exchanges with the kernel's client: median round trips per second and median\n"
        printf "microseconds of one; sandnet against bare smoltcp's loop and against the kernel, per round (95%% interval)\n"
        printf "%-8s %-12s %10s %10s\n", "kind", "peer", "rt/s", "p50 us"
        split("kernel smoltcp-copy sandnet", peers, " ")
        split("rr udp-rr", kinds, " ")
        for (j = 1; j <= 2; j++)
            for (i = 1; i <= 3; i++)
                printf "%-8s %-12s %10.0f %10.1f\n", kinds[j], peers[i], median(v[peers[i] " " kinds[j]]), median(p50[peers[i] " " kinds[j]])
        for (j = 1; j <= 2; j++)
            printf "%-8s sandnet/smoltcp %22s   sandnet/kernel %22s\n", kinds[j], with_interval(ratios(r, v, "sandnet " kinds[j], "smoltcp-copy " kinds[j], rounds, 0)), with_interval(ratios(r, v, "sandnet " kinds[j], "kernel " kinds[j], rounds, 0))
    }
AWK
