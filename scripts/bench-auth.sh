#!/usr/bin/env bash
# Authentication cost (issue: identity; SPEC AUTH-5 / NFR): sequential sign-in latency, and
# an authenticated `GET /api/v1/me` under 64 concurrent connections, each printed next to an
# unauthenticated `GET /health` measured in the same run on the same server as the baseline.
#
#   scripts/bench-auth.sh            # release build; needs PostgreSQL (DATABASE_URL or local)
#   LOGINS=200 DURATION=10 scripts/bench-auth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

LOGINS="${LOGINS:-200}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"

ensure_postgres
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl

say "building the server (release)"
cargo build --quiet --release -p server --bin sightline
start_bench_server
base="$BENCH_BASE"

password="a long and unusual passphrase"
session="$(curl -fs -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$password\",\"organization\":\"Bench\"}" \
  "$base/api/v1/auth/register")"
token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$session")"

# Sequential: one request at a time, wall time per request as curl measures it.
timed() { # url [curl args...] -> one line per request, seconds
  local url="$1"; shift
  for _ in $(seq "$LOGINS"); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"; done
}
stats() { python3 -c '
import sys, statistics
xs = sorted(float(x) * 1000 for x in sys.stdin if x.strip())
p95 = xs[int(0.95 * (len(xs) - 1))]
print(f"{statistics.median(xs):.2f} {p95:.2f}")'; }

say "sign-in: $LOGINS sequential requests (and /health as the baseline)"
read -r health_p50 health_p95 < <(timed "$base/health" | stats)
read -r login_p50 login_p95 < <(timed "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$password\"}" | stats)

say "GET /api/v1/me vs /health: ${CONNECTIONS} connections, ${DURATION}s each"
wrk_run() { # url [header] -> "req/s p50_ms p99_ms"
  local out threads=$(( CONNECTIONS < 2 ? 1 : 2 ))
  if [ $# -gt 1 ]; then out="$(wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "$2" "$1")"
  else out="$(wrk -t"$threads" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")"; fi
  python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
if non2xx: sys.exit(f"{non2xx.group(1)} requests failed")
p50, p99 = ms("50%"), ms("99%")
print(f"{rps:.0f} {p50:.2f} {p99:.2f}")' <<<"$out"
}
read -r health_rps health_c50 health_c99 < <(wrk_run "$base/health")
read -r me_rps me_c50 me_c99 < <(wrk_run "$base/api/v1/me" "Authorization: Bearer $token")

cores="$(nproc)"
cat <<EOF

Authentication benchmark ($cores cores, release build, PostgreSQL $(psql "$BENCH_PSQL_URL" -Atc 'show server_version' 2>/dev/null | cut -d' ' -f1))

| measurement                          | Sightline            | baseline: GET /health | ratio   |
|--------------------------------------|----------------------|-----------------------|---------|
| sign-in, sequential, median          | ${login_p50} ms      | ${health_p50} ms      | $(python3 -c "print(f'{$login_p50/$health_p50:.0f}x')") |
| sign-in, sequential, p95             | ${login_p95} ms      | ${health_p95} ms      | $(python3 -c "print(f'{$login_p95/$health_p95:.0f}x')") |
| GET /me, ${CONNECTIONS} connections, req/s      | ${me_rps}            | ${health_rps}         | $(python3 -c "print(f'{$me_rps/$health_rps:.2f}')") |
| GET /me, ${CONNECTIONS} connections, p50        | ${me_c50} ms         | ${health_c50} ms      | +$(python3 -c "print(f'{$me_c50-$health_c50:.2f}')") ms |
| GET /me, ${CONNECTIONS} connections, p99        | ${me_c99} ms         | ${health_c99} ms      | +$(python3 -c "print(f'{$me_c99-$health_c99:.2f}')") ms |

Sign-in is dominated by argon2id (OWASP parameters) by design. Goal: authentication plus the
tenant transaction add < 1 ms at the median of a single request; see the single-connection
figures below.
EOF

say "single connection: GET /me vs /health, ${DURATION}s each"
CONNECTIONS=1
read -r h1_rps h1_p50 h1_p99 < <(wrk_run "$base/health")
read -r m1_rps m1_p50 m1_p99 < <(wrk_run "$base/api/v1/me" "Authorization: Bearer $token")
cat <<EOF

| 1 connection                         | GET /me              | GET /health           | added   |
|--------------------------------------|----------------------|-----------------------|---------|
| p50                                  | ${m1_p50} ms         | ${h1_p50} ms          | +$(python3 -c "print(f'{$m1_p50-$h1_p50:.2f}')") ms |
| p99                                  | ${m1_p99} ms         | ${h1_p99} ms          | +$(python3 -c "print(f'{$m1_p99-$h1_p99:.2f}')") ms |
| req/s                                | ${m1_rps}            | ${h1_rps}             |         |
EOF
