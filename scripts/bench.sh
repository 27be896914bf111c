#!/usr/bin/env bash
# The benchmark: builds the release gateway and the Rust mock upstream, then sends the same load
# straight to the mock, through nginx (the floor: a bare reverse proxy), through the gateway, and
# through a second gateway started with REDIS_URL with a rate-limited key, and writes
# docs/benchmarks.{json,md}. Takes about 5–6 minutes after the build. Knobs:
# BENCH_LATENCY_SAMPLES (20000), BENCH_C1_SECONDS (20), BENCH_WRK_SECONDS (20), BENCH_STREAMS
# (1000), BENCH_AFTER_SECONDS (30), TEST_DATABASE_URL (PostgreSQL for the log writer figure;
# skipped when none answers), BENCH_REDIS_URL (redis://127.0.0.1:6379; `off`, or a Redis that
# does not answer, skips the rate-limited key's row and says so).
#
# `scripts/bench.sh metrics` measures only what the Prometheus metrics cost: a gateway with
# them (the default) beside one with METRICS=off, latency and throughput in alternating blocks,
# written to docs/benchmarks-metrics.{json,md} (BENCH_C1_SECONDS and BENCH_WRK_SECONDS apply).
#
# `scripts/bench.sh compare BINARY` puts this build's gateway beside another build's release
# binary (a copy of target/release/autorouter from another commit), measured the same way as
# metrics on and off, and prints the table; nothing is written.
set -euo pipefail
case "${1:-}" in
  metrics) export BENCH_ONLY=metrics ;;
  compare)
    [ -x "${2:-}" ] || { echo "usage: scripts/bench.sh compare PATH-TO-OTHER-autorouter" >&2; exit 2; }
    BENCH_OTHER=$(realpath "$2"); export BENCH_OTHER ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [metrics | compare BINARY]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
./scripts/install-tools.sh --bench
cargo build --release --features ssr --bin autorouter --bin autorouter-mock --bin autorouter-bench
# 1,000 held streams need about 2,100 descriptors in the gateway and as many in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec target/release/autorouter-bench
