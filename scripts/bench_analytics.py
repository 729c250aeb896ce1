"""The Python side of scripts/bench-analytics.sh: times the peers on the reference data, runs
the Rust benchmark on the same files, and prints one Markdown table with both and the ratio."""

import argparse
import json
import statistics
import subprocess
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def median_ms(runs, f):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = f()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), result


MASK = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def is_test_row(i, seed, fraction):
    """The split documented in the README, as `analytics::metrics::is_test_row`."""
    return splitmix64(((seed << 32) ^ i) & MASK) / 2.0**64 < fraction


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--rust", required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    fx = args.fixtures

    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data
    from mlxtend.frequent_patterns import apriori, association_rules
    from mlxtend.preprocessing import TransactionEncoder
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    py = {}
    tx = pd.read_csv(f"{fx}/cdnow_transactions.csv", dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    summary = summary_data_from_transaction_data(
        tx, "customer_index", "date", monetary_value_col="amount", observation_period_end="1997-09-30", freq="D"
    )
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    py["bgnbd_ms"], bg = median_ms(5, lambda: BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"]))
    repeat = summary[summary.frequency > 0]
    py["gg_ms"], gg = median_ms(5, lambda: GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value))

    y = pd.read_csv(f"{fx}/AirPassengers.csv").passengers.values.astype(float)
    train, test = y[:132], y[132:]
    py["hw_ms"], hw = median_ms(
        5, lambda: ExponentialSmoothing(train, trend="add", seasonal="mul", seasonal_periods=12).fit()
    )
    py["mape"] = float(np.mean(np.abs((test - hw.forecast(12)) / test)) * 100)

    lines = pd.read_csv(f"{fx}/superstore_lines.csv")
    baskets = lines.groupby("order_id")["sub_category"].apply(lambda s: sorted(set(s))).tolist()

    def basket():
        encoder = TransactionEncoder()
        frame = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
        itemsets = apriori(frame, min_support=0.005, use_colnames=True)
        return itemsets, association_rules(itemsets, metric="confidence", min_threshold=0.0)

    py["basket_ms"], (itemsets, rules) = median_ms(11, basket)

    churn = pd.read_csv(f"{fx}/wa_churn.csv")
    held = np.array([is_test_row(i, 42, 0.2) for i in range(len(churn))])
    labels = (churn.churn == "Yes").values
    features = pd.get_dummies(churn.drop(columns="churn")).astype(float)

    def fit_churn():
        scaler = StandardScaler().fit(features[~held])
        model = LogisticRegression(max_iter=1000).fit(scaler.transform(features[~held]), labels[~held])
        return scaler, model

    py["churn_ms"], (scaler, model) = median_ms(5, fit_churn)
    py["auc"] = roc_auc_score(labels[held], model.predict_proba(scaler.transform(features[held]))[:, 1])

    out = subprocess.run([args.rust, fx, str(args.customers)], check=True, capture_output=True, text=True).stdout
    rs = {row["task"]: row for row in map(json.loads, out.strip().splitlines())}

    def row(name, ours, theirs, our_ms, their_ms):
        ratio = their_ms / our_ms
        shown = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"
        print(f"| {name} | {ours} | {theirs} | {our_ms:.2f} ms | {their_ms:.2f} ms | **{shown}×** |")

    print("| task (same input, one run) | Sightline result | Python peer result | Sightline time | peer time | speed-up |")
    print("|---|---|---|---|---|---|")
    c = rs["clv"]
    b = bg.params_
    row(
        "BG/NBD fit, CDNOW 2,357 customers (lifetimes)",
        f"r {c['r']:.4f} α {c['alpha']:.4f} a {c['a']:.4f} b {c['b']:.4f} LL {c['log_likelihood']:.1f}",
        f"r {b['r']:.4f} α {b['alpha']:.4f} a {b['a']:.4f} b {b['b']:.4f}",
        c["bgnbd_ms"], py["bgnbd_ms"],
    )
    g = gg.params_
    row(
        "Gamma-Gamma fit, 946 repeat buyers (lifetimes)",
        f"p {c['p']:.3f} q {c['q']:.3f} v {c['v']:.3f}",
        f"p {g['p']:.3f} q {g['q']:.3f} v {g['v']:.3f}",
        c["gamma_gamma_ms"], py["gg_ms"],
    )
    f = rs["forecast"]
    row(
        "Holt-Winters add. trend, mult. season, AirPassengers (statsmodels)",
        f"MAPE {f['mape']:.3f} %", f"MAPE {py['mape']:.3f} %", f["holt_winters_ms"], py["hw_ms"],
    )
    row(
        "Holt-Winters, model and season chosen automatically (4 fits)",
        f"MAPE {f['auto_mape']:.3f} %", f"MAPE {py['mape']:.3f} % (1 fit)", f["auto_ms"], py["hw_ms"],
    )
    k = rs["basket"]
    row(
        "Itemsets + all rules, superstore 5,009 baskets, support 0.005 (mlxtend apriori)",
        f"{k['itemsets']} itemsets, {k['rules']} rules", f"{len(itemsets)} itemsets, {len(rules)} rules",
        k["basket_ms"], py["basket_ms"],
    )
    h = rs["churn"]
    row(
        f"Logistic regression churn, wa_churn, {h['n_test']} held out (scikit-learn)",
        f"AUC {h['auc']:.4f}", f"AUC {py['auc']:.4f}", h["train_ms"], py["churn_ms"],
    )
    s = rs["synthetic"]
    print()
    print(f"Synthetic organization: {s['customers']:,} customers, {s['transactions']:,} purchases, scored end to end")
    print()
    print("| step | seconds |")
    print("|---|---|")
    for step, key in [("summarise transactions", "summarize_s"), ("fit BG/NBD + Gamma-Gamma", "fit_s"),
                      ("P(alive), expected purchases, CLV with 90 % intervals", "score_clv_with_intervals_s"),
                      ("RFM scores and segments", "rfm_s"), ("**total** (goal < 60 s)", "total_s")]:
        print(f"| {step} | {s[key]:.2f} |")


if __name__ == "__main__":
    main()
