#!/usr/bin/env bash
# `make run`: from a fresh clone to a running Sightline with a demo organization.
# Installs what is missing, finds or starts PostgreSQL, builds the release binary and bundle,
# seeds the demo data, serves, and prints the URL and the demo login.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_rust_tools
ensure_node_packages
ensure_text_data
ensure_postgres

"$ROOT/scripts/build-site.sh" release
say "building the server (release)"
cargo build --quiet --release -p server --bin sightline

export SIGHTLINE_SITE_ROOT="${SIGHTLINE_SITE_ROOT:-$TARGET_DIR/site}"
addr="${SIGHTLINE_ADDR:-127.0.0.1:3000}"
# Served over plain http on this machine: session cookies cannot be HTTPS-only here.
export SIGHTLINE_SECURE_COOKIES="${SIGHTLINE_SECURE_COOKIES:-false}"
bin="$TARGET_DIR/release/sightline"

"$bin" seed-demo

"$bin" serve &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
for _ in $(seq 1 120); do
  curl -fsS "http://$addr/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || die "the server stopped during start-up (see the log above)"
  sleep 0.5
done

cat <<MSG

  Sightline is running at http://$addr
  Demo login:  demo@sightline.local  /  ${SIGHTLINE_DEMO_PASSWORD:-demo-insights-2026}
               (organization: demo)
  Health:      http://$addr/health   Readiness: http://$addr/ready
  Press Ctrl-C to stop.

MSG
wait $server
