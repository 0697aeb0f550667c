"""Why a 2-worker Dask cluster scores a file less than twice as fast as one process: how much a second CPU-bound process
slows the first on this machine, and how busy the workers are against the process that reads and writes.

Run alone, on a quiet machine: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/batch_cluster.py [--rows 1000000]
- two processes: a regex loop alone, then two copies at once (seconds each; two rounds);
- the default SMS model on `--rows` short texts as CSV (as batch_predict.py makes them): `predict_file` in this process,
  then on a running local cluster of 2 workers (threads 1 each) with 20,000 or 50,000 rows a task and 4 or 8 tasks in
  flight per worker, two rounds: wall seconds, this process's CPU seconds, and the seconds the workers spent computing
  (Dask's task stream).
Writes benchmarks/results/batch_cluster.json.
"""
import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path
from measure import machine, save

LOOP = ("import re, time; t = time.perf_counter(); s = 'free entry in 2 a wkly comp to win fa cup final tkts 21st may ' * 3\n"
        "for _ in range(300000): re.findall(r'(?u)\\b\\w\\w+\\b', s)\nprint(time.perf_counter() - t)")


def loops_at_once(k: int) -> list[float]:
    "Seconds of each of `k` copies of the regex loop run at once."
    ps = [subprocess.Popen([sys.executable, "-c", LOOP], stdout=subprocess.PIPE, text=True) for _ in range(k)]
    return [float(p.communicate()[0]) for p in ps]


def scored(model, source, output, cluster=None, in_flight_per_slot=4) -> dict:
    "One `predict_file`: wall and this process's CPU seconds, and the workers' compute seconds on a cluster."
    import agileml.batch as b
    from distributed import Client, get_task_stream
    on_cluster = b._on_cluster
    b._on_cluster = lambda client, m, batches, in_flight, *a: on_cluster(client, m, batches, in_flight // 4 * in_flight_per_slot, *a)
    cpu, wall, busy = time.process_time(), time.perf_counter(), 0.0
    try:
        if cluster is None: b.predict_file(model, source, output)
        else:
            with Client(cluster.address, set_as_default=False) as observer, get_task_stream(client=observer) as stream:
                b.predict_file(model, source, output, cluster=cluster)      # the task stream is the scheduler's: every client's tasks
            busy = sum(s["stop"] - s["start"] for t in stream.data for s in t["startstops"] if s["action"] == "compute")
    finally: b._on_cluster = on_cluster
    return dict(seconds=time.perf_counter() - wall, process_cpu_s=time.process_time() - cpu, workers_compute_s=busy)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    rows = ap.parse_args().rows
    import skops.io
    from distributed import LocalCluster
    from batch_predict import inputs
    from agileml.batch import Cluster
    from agileml.catalog import load_registry
    from agileml.config import experiment_config
    from agileml.data import split_dataset
    from agileml.model_file import MODEL_FILE, read_model
    from agileml.models import build_pipeline
    from agileml.serve import ServedModel
    r = dict(machine=machine(), load_before=os.getloadavg(), rows=rows)
    r["regex_loop"] = [dict(alone=loops_at_once(1), two_at_once=loops_at_once(2)) for _ in range(2)]
    split = split_dataset(load_registry("sms_spam"), 0.2, seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        skops.io.dump(build_pipeline(experiment_config()).fit(split.X_train, split.y_train), tmp / MODEL_FILE)
        source = inputs(split.X_test, rows, tmp, ("csv",))["csv"]
        model = ServedModel(read_model(tmp / MODEL_FILE), info=dict(source=str(tmp)))
        running = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        try:
            variants = [(task_rows, per_slot) for task_rows in (20_000, 50_000) for per_slot in (4, 8)]
            r["rounds"] = [dict(one_process=scored(model, source, tmp / "out.csv"),
                                **{f"cluster, {n:,} rows a task, {k} in flight a worker":
                                   scored(model, source, tmp / "out.csv", Cluster(address=running.scheduler_address, rows=n), k)
                                   for n, k in variants}) for _ in range(2)]
        finally: running.close()
    r["load_after"] = os.getloadavg()
    save("batch_cluster", r)
    print(f"{r['machine']}; load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}; {rows:,} rows")
    for i, loop in enumerate(r["regex_loop"], 1):
        print(f"round {i}: regex loop alone {loop['alone'][0]:.2f} s; two at once {', '.join(f'{s:.2f}' for s in loop['two_at_once'])} s")
    for i, rnd in enumerate(r["rounds"], 1):
        for name, m in rnd.items():
            print(f"round {i}: {name:45} {m['seconds']:6.2f} s  this process's CPU {m['process_cpu_s']:5.2f} s  "
                  f"workers computing {m['workers_compute_s']:5.2f} s")


if __name__ == "__main__":
    main()
