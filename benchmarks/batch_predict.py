"""Batch scoring: `agileml predict`'s rows per second against the pipeline's own `predict` over the same rows, in one process.

Run alone: .venv/bin/python benchmarks/batch_predict.py [--rows 200000] [--formats csv,jsonl,parquet]
The SMS Spam texts, repeated to `--rows` rows, in each format; the default SMS model (tf-idf 1-2-grams, linear SVM)
trained on its training part. For each format: the seconds and rows/s of `predict_file` reading the file, scoring it in
batches of 1,000 and writing the same format, beside `pipeline.predict` on the texts already in memory. Writes
benchmarks/results/batch_predict.json. Run it from an older checkout too (it finds `predict_file` where that checkout
has it) to compare two versions on one machine, one after the other.
"""
import argparse, json, os, tempfile, time
from pathlib import Path
import pandas as pd
from measure import machine, save
from agileml.config import experiment_config
from agileml.catalog import load_registry
from agileml.data import split_dataset
from agileml.models import build_pipeline
from agileml.serve import ServedModel
try: from agileml.batch import predict_file
except ImportError: from agileml.serve import predict_file          # checkouts from before agileml.batch


def write_input(texts: list[str], fmt: str, folder: Path) -> Path:
    "`texts` with an id column as one file of format `fmt`."
    path, df = folder / f"in.{fmt}", pd.DataFrame({"id": range(len(texts)), "text": texts})
    if fmt == "jsonl": df.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "parquet": df.to_parquet(path)
    else: df.to_csv(path, sep="\t" if fmt == "tsv" else ",", index=False)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--formats", default="csv,jsonl,parquet")
    args = ap.parse_args()
    split = split_dataset(load_registry("sms_spam"), 0.2, seed=42)
    pipe = build_pipeline(experiment_config()).fit(split.X_train, split.y_train)
    model = ServedModel(pipe)
    texts = (split.X_test * (args.rows // len(split.X_test) + 1))[:args.rows]
    t = time.perf_counter(); pipe.predict(texts); own = time.perf_counter() - t
    results = dict(machine=machine(), load_average_before=os.getloadavg()[0], rows=args.rows,
                   pipeline_predict=dict(seconds=own, rows_per_s=args.rows / own), formats={})
    print(f"{args.rows:,} rows; pipeline.predict in memory: {own:6.2f} s, {args.rows / own:9,.0f} rows/s")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            if fmt == "parquet" and predict_file.__module__ == "agileml.serve": continue     # older checkouts read no Parquet
            source = write_input(texts, fmt, Path(tmp))
            t = time.perf_counter(); predict_file(model, source, Path(tmp) / f"out.{fmt}"); took = time.perf_counter() - t
            results["formats"][fmt] = dict(seconds=took, rows_per_s=args.rows / took, of_pipeline_predict=own / took)
            print(f"predict_file {fmt:<8} {took:6.2f} s, {args.rows / took:9,.0f} rows/s, {own / took:5.2f}x pipeline.predict")
    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average (1 min) {results['load_average_before']:.2f} -> {results['load_average_after']:.2f}")
    save("batch_predict", results)


if __name__ == "__main__":
    main()
