#!/usr/bin/env bash
# Text benchmarks: the VADER port against Python vaderSentiment 3.3.2 on every Hutto text,
# both pinned to one core, in one run. Prints texts/s and the ratio (goal: ≥ 4×).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_text_data
VENV="$TARGET_DIR/bench-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import vaderSentiment" 2>/dev/null || "$VENV/bin/pip" install --quiet vaderSentiment==3.3.2
cargo build --quiet --release -p text --example vader_throughput
HUTTO="$TEXT_DIR/hutto_ICWSM_2014"
rust=$(taskset -c 0 "$TARGET_DIR/release/examples/vader_throughput" "$HUTTO" 5)
python=$(taskset -c 0 "$VENV/bin/python" - "$HUTTO" <<'PY'
import glob, sys, time
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
texts = []
for f in sorted(glob.glob(sys.argv[1] + "/*_GroundTruth.txt")):
    for line in open(f, encoding="utf-8", newline="").read().split("\n"):
        line = line[:-1] if line.endswith("\r") else line
        if line:
            texts.append(line.split("\t", 2)[2])
a = SentimentIntensityAnalyzer()
best = min(
    (lambda t0: (sum(a.polarity_scores(t)["compound"] for t in texts), time.perf_counter() - t0)[1])(time.perf_counter())
    for _ in range(3))
print(len(texts) / best)
PY
)
python3 - "$rust" "$python" <<'PY'
import json, sys
rust, python = json.loads(sys.argv[1]), float(sys.argv[2])
print("| scorer (one core, all 23,703 Hutto texts) | texts/s | vs Python VADER |")
print("|---|---|---|")
print(f"| Python vaderSentiment 3.3.2 | {python:,.0f} | 1.0× |")
print(f"| Rust VADER port | {rust['vader_texts_per_s']:,.0f} | {rust['vader_texts_per_s'] / python:.1f}× |")
print(f"| Rust lexicon head (VADER + softmax) | {rust['lexicon_head_texts_per_s']:,.0f} | {rust['lexicon_head_texts_per_s'] / python:.1f}× |")
PY
