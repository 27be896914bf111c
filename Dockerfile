# syntax=docker/dockerfile:1
# Multi-stage build: cargo-leptos builds the release server and the WASM bundle; the runtime
# image holds only the binary and target/site, the same layout ./scripts/run.sh serves.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The same tools at the same versions as a local build: install-tools.sh reads
# scripts/versions.env (cargo-leptos, binaryen's wasm-opt) and Cargo.lock (wasm-bindgen-cli).
COPY Cargo.toml Cargo.lock ./
COPY scripts/install-tools.sh scripts/versions.env scripts/tools-env.sh ./scripts/
RUN ./scripts/install-tools.sh --release \
 && rm -rf /var/lib/apt/lists/* "$CARGO_HOME/registry/cache"
COPY .cargo ./.cargo
COPY build.rs ./
COPY src ./src
COPY style ./style
COPY public ./public
COPY locales ./locales
COPY migrations ./migrations
RUN . scripts/tools-env.sh && cargo leptos build --release

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin autorouter \
 && mkdir -p /app/data \
 && chown -R autorouter:autorouter /app
WORKDIR /app
COPY --from=build /src/target/release/autorouter /app/autorouter
COPY --from=build /src/target/site /app/site
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data \
    LEPTOS_SITE_ROOT=/app/site \
    LOG_JSON=true
USER autorouter
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/api/health || exit 1
CMD ["/app/autorouter"]
