#!/usr/bin/env bash
# Dashboard and live-update benchmark (issue: live dashboard): seeds one organization with the
# demo generator on a fresh database, gives every text a score (synthetic, so no scoring
# worker competes for the cores during the measurements), starts the release server and runs
# server/examples/bench_dashboard.rs. Release build.
#
#   scripts/bench-dashboard.sh                       # 17,000 customers ≈ 2 M interactions
#   BENCH_CUSTOMERS=85000 scripts/bench-dashboard.sh # ≈ 10 M interactions
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_postgres
say "building the server and the benchmark (release)"
cargo build --quiet --release -p server --bin sightline --example bench_dashboard
admin_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db_url="${admin_url%/*}/sightline_bench_$$"
customers="${BENCH_CUSTOMERS:-17000}"

say "generating the demo organization ($customers customers)"
seed_started=$(date +%s.%N)
DATABASE_URL="$db_url" RUST_LOG=warn "$TARGET_DIR/release/sightline" seed-demo --customers "$customers" --replace
seed_seconds=$(awk -v a="$seed_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
say "seeded in ${seed_seconds} s (rollup, gap and live-event triggers on)"
say "scoring every text (synthetic scores, set-based)"
psql "$db_url" -q <<'SQL'
insert into ml_models (name, version, kind) values ('bench', '1', 'sentiment') on conflict do nothing;
insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label, positive, neutral,
                         negative, confidence, scorer, model_name, model_version)
select org_id, 'interaction', id, customer_id, occurred_at, channel,
       case when h < 0.3 then 'negative' when h < 0.5 then 'neutral' else 'positive' end,
       case when h < 0.3 then 0.1 when h < 0.5 then 0.3 else 0.8 end, 0.1,
       case when h < 0.3 then 0.8 when h < 0.5 then 0.6 else 0.1 end, 0.8, 'lexicon', 'bench', '1'
from (select *, (abs(hashtext(id::text)) % 1000) / 1000.0 as h from interactions where content is not null) i;
-- Synthetic RFM segments (a tenth of the customers each), for the segment-filtered views.
insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency, monetary,
                             r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
                             expected_purchases_low, expected_purchases_high, churn_probability, churn_band,
                             churn_method)
select org_id, id, now(), 'bench', 1, 1, 1, 3, 3, 3,
       (array['champions', 'loyal_customers', 'potential_loyalists', 'new_customers', 'promising',
              'need_attention', 'about_to_sleep', 'at_risk', 'cant_lose_them', 'hibernating'])
           [1 + abs(hashtext(id::text)) % 10],
       90, 0.5, 1, 0, 2, 0.2, 'low', 'p_alive'
from customers
on conflict (org_id, customer_id) do nothing;
-- As a scoring run does once it has stored its scores (migration 0025).
select count_category_score_cells(id) from organizations;
delete from scoring_queue;
-- The new segments are logged as moves; fold them now rather than in the first timed request.
select fold_rollups(id, null) from organizations;
delete from live_events;
vacuum analyze;
SQL

# 5,000 clients need file descriptors on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BENCH_DB="sightline_bench_$$"
start_bench_server
BENCH_URL="$BENCH_BASE" BENCH_DATABASE_URL="$BENCH_DB_URL" BENCH_SERVER_PID="$BENCH_SERVER" \
  "$TARGET_DIR/release/examples/bench_dashboard"

# Cold caches: before each measurement Postgres restarts (empty shared buffers) and the
# kernel drops its page cache, so every page is read from disk. Needs root and a Debian
# cluster (pg_ctlcluster); skipped otherwise. BENCH_COLD_RUNS samples per row (default 5).
cluster="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
if [ "$(id -u)" = 0 ] && [ -n "$cluster" ] && [ -w /proc/sys/vm/drop_caches ]; then
  say "cold-cache runs (Postgres restarted and the page cache dropped before each)"
  echo
  echo "| request | range | cold runs | cold p50 (ms) | cold max (ms) |"
  echo "|---|---|---|---|---|"
  for what in dashboard raw; do
    for days in 30 365; do
      samples=()
      for _ in $(seq "${BENCH_COLD_RUNS:-5}"); do
        kill "$BENCH_SERVER" 2>/dev/null || true
        wait "$BENCH_SERVER" 2>/dev/null || true
        pg_ctlcluster --skip-systemctl-redirect "$cluster" main restart
        sync && echo 3 >/proc/sys/vm/drop_caches
        start_bench_server
        samples+=("$(BENCH_URL="$BENCH_BASE" BENCH_DATABASE_URL="$BENCH_DB_URL" BENCH_COLD_STEP="$what:$days" \
          "$TARGET_DIR/release/examples/bench_dashboard")")
      done
      printf '%s\n' "${samples[@]}" | sort -n | awk -v what="$what" -v days="$days" \
        '{ v[NR] = $1 } END { label = (what == "dashboard") ? "GET /api/v1/dashboard" : "same figures, raw SQL";
           printf "| %s | %s days | %d | %.1f | %.1f |\n", label, days, NR, v[int((NR + 1) / 2)], v[NR] }'
    done
  done
fi
