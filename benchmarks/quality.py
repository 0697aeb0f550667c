"""Quality and cost of the text-to-numbers configurations on the three shared datasets.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/quality.py [DATASET ...]
(default: sms_spam 20newsgroups imdb). Every configuration is an experiment_config built by
agileml.models.build_pipeline, the pipeline `agileml train` fits, measured in a fresh process:
accuracy, macro-F1, MCC, fit seconds, predict documents/s, peak memory. The SMS Spam Collection has
no published split: stratified 5-fold cross-validation (mean ± std). 20 Newsgroups (bydate, headers
kept) and IMDB use their published train/test splits. Writes benchmarks/results/quality.json and
prints Markdown tables for BENCHMARKS.md.
"""
import json, sys, time
import numpy as np
from measure import RESULTS, isolated, machine, peak_mib, reset_peak, save

def shared(**w2v) -> dict:
    "The three configurations every dataset gets: tf-idf, word2vec and both, each with a linear SVM."
    return {"tfidf (words 1-2) + linear_svc": dict(features="tfidf", model="linear_svc"),
            "word2vec + linear_svc": dict(features="word2vec", model="linear_svc", **w2v),
            "tfidf+word2vec + linear_svc": dict(features="tfidf+word2vec", model="linear_svc", **w2v)}

BIG = dict(w2v_epochs=5)      # word2vec passes on the two big corpora: 20 would take 4x as long
CONFIGS = {
    "sms_spam": shared() | {
        "bow (words 1-2) + nb (the simple baseline)": dict(features="bow", model="nb", C=10),
        "best: tfidf words 1-2 + chars 2-5 + linear_svc": dict(features="tfidf", char_ngram_max=5, model="linear_svc")},
    "20newsgroups": shared(**BIG) | {
        "binary (words 1-3) + nbsvm C=0.1": dict(features="binary", ngram_max=3, model="nbsvm", C=0.1),
        "best: tfidf words 1-2 + chars 2-5 + linear_svc": dict(features="tfidf", char_ngram_max=5, model="linear_svc")},
    "imdb": shared(**BIG) | {
        "tfidf (words 1-3) + logreg C=30": dict(features="tfidf", ngram_max=3, model="logreg", C=30),
        "best: binary (words 1-3) + nbsvm C=0.1": dict(features="binary", ngram_max=3, model="nbsvm", C=0.1)},
}
LITERATURE = {
    "sms_spam": "Almeida et al. 2011 (SVM): accuracy about 0.976, MCC about 0.89",
    "20newsgroups": "tf-idf + linear SVM, bydate, headers kept: commonly about 0.85",
    "imdb": "Maas et al. 2011: 0.889; NBSVM with uni+bigrams (Wang & Manning 2012): 0.912",
}
FLOORS = {"sms_spam": dict(accuracy=0.992, mcc=0.965), "20newsgroups": dict(accuracy=0.875), "imdb": dict(accuracy=0.915)}


def fit_and_score(pipe, X_train, y_train, X_test, y_test) -> dict:
    "Fit, predict and score one pipeline; seconds, documents/s and peak MiB of the fit and prediction."
    from agileml.evaluate import metrics
    reset_peak()
    t0 = time.perf_counter(); pipe.fit(X_train, y_train); fit = time.perf_counter() - t0
    t0 = time.perf_counter(); pred = pipe.predict(X_test); predict = time.perf_counter() - t0
    return dict(metrics(y_test, pred), fit_seconds=fit, predict_docs_per_s=len(X_test) / predict, peak_mib=peak_mib())


def evaluate(dataset: str, params: dict) -> dict:
    "One configuration on one dataset: the published split, or stratified 5-fold CV where there is none."
    from sklearn.model_selection import StratifiedKFold
    from agileml.config import experiment_config
    from agileml.catalog import load_dataset
    from agileml.data import split_dataset
    from agileml.models import build_pipeline
    ds, cfg = load_dataset(dataset), experiment_config(dataset=dataset, **params)
    if ds.split:
        s = split_dataset(ds)
        return fit_and_score(build_pipeline(cfg), s.X_train, s.y_train, s.X_test, s.y_test)
    texts, labels = np.array(ds.texts, dtype=object), np.array(ds.labels)
    folds = [fit_and_score(build_pipeline(cfg), list(texts[tr]), labels[tr], list(texts[te]), labels[te])
             for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, labels)]
    return {k: float(np.mean([f[k] for f in folds])) for k in folds[0]} | \
           {f"{k}_std": float(np.std([f[k] for f in folds])) for k in ("accuracy", "macro_f1", "mcc")} | \
           {"peak_mib": max(f["peak_mib"] for f in folds)}


def table(dataset: str, results: dict) -> str:
    "A Markdown table of one dataset's results, best accuracy first."
    cv = "accuracy_std" in next(iter(results.values()))
    score = lambda r, m: f"{r[m]:.4f} ± {r[m + '_std']:.4f}" if cv else f"{r[m]:.4f}"
    lines = [f"| configuration | accuracy | macro-F1 | MCC | fit s{'/fold' if cv else ''} | predict docs/s | peak MiB |",
             "|---|---|---|---|---|---|---|"]
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]["accuracy"]):
        lines.append(f"| {name} | {score(r, 'accuracy')} | {score(r, 'macro_f1')} | {score(r, 'mcc')} | {r['fit_seconds']:.1f} "
                     f"| {r['predict_docs_per_s']:,.0f} | {r['peak_mib']:,.0f} |")
    return "\n".join(lines)


def floor_verdict(dataset: str, results: dict) -> str:
    "Whether the best configuration reaches the floors, with its fit time (which must be under 3 minutes)."
    name = next(n for n in results if n.startswith("best"))
    r = results[name]
    ok = all(r[m] >= v for m, v in FLOORS[dataset].items()) and r["fit_seconds"] < 180
    got = ", ".join(f"{m} {r[m]:.4f} (floor {v})" for m, v in FLOORS[dataset].items())
    return f"{name}: {got}, fit {r['fit_seconds']:.0f} s (limit 180 s): {'reached' if ok else 'NOT reached'}"


def main(datasets):
    path = RESULTS / "quality.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}     # a run over some datasets keeps the others' results
    for dataset in datasets:
        results = {}
        for name, params in CONFIGS[dataset].items():
            results[name] = isolated(evaluate, dataset, params) | {"params": params}
            print(f"{dataset} / {name}: accuracy {results[name]['accuracy']:.4f}, fit {results[name]['fit_seconds']:.1f} s", file=sys.stderr)
        saved[dataset] = dict(machine=machine(), literature=LITERATURE[dataset], results=results)
        save("quality", saved)
        print(f"\n### {dataset}\n\n{table(dataset, results)}\n\nLiterature: {LITERATURE[dataset]}\n\n{floor_verdict(dataset, results)}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(CONFIGS))
