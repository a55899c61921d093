#!/usr/bin/env bash
# Runs test binaries under ThreadSanitizer: a nightly toolchain with rust-src
# (std is rebuilt instrumented with -Zbuild-std, so its locks and Arc are seen
# by the sanitizer, not reported as false races).
#   tools/tsan.sh [TEST...]     default: stress_threads sockets_pipe quotas flood_pipe
# One-time setup: rustup toolchain install nightly && rustup component add rust-src --toolchain nightly
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(stress_threads sockets_pipe quotas flood_pipe)
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread"
# Its own target dir: the instrumented build never mixes with the normal one.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/tsan}
# Reports do not stop the run; the exit status says whether there were any.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0 exitcode=66}
args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
cargo +nightly test -Zbuild-std --target "$triple" "${args[@]}" -- --test-threads=1 --nocapture
