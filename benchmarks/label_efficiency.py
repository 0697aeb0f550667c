"""How many labels the curator's queue order saves: a simulated curation on 20 Newsgroups (bydate) and IMDB, agileml's
`uncertainty` order and `random` against a plain scikit-learn margin loop (the textbook version, written out below).

Run alone, on a quiet machine: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/label_efficiency.py
    [--seeds 3] [--budget 6000] [--corpora 20newsgroups,imdb]
The pool is the published training part, scored on the published test part. Features: tf-idf of words and word pairs
(sublinear tf, min_df 2), fitted once on the pool's texts (no labels) and shared by every method; classifier:
LinearSVC (C=1), as agileml's default pipeline. Each simulation starts from the same seed of 100 labelled texts
(random, per seed), asks its order for the next batch of 100 unlabelled texts, reveals their true labels as a curator
would, refits, and repeats until `--budget` labels. Orders:
- agileml uncertainty: the texts the model is least sure of, by `agileml.decisions.uncertainty` (the margin between a
  text's two best scores, what the service logs with each decision and the queue sorts by);
- agileml random: a random draw per text, as the queue's `random` order and its control arm draw;
- plain margin loop: the textbook uncertainty sampling with scikit-learn alone (`plain_margins`): the distance to the
  hyperplane for two classes, the gap between the two largest decision values otherwise.
Reported per corpus, as the mean over seeds: the accuracy of the full pool, the labels each order needs to reach 95%,
98% and 99% of it (the budget + 1 batch when it never does), and the area under the learning curve (accuracy against
labels, divided by the labels spanned). Writes benchmarks/results/label_efficiency.json and label_efficiency.png.
"""
import argparse, json, os, time
import numpy as np
from measure import RESULTS, machine, save

SEED_LABELS, BATCH, TARGETS = 100, 100, (0.95, 0.98, 0.99)


def corpus(name):
    "Pool texts and labels (the published training part), test texts and labels."
    from agileml.catalog import load_registry
    ds = load_registry(name)
    part = lambda p: ([t for t, s in zip(ds.texts, ds.split) if s == p], np.array([l for l, s in zip(ds.labels, ds.split) if s == p]))
    return part("train"), part("test")


def plain_margins(scores: np.ndarray) -> np.ndarray:
    "The textbook margin: |w.x + b| for two classes, the gap between the two best decision values for more."
    if scores.ndim == 1: return np.abs(scores)
    top = np.sort(scores, axis=1)
    return top[:, -1] - top[:, -2]


def agileml_uncertainty(scores: np.ndarray, classes) -> np.ndarray:
    "What the service logs for each decision and the queue sorts by, from the same per-class scores it serves."
    from agileml.decisions import uncertainty
    rows = np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
    return np.array([uncertainty(dict(zip(classes, r))) for r in rows])


def simulate(X, y, X_test, y_test, order: str, seed: int, budget: int) -> list[tuple[int, float]]:
    "(labels used, test accuracy) after each batch, from the seed to the budget."
    from sklearn.svm import LinearSVC
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(y), bool)
    labelled[rng.choice(len(y), SEED_LABELS, replace=False)] = True
    draw = rng.random(len(y))                     # the random order's draw, per text
    curve = []
    while True:
        clf = LinearSVC(C=1.0).fit(X[labelled], y[labelled])
        curve.append((int(labelled.sum()), float((clf.predict(X_test) == y_test).mean())))
        if labelled.sum() >= budget: return curve
        rest = np.flatnonzero(~labelled)
        if order == "random": key = draw[rest]
        else:
            scores = clf.decision_function(X[rest])
            key = plain_margins(scores) if order == "plain margin loop" else agileml_uncertainty(scores, [str(c) for c in clf.classes_])
        labelled[rest[np.argsort(key, kind="stable")[:BATCH]]] = True


def needed(curve, target: float, budget: int) -> int:
    "The labels at which the curve first reaches `target`; the budget plus a batch when it never does."
    return next((n for n, acc in curve if acc >= target), budget + BATCH)


def area(curve) -> float:
    "Area under accuracy against labels, divided by the labels spanned: the mean accuracy along the way."
    n, acc = np.array([c[0] for c in curve]), np.array([c[1] for c in curve])
    return float(np.trapezoid(acc, n) / (n[-1] - n[0]))


ORDERS = ("agileml uncertainty", "agileml random", "plain margin loop")


def run_corpus(name: str, seeds: int, budget: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC
    (pool, y), (test, y_test) = corpus(name)
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2).fit(pool)
    X, X_test = vec.transform(pool), vec.transform(test)
    full = float((LinearSVC(C=1.0).fit(X, y).predict(X_test) == y_test).mean())
    curves = {o: [simulate(X, y, X_test, y_test, o, s, budget) for s in range(seeds)] for o in ORDERS}
    out = dict(pool=len(y), test=len(y_test), full_pool_accuracy=full, curves=curves)
    for o in ORDERS:
        out[o] = dict(**{f"labels_to_{int(t * 100)}": float(np.mean([needed(c, t * full, budget) for c in curves[o]])) for t in TARGETS},
                      area=float(np.mean([area(c) for c in curves[o]])))
    return out


def report(r):
    print(f"{r['machine']}; seeds {r['seeds']}, seed {SEED_LABELS} labels, batches of {BATCH}, budget {r['budget']}; "
          f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}, {r['seconds']:.0f} s")
    for name in r["corpora"]:
        c = r[name]
        print(f"\n{name}: pool {c['pool']}, test {c['test']}, full-pool accuracy {c['full_pool_accuracy']:.4f}")
        print(f"{'order':<22}" + "".join(f"{f'labels to {int(t * 100)}%':>16}" for t in TARGETS) + f"{'area':>8}")
        for o in ORDERS:
            print(f"{o:<22}" + "".join(f"{c[o][f'labels_to_{int(t * 100)}']:>16.0f}" for t in TARGETS) + f"{c[o]['area']:>8.4f}")
        print(f"{'uncertainty / random':<22}" + "".join(f"{c['agileml uncertainty'][f'labels_to_{int(t * 100)}'] / c['agileml random'][f'labels_to_{int(t * 100)}']:>16.2f}" for t in TARGETS))


def figure(r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(r["corpora"]), figsize=(6 * len(r["corpora"]), 4), squeeze=False)
    for ax, name in zip(axes[0], r["corpora"]):
        for o in ORDERS:
            curves = r[name]["curves"][o]
            n = [p[0] for p in curves[0]]
            ax.plot(n, np.mean([[p[1] for p in c] for c in curves], axis=0), label=o)
        ax.axhline(0.99 * r[name]["full_pool_accuracy"], color="grey", linestyle="--", label="99% of the full pool's accuracy")
        ax.set(title=name, xlabel="labels used", ylabel="test accuracy (mean over seeds)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "label_efficiency.png", dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=6000)
    ap.add_argument("--corpora", default="20newsgroups,imdb")
    a = ap.parse_args()
    started, load_before = time.time(), os.getloadavg()
    names = a.corpora.split(",")
    r = dict(machine=machine(), seeds=a.seeds, budget=a.budget, corpora=names, load_before=load_before)
    for name in names: r[name] = run_corpus(name, a.seeds, a.budget)
    r.update(load_after=os.getloadavg(), seconds=time.time() - started)
    save("label_efficiency", r)
    figure(r)
    report(r)


if __name__ == "__main__":
    main()
