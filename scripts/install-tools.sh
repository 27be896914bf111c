#!/usr/bin/env bash
# Installs what building (and, with --test, testing) AutoRouter needs, skipping whatever is
# already present at the right version. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=versions.env
. scripts/versions.env
WANT_TEST=0
WANT_RELEASE=0
WANT_BENCH=0
for arg in "$@"; do
  case "$arg" in
    --test) WANT_TEST=1; WANT_RELEASE=1 ;; # the browser tests run the release build
    --release) WANT_RELEASE=1 ;;
    --bench) WANT_BENCH=1 ;;
    *) echo "install-tools: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
APT_UPDATED=0
apt_install() {
  if ! have apt-get; then
    echo "install-tools: please install these packages with your package manager: $*" >&2
    exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have cargo || { echo "install-tools: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }

# 1. The WebAssembly target for the hydration bundle.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos. Its locked dependencies need a newer compiler than stable 1.95, so it is
#    built with nightly (installed minimally if missing).
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes on 2 cores)"
  if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
  fi
  cargo +nightly install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# 3. wasm-bindgen-cli at exactly the version in Cargo.lock (cargo-leptos cannot download one).
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WBG_VERSION" ]; then
  say "installing wasm-bindgen-cli $WBG_VERSION"
  cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi

# 4. wasm-opt shrinks the release bundle. cargo-leptos runs the first wasm-opt on PATH (and
#    cannot download one here). Debian's binaryen (108) is too old for this toolchain's
#    WebAssembly: the bundle it writes fails with "WebAssembly.Table.set(): Argument 1 is invalid
#    for table" and never hydrates. So npm's binaryen, pinned, goes into .tools/, and
#    scripts/tools-env.sh puts .tools/bin first on PATH.
if [ "$WANT_RELEASE" = 1 ] && [ "$(.tools/bin/wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm into .tools/"
  if ! have npm; then
    apt_install nodejs npm
  fi
  rm -rf .tools/binaryen .tools/bin/wasm-opt
  mkdir -p .tools/binaryen .tools/bin
  npm install --prefix .tools/binaryen --no-audit --no-fund --no-save --loglevel=error "binaryen@$BINARYEN_VERSION"
  ln -s ../binaryen/node_modules/binaryen/bin/wasm-opt .tools/bin/wasm-opt
  .tools/bin/wasm-opt --version
fi

# 4b. wrk, the load generator the benchmark reports throughput with.
if [ "$WANT_BENCH" = 1 ] && ! have wrk; then
  say "installing wrk"
  apt_install wrk
fi

# 4c. nginx, the bare reverse proxy the benchmark measures the gateway against (the floor). The
#     benchmark writes its own configuration and starts its own nginx in a temporary directory;
#     the system's configuration and service are left alone.
if [ "$WANT_BENCH" = 1 ] && ! have nginx && [ ! -x /usr/sbin/nginx ]; then
  say "installing nginx"
  apt_install nginx
fi

if [ "$WANT_TEST" = 1 ]; then
  # 5. Chromium for the browser tests (Playwright drives Debian's build; it never downloads one).
  CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
  if [ ! -x "$CHROMIUM_PATH" ]; then
    say "installing chromium"
    apt_install chromium
  fi
  # CJK fonts, so screenshots of the Chinese UI show characters rather than boxes.
  if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    say "installing CJK fonts"
    apt_install fonts-noto-cjk
  fi
  # 6. The official OpenAI, Anthropic and Google Python SDKs, pinned, for the SDK compatibility test.
  if [ "$(cat .venv-sdk/pins 2>/dev/null)" != "$SDK_PINS" ] || ! .venv-sdk/bin/python -c "import openai, anthropic, google.genai" 2>/dev/null; then
    say "installing the OpenAI, Anthropic and Google Python SDKs into .venv-sdk"
    if ! have python3 || ! python3 -c "import ensurepip" 2>/dev/null; then
      apt_install python3 python3-venv
    fi
    rm -rf .venv-sdk
    python3 -m venv .venv-sdk
    # shellcheck disable=SC2086
    .venv-sdk/bin/pip install --quiet --disable-pip-version-check $SDK_PINS
    printf '%s' "$SDK_PINS" > .venv-sdk/pins
  fi
  # 7. Node.js and the end2end packages.
  if ! have npm; then
    say "installing nodejs and npm"
    apt_install nodejs npm
  fi
  if [ ! -f end2end/node_modules/.package-lock.json ] || ! cmp -s end2end/package-lock.json end2end/node_modules/.installed-lock; then
    say "installing end2end npm packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp end2end/package-lock.json end2end/node_modules/.installed-lock
  fi
  # 8. Claude Code and Codex CLI, pinned, for the agents tests (about 800 MB: each is a native
  #    binary in a platform package). They run without network; the tests keep them local.
  AGENT_PINS="@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION @openai/codex@$CODEX_VERSION"
  AGENTS_BIN=.tools/agents/node_modules/.bin
  if [ "$(cat .tools/agents/pins 2>/dev/null)" != "$AGENT_PINS" ] \
    || [ "$("$AGENTS_BIN/claude" --version 2>/dev/null | awk '{print $1}')" != "$CLAUDE_CODE_VERSION" ] \
    || [ "$("$AGENTS_BIN/codex" --version 2>/dev/null | awk '{print $2}')" != "$CODEX_VERSION" ]; then
    say "installing Claude Code $CLAUDE_CODE_VERSION and Codex CLI $CODEX_VERSION into .tools/agents"
    rm -rf .tools/agents
    mkdir -p .tools/agents
    # shellcheck disable=SC2086
    npm install --prefix .tools/agents --no-audit --no-fund --no-save --loglevel=error $AGENT_PINS
    "$AGENTS_BIN/claude" --version
    "$AGENTS_BIN/codex" --version
    printf '%s' "$AGENT_PINS" > .tools/agents/pins
  fi
fi
