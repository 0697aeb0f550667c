"""How many labels the curator's queue order saves: a simulated curation on 20 Newsgroups (bydate) and IMDB, agileml's
`uncertainty` order and `random` (agileml.simulation, what `agileml simulate` runs) against a plain scikit-learn margin
loop (the textbook version, written out below), in the same run on the same features.

Run alone, on a quiet machine: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/label_efficiency.py
    [--seeds 3] [--budget 20newsgroups=6000,imdb=15000] [--corpora 20newsgroups,imdb]
(one corpus a process, as `--corpora imdb --budget 15000`, writes label_efficiency_imdb.json: two can run side by side)
The pool is the published training part, scored on the published test part. Features: agileml's default pipeline
(tf-idf of words and word pairs), fitted once on the pool's texts (no labels) and shared by every method; classifier:
agileml's default LinearSVC (C=1, max_iter 5000, seeded), the same for every method. Each simulation starts from the same seed of 100 labelled texts (random, per seed),
asks its order for the next batch of 100 unlabelled texts, reveals their true labels as a curator would, refits, and
repeats until `--budget` labels (one number, or one per corpus: the budget must let random reach 99% of the full
pool, or nothing can be said at 99%). The plain loop: the distance to the hyperplane for two classes, the gap between the two
largest decision values otherwise, smallest first. Reported per corpus, as the mean over seeds: the accuracy of the full
pool, the labels each order needs to reach 95%, 98% and 99% of it (empty when a seed never does within the budget), and
the area under the learning curve. Writes benchmarks/results/label_efficiency.json and label_efficiency.png.
"""
import argparse, os, time
import numpy as np
import pandas as pd
from measure import RESULTS, machine, save

SEED_LABELS, BATCH = 100, 100
DEFAULT_CORPORA = "20newsgroups,imdb"
AGILEML_ORDERS, PLAIN = ("uncertainty", "random"), "plain margin loop"


def plain_margin_loop(X, y, X_test, y_test, classifier, seed: int, budget: int) -> list[tuple[int, float]]:
    """The textbook uncertainty sampling with scikit-learn alone, from the same seed of labelled texts as agileml's and with
    the same classifier (cloned each round), so the orders are all that differ. (Fitted with scikit-learn's default
    LinearSVC instead, max_iter 1000 against agileml's 5000 and another seed, it needed up to 400 labels more or fewer
    per seed on IMDB than agileml's order, whose ranking is the same for two classes: a comparison of solvers.)"""
    from sklearn.base import clone
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(y), bool)
    labelled[rng.choice(len(y), SEED_LABELS, replace=False)] = True
    curve = []
    while True:
        clf = clone(classifier).fit(X[labelled], y[labelled])
        curve.append((int(labelled.sum()), float((clf.predict(X_test) == y_test).mean())))
        if labelled.sum() >= budget: return curve
        rest = np.flatnonzero(~labelled)
        scores = clf.decision_function(X[rest])
        margin = np.abs(scores) if scores.ndim == 1 else np.diff(np.sort(scores, axis=1)[:, -2:], axis=1)[:, 0]
        labelled[rest[np.argsort(margin, kind="stable")[:BATCH]]] = True


def run_corpus(name: str, seeds: int, budget: int):
    from agileml.catalog import load_registry
    from agileml.config import experiment_config
    from agileml.data import split_dataset
    from agileml.simulation import Simulation, curation_pool, learning_curve
    p = curation_pool(split_dataset(load_registry(name)), experiment_config())
    X, y, X_test, y_test, full = p.X, p.y, p.X_test, p.y_test, p.full_accuracy
    rows = [dict(order=o, seed=s, labels=n, accuracy=a) for o in AGILEML_ORDERS for s in range(seeds)
            for n, a in learning_curve(X, y, X_test, y_test, p.classifier, o, s, SEED_LABELS, BATCH, budget)]
    rows += [dict(order=PLAIN, seed=s, labels=n, accuracy=a) for s in range(seeds) for n, a in plain_margin_loop(X, y, X_test, y_test, p.classifier, s, budget)]
    sim = Simulation(pd.DataFrame(rows), full)
    return sim, dict(pool=len(y), test=len(y_test), full_pool_accuracy=full, summary=sim.summary.reset_index(names="order").to_dict("records"),
                     over_random={f"{o} at {t}": v for (o, t), v in sim.ratios().items()},
                     curves=sim.curves.to_dict("list"))


def report(r):
    print(f"{r['machine']}; seeds {r['seeds']}, seed {SEED_LABELS} labels, batches of {BATCH}, budgets {r['budget']}; "
          f"load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}, {r['seconds']:.0f} s")
    for name in r["corpora"]:
        c = r[name]
        print(f"\n{name}: pool {c['pool']}, test {c['test']}, full-pool accuracy {c['full_pool_accuracy']:.4f}")
        table = pd.DataFrame(c["summary"]).set_index("order")
        print(table.to_string(float_format=lambda v: f"{v:.4f}" if v < 1 else f"{v:,.0f}", na_rep="not reached"))
        print("labels needed over random's: " + ", ".join(f"{k} {v:.2f}" for k, v in c["over_random"].items() if v == v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", default="20newsgroups=6000,imdb=15000", help="labels: N, or CORPUS=N,CORPUS=N")
    ap.add_argument("--corpora", default=DEFAULT_CORPORA, help="one corpus writes its own results file, so two can run side by side")
    a = ap.parse_args()
    started, load_before = time.time(), os.getloadavg()
    names = a.corpora.split(",")
    budgets = {k: int(v) for k, v in (b.split("=") for b in a.budget.split(","))} if "=" in a.budget else dict.fromkeys(names, int(a.budget))
    r = dict(machine=machine(), seeds=a.seeds, budget=budgets, corpora=names, load_before=load_before)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figures = []
    for name in names:
        sim, r[name] = run_corpus(name, a.seeds, budgets[name])
        figures.append(sim.figure(name))
    r.update(load_after=os.getloadavg(), seconds=time.time() - started)
    save("label_efficiency" + ("" if a.corpora == DEFAULT_CORPORA else "_" + "_".join(names)), r)
    for name, fig in zip(names, figures): fig.savefig(RESULTS / f"label_efficiency_{name}.png", dpi=90)
    plt.close("all")
    report(r)


if __name__ == "__main__":
    main()
