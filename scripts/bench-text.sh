#!/usr/bin/env bash
# Text benchmarks, in one run:
# 1. the VADER port against Python vaderSentiment 3.3.2 on every Hutto text, both pinned to one
#    core: texts/s and the ratio (goal: ≥ 4×);
# 2. the sentiment scorers side by side on the held-out Hutto texts (every fifth of each
#    source): the model scorer batched on two cores, the lexicon head, the VADER port and Python
#    VADER on one core each — texts/s, accuracy and macro-F1 (goals: model ≥ 500 texts/s, model
#    accuracy above VADER's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_text_data
VENV="$TARGET_DIR/bench-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import vaderSentiment" 2>/dev/null || "$VENV/bin/pip" install --quiet vaderSentiment==3.3.2
cargo build --quiet --release -p text --example vader_throughput
cargo build --quiet --release -p embeddings --example sentiment_bench
HUTTO="$TEXT_DIR/hutto_ICWSM_2014"
rust=$(taskset -c 0 "$TARGET_DIR/release/examples/vader_throughput" "$HUTTO" 5)
scorers=$(taskset -c 0,1 "$TARGET_DIR/release/examples/sentiment_bench" "$TEXT_DIR" 2)
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
python_held_out=$(taskset -c 0 "$VENV/bin/python" - "$HUTTO" <<'PY'
import glob, json, sys, time
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
# The documented split: every fifth text of each source file (its texts 0, 5, 10, …).
texts, truth, amazon = [], [], []
for f in sorted(glob.glob(sys.argv[1] + "/*_GroundTruth.txt")):
    lines = [l[:-1] if l.endswith("\r") else l for l in open(f, encoding="utf-8", newline="").read().split("\n")]
    for k, line in enumerate(l for l in lines if l):
        if k % 5 == 0:
            _, rating, text = line.split("\t", 2)
            rating = float(rating)
            texts.append(text)
            truth.append("positive" if rating > 0.5 else "negative" if rating < -0.5 else "neutral")
            amazon.append("amazonReviewSnippets" in f)
a = SentimentIntensityAnalyzer()
t0 = time.perf_counter()
compounds = [a.polarity_scores(t)["compound"] for t in texts]
seconds = time.perf_counter() - t0
ours = ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compounds]
def scores(keep):
    pairs = [(t, o) for t, o, k in zip(truth, ours, keep) if k]
    accuracy = sum(t == o for t, o in pairs) / len(pairs)
    f1 = []
    for label in ("negative", "neutral", "positive"):
        tp = sum(t == label and o == label for t, o in pairs)
        fp = sum(t != label and o == label for t, o in pairs)
        fn = sum(t == label and o != label for t, o in pairs)
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return accuracy, sum(f1) / 3
(acc, f1), (a_acc, a_f1) = scores([True] * len(texts)), scores(amazon)
print(json.dumps({"texts": len(texts), "texts_per_s": len(texts) / seconds, "accuracy": acc, "macro_f1": f1,
                  "amazon_accuracy": a_acc, "amazon_macro_f1": a_f1}))
PY
)
python3 - "$rust" "$python" "$scorers" "$python_held_out" <<'PY'
import json, sys
rust, python = json.loads(sys.argv[1]), float(sys.argv[2])
scorers, py = json.loads(sys.argv[3]), json.loads(sys.argv[4])
print("| scorer (one core, all 23,703 Hutto texts) | texts/s | vs Python VADER |")
print("|---|---|---|")
print(f"| Python vaderSentiment 3.3.2 | {python:,.0f} | 1.0× |")
print(f"| Rust VADER port | {rust['vader_texts_per_s']:,.0f} | {rust['vader_texts_per_s'] / python:.1f}× |")
print(f"| Rust lexicon head (VADER + softmax) | {rust['lexicon_head_texts_per_s']:,.0f} | {rust['lexicon_head_texts_per_s'] / python:.1f}× |")
print()
print(f"| held-out Hutto texts ({scorers['texts']:,}; Amazon {scorers['amazon_texts']}) | cores | texts/s | accuracy | macro-F1 | Amazon accuracy | Amazon macro-F1 |")
print("|---|---|---|---|---|---|---|")
rows = [("model scorer (3-layer int8 MiniLM + head, batched)", scorers["threads"], scorers["model"]),
        ("lexicon scorer (VADER features + head)", 1, scorers["lexicon"]),
        ("Rust VADER port (±0.05)", 1, scorers["vader"]),
        ("Python vaderSentiment 3.3.2 (±0.05)", 1, py)]
for name, cores, r in rows:
    print(f"| {name} | {cores} | {r['texts_per_s']:,.0f} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['amazon_accuracy']:.3f} | {r['amazon_macro_f1']:.3f} |")
print(f"\nmodel vs Python VADER: {scorers['model']['texts_per_s'] / py['texts_per_s']:.3f}× the texts/s, "
      f"{scorers['model']['accuracy'] - py['accuracy']:+.3f} accuracy; lexicon {scorers['lexicon']['texts_per_s'] / py['texts_per_s']:.1f}× the texts/s")
PY
