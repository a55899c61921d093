#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer on a stable toolchain and runs one.
#   fuzz/run.sh TARGET SECONDS     e.g. fuzz/run.sh packet 60
#   fuzz/run.sh TARGET RUNS        e.g. fuzz/run.sh session 10000000runs  (suffix "runs")
#   fuzz/run.sh TARGET build       only build
# Extra libFuzzer flags go in FUZZ_FLAGS. Targets: packet, session, netlink.
# Findings land in fuzz/artifacts/TARGET/, new inputs in fuzz/corpus/TARGET/
# (commit only the small seeds: see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: run.sh TARGET SECONDS|NNNruns|build}
amount=${2:-60}
triple=$(rustc -vV | sed -n 's/^host: //p')
# What cargo-fuzz passes, minus the nightly-only sanitizer flag: libFuzzer's
# coverage instrumentation is LLVM's sanitizer-coverage pass, which -Cpasses
# reaches on stable. --cfg fuzzing is what libfuzzer-sys and crates test for.
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers=yes"
# --target keeps RUSTFLAGS off build scripts; its own target dir keeps the
# instrumented build apart from the workspace's.
cargo build --release --target "$triple" --bin "$target"
[ "$amount" = build ] && exit 0
bin=target/$triple/release/$target
mkdir -p "corpus/$target" "artifacts/$target" "work/$target"
case $amount in
    *runs) limit=(-runs="${amount%runs}") ;;
    *) limit=(-max_total_time="$amount") ;;
esac
# New inputs go to work/ (not committed); corpus/ holds the seeds.
exec "$bin" "work/$target" "corpus/$target" \
    -artifact_prefix="artifacts/$target/" \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=4096 -timeout=10 \
    -print_final_stats=1 "${limit[@]}" ${FUZZ_FLAGS:-}
