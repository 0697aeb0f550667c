"""SMS Spam Collection, stratified 5-fold cross-validation of the feature/classifier configurations.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/sms_spam_cv.py
Writes benchmarks/results/sms_spam_cv.json and prints a Markdown table for BENCHMARKS.md.
"""
import json, platform, time
from pathlib import Path
import numpy as np
from sklearn.model_selection import StratifiedKFold
from agileml.config import RunConfig
from agileml.data import load_registry
from agileml.evaluate import metrics
from agileml.models import build_pipeline

CONFIGS = {
    "tfidf words 1-2 + linear_svc": dict(features="tfidf", model="linear_svc"),
    "tfidf words 1-2 + chars 2-5 + linear_svc": dict(features="tfidf", char_ngram_max=5, model="linear_svc"),
    "tfidf words 1-2 + chars 2-5 + logreg C=100": dict(features="tfidf", char_ngram_max=5, model="logreg", C=100),
    "bow words 1-2 + nb": dict(features="bow", model="nb", C=10),
    "word2vec (tfidf-pooled) + linear_svc": dict(features="word2vec", model="linear_svc"),
    "word2vec (mean-pooled) + logreg": dict(features="word2vec", w2v_pooling="mean", model="logreg", C=10),
    "tfidf+word2vec + linear_svc": dict(features="tfidf+word2vec", model="linear_svc"),
    "tfidf chars 2-5 + word2vec + linear_svc": dict(features="tfidf+word2vec", char_ngram_max=5, model="linear_svc"),
}


def cross_validate(ds, cfg, folds=5, seed=0):
    "Mean and std of each metric over stratified folds, and mean fit seconds."
    texts, labels = np.array(ds.texts, dtype=object), np.array(ds.labels)
    per_fold, fit_s = [], []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        pipe = build_pipeline(cfg)
        t0 = time.perf_counter(); pipe.fit(list(texts[tr]), labels[tr]); fit_s.append(time.perf_counter() - t0)
        per_fold.append(metrics(labels[te], pipe.predict(list(texts[te]))))
    out = {m: (float(np.mean([f[m] for f in per_fold])), float(np.std([f[m] for f in per_fold]))) for m in per_fold[0]}
    return dict(**out, fit_seconds=float(np.mean(fit_s)))


def main():
    ds = load_registry("sms_spam")
    results = {name: cross_validate(ds, RunConfig(dataset="sms_spam", **kw)) | {"params": kw} for name, kw in CONFIGS.items()}
    out = Path(__file__).parent / "results"; out.mkdir(exist_ok=True)
    meta = dict(machine=f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
                dataset_fingerprint=ds.fingerprint)
    (out / "sms_spam_cv.json").write_text(json.dumps(dict(meta=meta, results=results), indent=2))
    print(f"| configuration | accuracy | macro-F1 | MCC | fit s/fold |\n|---|---|---|---|---|")
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]["accuracy"][0]):
        cell = lambda m: f"{r[m][0]:.4f} ± {r[m][1]:.4f}"
        print(f"| {name} | {cell('accuracy')} | {cell('macro_f1')} | {cell('mcc')} | {r['fit_seconds']:.1f} |")


if __name__ == "__main__":
    main()
