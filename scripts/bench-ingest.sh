#!/usr/bin/env bash
# Ingest throughput (issue: ingestion): the same synthetic interactions loaded by COPY (the
# baseline) and by the batch REST API with concurrent clients, on one fresh database, with
# the ratio. Release build.
#
#   scripts/bench-ingest.sh                          # 200,000 rows each way, 4 clients
#   BENCH_ROWS=1000000 BENCH_CLIENTS=8 scripts/bench-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_postgres
say "building the server and the benchmark (release)"
cargo build --quiet --release -p server --bin sightline --example bench_ingest
bin="$TARGET_DIR/release/sightline"

db="sightline_bench_ingest_$$"
admin_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
psql_url="${admin_url%/*}/postgres"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp)"
DATABASE_URL="${admin_url%/*}/$db" SIGHTLINE_ADDR="127.0.0.1:$port" SIGHTLINE_LOG_FORMAT=json RUST_LOG=warn \
  SIGHTLINE_RATE_LIMIT_USER_PER_MINUTE=100000000 SIGHTLINE_RATE_LIMIT_KEY_PER_MINUTE=100000000 \
  SIGHTLINE_SITE_ROOT="$TARGET_DIR/site" "$bin" serve >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  psql "$psql_url" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done

BENCH_URL="http://127.0.0.1:$port" BENCH_DATABASE_URL="${admin_url%/*}/$db" \
  "$TARGET_DIR/release/examples/bench_ingest"
