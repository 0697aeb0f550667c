"""Tag suggestion on Reuters-21578 (ModApte, 90 topics): the pipelines `agileml train` fits for tags, their tag metrics,
fit time, and the non-ML baselines, against a plain one-vs-rest LinearSVC with its default thresholds (score > 0).

    AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/tags.py
"""
import json, os, time
from pathlib import Path
import numpy as np
from sklearn.metrics import f1_score
from agileml.config import experiment_config
from agileml.catalog import load_registry
from agileml.data import split_dataset
from agileml.evaluate import baseline_metrics, tag_matrix, tag_metrics
from agileml.models import build_pipeline

CONFIGS = {
    "tfidf words 1 (min_df 2) + linear_svc": dict(ngram_max=1, min_df=2, model="linear_svc"),
    "tfidf words 1-2 + linear_svc": dict(ngram_max=2, model="linear_svc"),
    "tfidf words 1 (min_df 2) + logreg C=10": dict(ngram_max=1, min_df=2, model="logreg", C=10.0),
}


def measure(split, params: dict) -> dict:
    "Fit the tag pipeline `agileml train` builds for `params` and score it on the test part."
    pipe = build_pipeline(experiment_config(dataset="reuters21578", **params), multilabel=True)
    started = time.perf_counter()
    pipe.fit(split.X_train, split.y_train)
    fit = time.perf_counter() - started
    classes = list(pipe.classes_)
    scores = tag_metrics(split.y_test, pipe.predict(split.X_test), pipe.predict_proba(split.X_test), classes)
    default = pipe.decision_function(split.X_test) > 0                      # the same classifiers, untuned thresholds
    truth = tag_matrix(split.y_test, classes)
    return dict(scores, fit_seconds=fit, default_threshold_micro_f1=float(f1_score(truth, default, average="micro")),
                default_threshold_macro_f1=float(f1_score(truth, default, average="macro")))


def main():
    split = split_dataset(load_registry("reuters21578"))
    results = {"load_average": os.getloadavg()[0], "train": len(split.X_train), "test": len(split.X_test)}
    for name, params in CONFIGS.items():
        results[name] = measure(split, params)
        print(name, {k: round(v, 4) for k, v in results[name].items()}, flush=True)
    first = results[next(iter(CONFIGS))]
    results["baselines"] = baseline_metrics(split, first, list(sorted({t for ts in split.y_train for t in ts})))[1]
    print("baselines", results["baselines"])
    out = Path(__file__).parent / "results"; out.mkdir(exist_ok=True)
    (out / "tags.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
