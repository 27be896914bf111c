#!/usr/bin/env bash
# Quick start, step 1: install missing tools, build a release, and start the gateway on
# http://127.0.0.1:3000 with SQLite under ./data. With no ADMIN_TOKEN set, the first start
# prints a generated admin token once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-tools.sh --release
. scripts/tools-env.sh
cargo leptos build --release
export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site}
exec ./target/release/autorouter
