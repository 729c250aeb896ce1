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
start_bench_server
BENCH_URL="$BENCH_BASE" BENCH_DATABASE_URL="$BENCH_DB_URL" "$TARGET_DIR/release/examples/bench_ingest"
