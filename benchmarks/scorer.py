"""The compiled scorer against the pipeline it is compiled from, in process, on the SMS test texts.

Run alone: .venv/bin/python benchmarks/scorer.py
For the default configuration (word 1-2-grams) and the production one (with char n-grams 2-5), both with a linear
SVM: the largest difference between the scores, single texts per second (each test text once) and documents per
second in one batch. Writes benchmarks/results/scorer.json.
"""
import os, time
import numpy as np
from measure import machine, save
from agileml.config import experiment_config
from agileml.catalog import load_registry
from agileml.data import split_dataset
from agileml.models import LinearTextScorer, build_pipeline

CONFIGS = {"default (words 1-2)": {}, "production (words 1-2, chars 2-5)": dict(char_ngram_max=5)}


def rates(score, texts) -> dict:
    "Single texts per second (each text once) and documents per second in one call."
    t = time.perf_counter()
    for text in texts: score([text])
    single = len(texts) / (time.perf_counter() - t)
    t = time.perf_counter(); score(texts)
    return dict(single_per_s=single, batch_docs_per_s=len(texts) / (time.perf_counter() - t))


def main():
    s = split_dataset(load_registry("sms_spam"), 0.2, seed=42)
    results = dict(machine=machine(), load_average=os.getloadavg()[0], test_texts=len(s.X_test))
    for name, params in CONFIGS.items():
        pipe = build_pipeline(experiment_config(model="linear_svc", **params)).fit(s.X_train, s.y_train)
        scorer = LinearTextScorer.compile(pipe)
        gap = float(np.abs(scorer.scores(s.X_test) - pipe.decision_function(s.X_test)).max())
        results[name] = dict(max_abs_difference=gap, pipeline=rates(pipe.decision_function, s.X_test), scorer=rates(scorer.scores, s.X_test))
        r = results[name]
        print(f"{name}: largest difference {gap:.1e}; single texts/s pipeline {r['pipeline']['single_per_s']:.0f}, "
              f"scorer {r['scorer']['single_per_s']:.0f} ({r['scorer']['single_per_s'] / r['pipeline']['single_per_s']:.1f}x); "
              f"batch docs/s pipeline {r['pipeline']['batch_docs_per_s']:.0f}, scorer {r['scorer']['batch_docs_per_s']:.0f}")
    save("scorer", results)


if __name__ == "__main__":
    main()
