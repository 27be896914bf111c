# Sourced, from the repository root, by the build scripts and the Dockerfile: the project's own
# tools (.tools/bin, filled by install-tools.sh) come first on PATH, so cargo-leptos runs the
# pinned wasm-opt rather than any other one.
PATH="$PWD/.tools/bin:$PATH"
export PATH
