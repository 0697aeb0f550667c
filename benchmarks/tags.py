"""Tag suggestion on two public multi-label corpora: Reuters-21578 (ModApte, 90 topics) and Debian's package descriptions
with their Debtags (benchmarks/debtags_corpus.py builds it). For each, the pipelines `agileml train` fits for tags (its
defaults, and variations), their tag metrics and fit time, against:
- the same classifiers deciding each tag at score > 0 (no calibration, no tuned thresholds);
- the same pipeline with Platt scaling for every tag (agileml's calibration before isotonic, `isotonic_from` unreachable);
- a plain one-vs-rest logistic regression (scikit-learn's defaults on the default tf-idf) with each tag's threshold tuned
  for F1 on a validation part (a fifth of the training part), the textbook way;
- the non-ML baselines (most frequent tags, per-tag keyword rules).

    AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/tags.py [--corpora reuters21578,debtags]

Reuters' split is ModApte; the Debian corpus has none, so it is agileml's (20% held out, seed 42). Writes
benchmarks/results/tags.json.
"""
import argparse, json, os, time
from pathlib import Path
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from agileml.catalog import load_registry
from agileml.config import experiment_config
from agileml.data import load_file, split_dataset
from agileml.evaluate import baseline_metrics, calibration_error, tag_matrix, tag_metrics, top1
from agileml.models import build_pipeline
from agileml.features import TOKEN_PATTERN

CONFIGS = {
    "agileml defaults (tfidf words 1, min_df 2 + linear_svc)": dict(),
    "defaults, Platt scaling for every tag": dict(isotonic_from=10 ** 9),
    "logreg C=10": dict(model="logreg", C=10.0),
    "tfidf words 1-2, min_df 1 (the labels' defaults)": dict(ngram_max=2, min_df=1),
}


def corpus(name: str):
    if name == "debtags":
        from debtags_corpus import build
        return split_dataset(load_file(build()))
    return split_dataset(load_registry(name))


def measure(split, params: dict) -> dict:
    "Fit the tag pipeline `agileml train` builds for `params` and score it on the test part."
    params = dict(params)
    isotonic_from = params.pop("isotonic_from", None)
    pipe = build_pipeline(experiment_config(**params), multilabel=True)
    if isotonic_from: pipe.set_params(classifier__isotonic_from=isotonic_from)
    started = time.perf_counter()
    pipe.fit(split.X_train, split.y_train)
    fit = time.perf_counter() - started
    classes = list(pipe.classes_)
    scores = tag_metrics(split.y_test, pipe.predict(split.X_test), pipe.predict_proba(split.X_test), classes)
    default = pipe.decision_function(split.X_test) > 0                      # the same classifiers, untuned thresholds
    truth = tag_matrix(split.y_test, classes)
    return dict(scores, fit_seconds=fit, default_threshold_micro_f1=float(f1_score(truth, default, average="micro")),
                default_threshold_macro_f1=float(f1_score(truth, default, average="macro", zero_division=0)))


def plain_one_vs_rest(split) -> dict:
    "One-vs-rest logistic regression on tf-idf, each tag's threshold tuned for F1 on a validation part of the training part."
    classes = sorted({t for ts in split.y_train for t in ts})
    X_fit, X_val, Y_fit, Y_val = train_test_split(list(split.X_train), tag_matrix(split.y_train, classes), test_size=0.2,
                                                  random_state=0)
    started = time.perf_counter()
    vec = TfidfVectorizer(sublinear_tf=True, token_pattern=TOKEN_PATTERN).fit(X_fit)
    clf = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(vec.transform(X_fit), Y_fit)
    p_val, grid = clf.predict_proba(vec.transform(X_val)), np.linspace(0.05, 0.95, 19)
    thresholds = np.array([grid[np.argmax([f1_score(Y_val[:, j], p_val[:, j] >= g, zero_division=0) for g in grid])]
                           for j in range(len(classes))])
    fit = time.perf_counter() - started
    T, probs = tag_matrix(split.y_test, classes), clf.predict_proba(vec.transform(split.X_test))
    f1 = lambda avg: float(f1_score(T, probs >= thresholds, average=avg, zero_division=0))
    return dict(micro_f1=f1("micro"), macro_f1=f1("macro"), ece_top1=calibration_error(*top1(T, probs)), fit_seconds=fit)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", default="reuters21578,debtags")
    results = {"load_average_start": os.getloadavg()[0]}
    for name in ap.parse_args().corpora.split(","):
        split = corpus(name)
        results[name] = out = {"train": len(split.X_train), "test": len(split.X_test)}
        for label, params in CONFIGS.items():
            if name == "debtags" and "labels' defaults" in label: continue      # bigrams: 11 min there, measured once below
            out[label] = measure(split, params)
            print(name, label, {k: round(v, 4) for k, v in out[label].items()}, flush=True)
        out["plain one-vs-rest logreg, thresholds on a validation part"] = plain_one_vs_rest(split)
        print(name, "plain", out["plain one-vs-rest logreg, thresholds on a validation part"], flush=True)
        first = out[next(iter(CONFIGS))]
        out["baselines"] = baseline_metrics(split, first, sorted({t for ts in split.y_train for t in ts}))[1]
        print(name, "baselines", out["baselines"], flush=True)
    results["load_average_end"] = os.getloadavg()[0]
    folder = Path(__file__).parent / "results"; folder.mkdir(exist_ok=True)
    (folder / "tags.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
