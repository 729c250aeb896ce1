# Sightline container image. Docker cannot run on the development machines of this project,
# so this file is kept correct by reading; it mirrors scripts/build-site.sh and `make build`.

# ---- builder: Rust with the wasm target, wasm-bindgen, npm's binaryen (wasm-opt), esbuild (charts) and zopfli ----
FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm zopfli \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
# wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock.
COPY Cargo.toml Cargo.lock ./
RUN cargo install wasm-bindgen-cli --version \
      "$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
COPY package.json package-lock.json ./
# esbuild finds its platform binary in an optional dependency, so optional ones stay.
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/build-site.sh release \
 && cargo build --release -p server --bin sightline

# ---- runtime: the binary and the built site, as a non-root user ----
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app sightline
WORKDIR /app
COPY --from=builder /src/target/release/sightline /app/sightline
COPY --from=builder /src/target/site /app/site
ENV SIGHTLINE_ADDR=0.0.0.0:3000 \
    SIGHTLINE_SITE_ROOT=/app/site \
    SIGHTLINE_LOG_FORMAT=json
USER sightline
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/health || exit 1
ENTRYPOINT ["/app/sightline"]
CMD ["serve"]
