"""How fit time and peak memory grow with the training data: 10%, 25%, 50% and 100% of IMDB train.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/scaling.py
For tf-idf (words 1-2) and word2vec (5 epochs), each + linear_svc, each fit in a fresh process on a
seeded stratified sample of the 25,000 training reviews. Writes benchmarks/results/scaling.json and
benchmarks/results/scaling.png (also copied to docs/scaling.png) and prints a Markdown table.
"""
import math, shutil, time
from pathlib import Path
from measure import RESULTS, isolated, machine, peak_mib, reset_peak, save

FRACTIONS = (0.10, 0.25, 0.50, 1.00)
FEATURES = {"tfidf": dict(features="tfidf", model="linear_svc"),
            "word2vec": dict(features="word2vec", w2v_epochs=5, model="linear_svc")}


def fit_sample(params: dict, fraction: float) -> dict:
    "Fit the configuration on `fraction` of IMDB train; seconds and peak MiB of the fit."
    from sklearn.model_selection import train_test_split
    from agileml.config import experiment_config
    from agileml.catalog import load_dataset
    from agileml.data import split_dataset
    from agileml.models import build_pipeline
    s = split_dataset(load_dataset("imdb"))
    X, y = s.X_train, s.y_train
    if fraction < 1: X, _, y, _ = train_test_split(X, y, train_size=fraction, stratify=y, random_state=0)
    pipe = build_pipeline(experiment_config(dataset="imdb", **params))
    reset_peak()
    t0 = time.perf_counter(); pipe.fit(X, y)
    return dict(docs=len(X), fit_seconds=time.perf_counter() - t0, peak_mib=peak_mib())


def growth(rows: list[dict], key: str) -> float:
    "The exponent b in key ~ docs^b between the smallest and the largest sample (1 means linear)."
    a, z = rows[0], rows[-1]
    return math.log(z[key] / a[key]) / math.log(z["docs"] / a["docs"])


def plot(results: dict, path: Path):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, rows in results.items():
        docs = [r["docs"] for r in rows]
        axes[0].plot(docs, [r["fit_seconds"] for r in rows], "o-", label=name)
        axes[1].plot(docs, [r["peak_mib"] for r in rows], "o-", label=name)
    for ax, what in zip(axes, ("fit seconds", "peak memory, MiB")):
        ax.set_xlabel("training reviews"); ax.set_ylabel(what); ax.set_xlim(left=0); ax.set_ylim(bottom=0); ax.grid(alpha=.3); ax.legend()
    fig.suptitle("IMDB: cost of fitting against training-set size (linear_svc)")
    fig.tight_layout(); fig.savefig(path, dpi=110)


def main():
    results = {name: [isolated(fit_sample, params, f) for f in FRACTIONS] for name, params in FEATURES.items()}
    save("scaling", dict(machine=machine(), results=results))
    plot(results, RESULTS / "scaling.png")
    docs_png = Path(__file__).parent.parent / "docs" / "scaling.png"
    docs_png.parent.mkdir(exist_ok=True); shutil.copy(RESULTS / "scaling.png", docs_png)
    print("| features | share | reviews | fit s | s per 1,000 reviews | peak MiB |\n|---|---|---|---|---|---|")
    for name, rows in results.items():
        for f, r in zip(FRACTIONS, rows):
            print(f"| {name} | {f:.0%} | {r['docs']:,} | {r['fit_seconds']:.1f} | {1000 * r['fit_seconds'] / r['docs']:.2f} | {r['peak_mib']:,.0f} |")
    for name, rows in results.items():
        print(f"{name}: fit time grows as reviews^{growth(rows, 'fit_seconds'):.2f}, peak memory as reviews^{growth(rows, 'peak_mib'):.2f}")


if __name__ == "__main__":
    main()
