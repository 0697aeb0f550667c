"""Suspected label errors: how many of cleanlab's flags are labels flipped on purpose, and how many flipped labels it flags.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/label_errors.py [--share 0.05] [--seed 0] [--C 10]
SMS Spam (its seeded training part) and 20 Newsgroups (its published training part): `--share` of the training labels
flipped at random (seeded) to another class; `agileml.review` scores every training row out of fold (5 folds, the
default tf-idf features, a logistic regression of C = `--C`, agileml.review's REVIEW_C by default) and flags rows with cleanlab's `find_label_issues`; precision = flagged
rows that were flipped / flagged rows, recall = flipped rows flagged / flipped rows. Issue 35's floor: precision >= 0.6 and
recall >= 0.5 on both. Writes benchmarks/results/label_errors.json.
"""
import argparse, os, time
import numpy as np
from measure import machine, save


def flipped_labels(labels: list[str], share: float, seed: int) -> tuple[list[str], set[int]]:
    "The labels with `share` of them changed to another class at random; and which rows were changed."
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels))
    rows = set(rng.choice(len(labels), int(len(labels) * share), replace=False).tolist())
    return [rng.choice([c for c in classes if c != l]) if i in rows else l for i, l in enumerate(labels)], rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--share", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--C", type=float, default=None, help="the logistic regression's C (default: agileml.review.REVIEW_C)")
    args = ap.parse_args()
    from agileml.catalog import load_registry
    from agileml.config import experiment_config
    from agileml.data import Split, split_dataset
    from agileml.models import build_pipeline
    from agileml.review import REVIEW_C, label_issues, out_of_fold_probabilities
    C = REVIEW_C if args.C is None else args.C
    results = dict(machine=machine(), load_average_before=os.getloadavg()[0], share=args.share, seed=args.seed, C=C, corpora={})
    for name in ("sms_spam", "20newsgroups"):
        split = split_dataset(load_registry(name), 0.2, seed=42)
        noisy, rows = flipped_labels([str(l) for l in split.y_train], args.share, args.seed)
        started = time.perf_counter()
        p, classes, y = out_of_fold_probabilities(Split(split.X_train, [], noisy, [], published=False),
                                                  build_pipeline(experiment_config())[:-1], C=C)
        flags = label_issues(split.X_train, y, p, classes)
        took = time.perf_counter() - started
        hits = len(set(flags.row) & rows)
        r = results["corpora"][name] = dict(training_rows=len(noisy), flipped=len(rows), flagged=len(flags), flipped_flagged=hits,
                                            precision=hits / max(len(flags), 1), recall=hits / len(rows), seconds=took)
        print(f"{name:<13} {r['training_rows']:6,} rows, {r['flipped']:5,} flipped: {r['flagged']:5,} flagged, precision "
              f"{r['precision']:.2f}, recall {r['recall']:.2f} ({took:.0f} s)")
    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average (1 min) {results['load_average_before']:.2f} -> {results['load_average_after']:.2f}")
    save("label_errors", results)


if __name__ == "__main__":
    main()
