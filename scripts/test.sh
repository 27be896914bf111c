#!/usr/bin/env bash
# Quick start, step 2: install missing tools, then formatting, lints (ssr and hydrate), unit and
# integration tests on SQLite and PostgreSQL, and the browser tests.
#
#   TEST_DATABASE_URL  PostgreSQL for the tests (default postgres://postgres@127.0.0.1:5432/test);
#                      every test gets its own fresh schema.
#   REQUIRE_POSTGRES=1 fail instead of skipping when PostgreSQL is unreachable (CI sets it).
#   TEST_REDIS_URL     Redis for the shared-limits tests (default redis://127.0.0.1:6379); they
#                      fail, saying so, when it is unreachable.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$(date +%s)
# A full run builds everything once; incremental caches would only cost disk and time.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step "tools"
./scripts/install-tools.sh --test
. scripts/tools-env.sh

step "rustfmt"
cargo fmt --all -- --check

step "dependency direction"
python3 scripts/check_deps.py

step "clippy (ssr)"
cargo clippy --features ssr --all-targets -- -D warnings

step "clippy (hydrate)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown --target-dir target/front -- -D warnings

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_hostport=$(printf '%s' "$TEST_DATABASE_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/:?]+)(:([0-9]+))?.*#\2 \4#')
pg_host=${pg_hostport% *}
pg_port=${pg_hostport#* }
pg_port=${pg_port:-5432}
# Without PostgreSQL its tests (every one has `postgres` in its name) are left out by name and
# said to be, never run and reported as passed.
skip_pg=()
if ! timeout 3 bash -c "exec 3<>/dev/tcp/$pg_host/$pg_port" 2>/dev/null; then
  if [ "${REQUIRE_POSTGRES:-0}" = 1 ]; then
    echo "FAIL: PostgreSQL is unreachable at $pg_host:$pg_port and REQUIRE_POSTGRES=1" >&2
    exit 1
  fi
  echo "SKIP: PostgreSQL tests (nothing listening at $pg_host:$pg_port; set TEST_DATABASE_URL, or REQUIRE_POSTGRES=1 to make this a failure)"
  skip_pg=(--skip postgres)
fi

redis_hostport=$(printf '%s' "${TEST_REDIS_URL:-redis://127.0.0.1:6379}" | sed -E 's#^[a-z]+://([^@/]*@)?([^/:?]+)(:([0-9]+))?.*#\2 \4#')
redis_host=${redis_hostport% *}
redis_port=${redis_hostport#* }
if ! timeout 3 bash -c "exec 3<>/dev/tcp/$redis_host/${redis_port:-6379}" 2>/dev/null; then
  echo "FAIL: Redis is unreachable at $redis_host:${redis_port:-6379}: the shared-limits tests need it (start redis-server, or set TEST_REDIS_URL)" >&2
  exit 1
fi

step "unit and integration tests (SQLite, PostgreSQL and Redis)"
test_started=$(date +%s)
cargo test --features ssr -- "${skip_pg[@]}"
echo "cargo test took $(( $(date +%s) - test_started )) s"

step "the official Python SDKs through the gateway (ignored by a plain cargo test)"
AUTOROUTER_SDK_PYTHON="$PWD/.venv-sdk/bin/python" cargo test --features ssr --test it -- --ignored sdk:: "${skip_pg[@]}"

step "Claude Code and Codex CLI through the gateway (ignored by a plain cargo test)"
AUTOROUTER_CLAUDE="$PWD/.tools/agents/node_modules/.bin/claude" \
AUTOROUTER_CODEX="$PWD/.tools/agents/node_modules/.bin/codex" \
  cargo test --features ssr --test it -- --ignored agents:: "${skip_pg[@]}"

step "browser tests on the release build (cargo leptos end-to-end --release, Chromium)"
e2e_data=$(mktemp -d)
trap 'rm -rf "$e2e_data"' EXIT
mkdir -p end2end/screenshots
PORT=${E2E_PORT:-3017} \
HOST=127.0.0.1 \
E2E_BASE_URL="http://127.0.0.1:${E2E_PORT:-3017}" \
ADMIN_TOKEN=${E2E_ADMIN_TOKEN:-e2e-admin-token-0123456789} \
E2E_ADMIN_TOKEN=${E2E_ADMIN_TOKEN:-e2e-admin-token-0123456789} \
DATA_DIR="$e2e_data" \
ALLOW_PRIVATE_UPSTREAMS=true \
DATABASE_URL="sqlite://$e2e_data/e2e.db" \
  cargo leptos end-to-end --release

step "all checks passed in $(( $(date +%s) - started )) s"
