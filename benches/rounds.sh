#!/usr/bin/env bash
# Whether a change, or one mode against another, moves a rate on this
# machine: alternating rounds of `tun_bench` runs. Every variant runs once a
# round, the order reversed every other round, and each is compared with the
# first within each round (a round's runs share its conditions; on a shared
# machine single runs swing by 2x). Prints each variant's median MiB/s and
# CPU seconds per GiB (round trips per second and CPU microseconds per round
# trip for request/response), then the median of its per-round ratios to the first
# with a 95% bootstrap interval (benches/stats.awk), over all rounds and over
# those in which the first did not stall (run under a quarter of its median:
# smoltcp's 1 s retransmission waits). An interval that holds 1.00 is no
# finding; 41 rounds tell about 10% apart here, 81 about 5%.
#
#   [RAW=FILE] benches/rounds.sh ROUNDS 'LABEL=TUN_BENCH ARGS...' 'LABEL=TUN_BENCH ARGS...' ...
#
# A build against the one before it (keep the old binary aside first):
#   cp target/release/examples/tun_bench /tmp/tun_bench.before
#   ... change, cargo build --release --example tun_bench ...
#   args='sandnet in --mib 256 --mtu 65535 --buffer 1048576'
#   sudo benches/rounds.sh 81 "before=/tmp/tun_bench.before $args" "after=target/release/examples/tun_bench $args"
# One mode against its reference, in one build:
#   sudo benches/rounds.sh 41 "copy=$bin smoltcp-copy in --mib 256 --mtu 65535" "read=$bin sandnet in --mib 256 --mtu 65535"
#
# RAW keeps every run's line, prefixed with its round and label. A variant
# may be any command that prints `MiB/s=` and `cpu_s_per_GiB=` fields, or
# `rt/s=` and `cpu_us_per_rt=` (`tun_bench MODE rr`, request/response);
# tun_bench needs root, and a run that fails stops the rounds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 3 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi
rounds=$1
shift
case $rounds in '' | *[!0-9]*) echo "rounds.sh: ROUNDS is a count, not '$rounds'" >&2; exit 2 ;; esac
for v in "$@"; do
    case $v in *=*) ;; *) echo "rounds.sh: a variant is LABEL=COMMAND, not '$v'" >&2; exit 2 ;; esac
done
raw=${RAW:-$(mktemp)}
[ -n "${RAW:-}" ] || trap 'rm -f "$raw"' EXIT
: >"$raw"
for round in $(seq "$rounds"); do
    order=("$@")
    if [ $((round % 2)) = 0 ]; then
        order=()
        for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
    fi
    for v in "${order[@]}"; do
        label=${v%%=*}
        # The command is split into words as written.
        read -r -a cmd <<<"${v#*=}"
        line=$("${cmd[@]}") || { echo "rounds.sh: round $round, $label failed" >&2; exit 1; }
        echo "round $round $label: $line" >&2
        echo "$round $label $line" >>"$raw"
    done
done
labels=()
for v in "$@"; do labels+=("${v%%=*}"); done
echo
echo "$(date -u +%F) $(nproc) cores, Linux $(uname -r), $rounds rounds; ratios to ${labels[0]}, the median of the rounds' own (95% interval)"
awk -v order="${labels[*]}" -f "$here/stats.awk" -f /dev/stdin "$raw" <<'AWK'
    # A rate is bytes (MiB/s=, with cpu_s_per_GiB=) or round trips (rt/s=,
    # with cpu_us_per_rt=, from `tun_bench MODE rr`).
    { for (i = 3; i <= NF; i++) {
          if ($i ~ /^(MiB|rt)\/s=/) { split($i, kv, "="); unit = kv[1]; rate[$1 " " $2] = kv[2]; v[$2] = v[$2] " " kv[2] }
          if ($i ~ /^cpu_(s_per_GiB|us_per_rt)=/) { split($i, kv, "="); cost = kv[1]; c[$2] = c[$2] " " kv[2] }
      }
      if ($1 > rounds) rounds = $1 }
    END {
        n = split(order, labels, " ")
        ref = labels[1]
        printf "%-12s %10s %10s %7s %22s %22s\n", "variant", unit, cost == "cpu_us_per_rt" ? "CPU us/rt" : "CPU s/GiB", "stalls", "per round", "clean"
        for (k = 1; k <= n; k++) {
            l = labels[k]
            printf "%-12s %10.1f %10.2f %7d %22s %22s\n", l, median(v[l]), median(c[l]), stalls(rate, v, l, rounds), k == 1 ? "-" : with_interval(ratios(rate, v, l, ref, rounds, 0)), k == 1 ? "-" : with_interval(ratios(rate, v, l, ref, rounds, 1))
        }
        printf "(clean: the rounds in which %s did not stall)\n", ref
    }
AWK
