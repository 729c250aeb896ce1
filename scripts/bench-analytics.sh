#!/usr/bin/env bash
# Analytics side by side with the Python libraries analysts use (issue: analytics core):
# lifetimes (BG/NBD, Gamma-Gamma), statsmodels (Holt-Winters), mlxtend (apriori + rules) and
# scikit-learn (logistic regression) on the same reference data in one run, with each result,
# its time (median of repeated runs) and the ratio; then a synthetic organization of
# BENCH_CUSTOMERS customers (default 1,000,000) scored end to end.
#
#   scripts/bench-analytics.sh
#   BENCH_CUSTOMERS=200000 scripts/bench-analytics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

VENV="$TARGET_DIR/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import lifetimes, statsmodels, mlxtend, sklearn" 2>/dev/null; then
  say "creating the Python environment for the peers ($VENV)"
  python3 -m venv "$VENV"
  # lifetimes 0.11.3 imports pkg_resources, which setuptools 81 removed.
  "$VENV/bin/pip" install --quiet "setuptools<81" lifetimes statsmodels mlxtend scikit-learn pandas
fi
say "building the analytics benchmark (release)"
cargo build --quiet --release -p analytics --example bench
"$VENV/bin/python" scripts/bench_analytics.py \
  --fixtures crates/analytics/tests/fixtures \
  --rust "$TARGET_DIR/release/examples/bench" \
  --customers "${BENCH_CUSTOMERS:-1000000}"
