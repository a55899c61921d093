#!/usr/bin/env bash
# CI smoke: builds every fuzz target and runs each for ~20 s (SMOKE_SECONDS)
# from the committed seeds. Fails on a crash, a leak past the limits, or a
# build error. Needs a C++ compiler (libfuzzer-sys builds libFuzzer).
set -euo pipefail
cd "$(dirname "$0")"
secs=${SMOKE_SECONDS:-20}
for t in packet session netlink; do
    echo "fuzz smoke: $t for ${secs}s"
    # A scratch corpus, so that CI leaves nothing behind.
    work=$(mktemp -d)
    ./run.sh "$t" build >/dev/null
    triple=$(rustc -vV | sed -n 's/^host: //p')
    mkdir -p "artifacts/$t"
    "target/$triple/release/$t" "$work" "corpus/$t" \
        -artifact_prefix="artifacts/$t/" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len=4096 -timeout=10 -max_total_time="$secs" -print_final_stats=1 2>&1 |
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|ERROR|panicked|SUMMARY' || true
    status=${PIPESTATUS[0]}
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        echo "fuzz smoke: $t FAILED (exit $status); inputs in fuzz/artifacts/$t/"
        exit 1
    fi
done
echo "fuzz smoke: ok"
