#!/usr/bin/env bash
# `make test`: every check CI runs, from a fresh clone. Installs what is missing, makes sure
# PostgreSQL and Redis answer, then: formatting, clippy (server and WASM), the release WASM
# bundle, and unit, integration (real Postgres) and browser (headless Chromium) tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_rust_tools
ensure_node_packages
ensure_chromium
ensure_text_data
# sqlx::test makes one fresh database per test from this administrative URL.
SIGHTLINE_DB_NAME=postgres ensure_postgres
ensure_redis
export DATABASE_URL REDIS_URL

say "checking formatting"
cargo fmt --all -- --check

# `frontend` is left out of host builds: building it with the server would switch on both
# `ssr` and `hydrate` in `app` (cargo unifies features), which is neither real build.
say "clippy (server side, all targets)"
cargo clippy --quiet --workspace --exclude frontend --all-targets -- -D warnings
say "clippy and check build of app for wasm32 with hydrate"
cargo clippy --quiet -p app -p frontend --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

"$ROOT/scripts/build-site.sh" release
export SIGHTLINE_SITE_ROOT="$TARGET_DIR/site"

say "building the server binary for the browser tests"
cargo build --quiet -p server --bin sightline
export SIGHTLINE_BIN="$TARGET_DIR/debug/sightline"

say "running unit, integration and browser tests"
cargo nextest run --workspace --exclude frontend --no-fail-fast "$@"
