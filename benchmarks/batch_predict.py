"""Batch scoring: `agileml predict`'s rows per second against the pipeline's own `predict`, its peak memory as the file grows,
and a local Dask cluster of 2 workers against one process.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/batch_predict.py [--rows 1000000] [--small 100000]
The default SMS model (tf-idf words 1-2, linear SVM) trained on SMS Spam's seeded training part and saved as a model folder;
its 1,115 test texts repeated to `--rows` rows (and `--small` rows) with an `id` column, as CSV, JSONL and Parquet. Each
measurement runs in a fresh process, so its peak memory (ru_maxrss) is its own:
- `pipeline.predict` over the texts already in memory (reading them is not timed);
- `predict_file` reading each file, scoring it in batches of 5,000 (the default) through the compiled scorer and writing the same format;
- `predict_file` on a local Dask cluster of 2 worker processes: started before the clock (a running cluster, its workers
  loading the model on first use), and started inside the timed call as `--workers 2` does.
`pipeline.predict`, each format in one process and the running cluster are measured twice, alternating, and the faster of
each counts (this VM's speed drifts by 20% within minutes). Writes benchmarks/results/batch_predict.json.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import pandas as pd
from measure import machine, save

CHILD = """
import json, sys, time
from pathlib import Path
folder, task, source, output = sys.argv[1:5]
from agileml.model_file import MODEL_FILE, read_model
from agileml.serve import ServedModel
model = ServedModel(read_model(Path(folder) / MODEL_FILE), info=dict(source=folder))
if task == "pipeline":
    import pandas as pd
    texts = pd.read_csv(source, dtype=str, keep_default_na=False)["text"].tolist()
    started = time.perf_counter(); model.pipeline.predict(texts)
else:
    from agileml.batch import Cluster, predict_file
    cluster = Cluster(workers=2) if task == "dask" else None
    if task == "dask-running":          # a cluster already running: started before the clock, its workers not yet used
        from distributed import LocalCluster
        running = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        cluster = Cluster(address=running.scheduler_address)
    started = time.perf_counter()
    predict_file(model, source, output, cluster=cluster)
took = time.perf_counter() - started
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))   # since exec: ru_maxrss keeps the parent's
print(json.dumps(dict(seconds=took, peak_mib=peak / 1024)))
"""


def child(folder: Path, task: str, source: Path, output: Path) -> dict:
    "One measurement in a fresh process: seconds and peak memory."
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), task, str(source), str(output)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def inputs(texts: list[str], rows: int, folder: Path, formats) -> dict:
    "`texts` repeated to `rows` rows with an id column, one file per format."
    df = pd.DataFrame({"id": range(rows), "text": (texts * (rows // len(texts) + 1))[:rows]})
    paths = {}
    for fmt in formats:
        paths[fmt] = folder / f"in-{rows}.{fmt}"
        if fmt == "jsonl": df.to_json(paths[fmt], orient="records", lines=True, force_ascii=False)
        elif fmt == "parquet": df.to_parquet(paths[fmt])
        else: df.to_csv(paths[fmt], index=False)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000)
    args = ap.parse_args()
    import skops.io
    from agileml.catalog import load_registry
    from agileml.config import experiment_config
    from agileml.data import split_dataset
    from agileml.model_file import MODEL_FILE
    from agileml.models import build_pipeline
    split = split_dataset(load_registry("sms_spam"), 0.2, seed=42)
    results = dict(machine=machine(), load_average_before=os.getloadavg()[0], rows=args.rows, small=args.small)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        skops.io.dump(build_pipeline(experiment_config()).fit(split.X_train, split.y_train), tmp / MODEL_FILE)
        big, small = inputs(split.X_test, args.rows, tmp, ("csv", "jsonl", "parquet")), inputs(split.X_test, args.small, tmp, ("csv",))
        results["load_average_measured_from"] = os.getloadavg()[0]
        measured = [("pipeline", "pipeline", "csv"), ("one", "one", "csv"), ("jsonl", "one", "jsonl"), ("parquet", "one", "parquet"),
                    ("dask-running", "dask-running", "csv")]          # (name, task, input format)
        rounds = [{name: child(tmp, task, big[fmt], tmp / f"{name}.{fmt}") for name, task, fmt in measured} for _ in range(2)]
        best = {name: min((r[name] for r in rounds), key=lambda m: m["seconds"]) for name in rounds[0]}
        results["rounds"] = rounds
        own = results["pipeline_predict"] = best["pipeline"]
        print(f"{args.rows:,} rows; pipeline.predict in memory {own['seconds']:6.2f} s, {args.rows / own['seconds']:9,.0f} rows/s")
        results["formats"] = {}
        for fmt in big:
            r = results["formats"][fmt] = best["one" if fmt == "csv" else fmt]
            r.update(rows_per_s=args.rows / r["seconds"], of_pipeline_predict=own["seconds"] / r["seconds"])
            print(f"predict_file {fmt:<8} {r['seconds']:6.2f} s, {r['rows_per_s']:9,.0f} rows/s, {r['of_pipeline_predict']:5.2f}x "
                  f"pipeline.predict; peak {r['peak_mib']:6.0f} MiB")
        r = results["small_csv"] = child(tmp, "one", small["csv"], tmp / "small.csv")
        results["peak_memory_ratio"] = results["formats"]["csv"]["peak_mib"] / r["peak_mib"]
        print(f"peak memory, CSV: {r['peak_mib']:.0f} MiB at {args.small:,} rows, {results['formats']['csv']['peak_mib']:.0f} MiB at "
              f"{args.rows:,}: {results['peak_memory_ratio']:.2f}x")
        one = results["formats"]["csv"]["seconds"]
        results["dask-running"], results["dask"] = best["dask-running"], child(tmp, "dask", big["csv"], tmp / "dask.csv")
        for task, how in (("dask-running", "a running local Dask cluster of 2 workers"),
                          ("dask", "--workers 2: a local Dask cluster of 2 workers started in the call")):
            d = results[task]
            d.update(rows_per_s=args.rows / d["seconds"], of_one_process=one / d["seconds"])
            assert (tmp / f"{task}.csv").read_bytes() == (tmp / "one.csv").read_bytes(), "the cluster wrote another file"
            print(f"predict_file csv, {how}: {d['seconds']:6.2f} s, {d['rows_per_s']:9,.0f} rows/s, {d['of_one_process']:.2f}x "
                  "one process; the same file")
    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average (1 min) {results['load_average_before']:.2f} -> {results['load_average_after']:.2f}")
    save("batch_predict", results)


if __name__ == "__main__":
    main()
