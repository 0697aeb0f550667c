"""What recording one SMS Spam run costs, step by step, in a process that has the library imported.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/recording_steps.py
Configuration `dataset=sms_spam features=tfidf model=linear_svc`, into a temporary store created
(and migrated) before anything is timed, as a team's store already is. Five rounds, median of each step:
- the parent's part of `agileml run`: creating the run with its provenance tags, attaching the
  executed notebook and its HTML, ending the run;
- the notebook's part: opening the run, parameters, data tags and summary, evaluation report,
  baselines and figure, metrics, the model (skops file, MLflow model folder, sha256), `finish`.
The library (data, fit, evaluation) is not timed: only what the run adds to it. Once more in a new
process that has trained but not recorded yet (the first recording of a process: imports included,
as in `agileml train`'s kernel; its parent pays MLflow's imports once more). Then, each in a
fresh process: what importing the recording's own modules costs (MLflow and its SQL store, skops),
which a warm kernel (sweeps) pays once and `agileml train`'s new kernel pays every run. Last, how
long a new kernel takes to answer (five each, median) when it imports at start all of `PRELOAD`
(what `agileml train` starts), only the library part (without MLflow, its SQL store, skops and
agileml.tracking), and nothing: the difference is what the recording's imports add to a run's
critical path, since `agileml train` waits for its kernel. And, in three `run_notebook` calls in new
processes (what `agileml train` does), when the parent starts waiting for its kernel and when the
kernel answers, from the process's start: how much of the kernel's start the parent's own work covers.
Writes benchmarks/results/recording_steps.json.
"""
import json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from measure import isolated, machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
IMPORTS = """
import time
t0 = time.perf_counter(); import sklearn, pandas, matplotlib.pyplot
t1 = time.perf_counter(); import mlflow, mlflow.sklearn
t2 = time.perf_counter(); from agileml.tracking import client; client()._tracking_client.store
t3 = time.perf_counter(); import skops.io
t4 = time.perf_counter(); print(t2 - t1, t3 - t2, t4 - t3)
"""


def timed(steps: dict, name: str, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    steps[name] = time.perf_counter() - t0
    return out


def one_round(nb, executed: Path, trained) -> dict:
    "The recording steps of one run, around an already trained pipeline; seconds by step."
    from agileml.runner import _attach_notebook, _result, start_run
    from agileml.tracking import TrainingRun, log_model
    cfg, ds, split, pipeline, evaluation = trained
    s = {}
    client, run_id = timed(s, "parent: create the run", start_run, nb, "bench")
    run = timed(s, "notebook: open the run", TrainingRun, run_id)
    timed(s, "notebook: parameters", run.log_params, cfg.as_dict())
    timed(s, "notebook: data tags and summary", run.log_dataset, ds, split)
    timed(s, "notebook: evaluation (report, baselines, figure, scores)", run.log_evaluation, evaluation)
    timed(s, "notebook: model (skops, MLflow folder, sha256)", log_model, run, pipeline, split.X_test[:3])
    timed(s, "notebook: finish", run.finish)
    timed(s, "parent: executed notebook and its HTML", _attach_notebook, client, run_id, executed)
    timed(s, "parent: end the run", lambda: (client.set_terminated(run_id, "FINISHED"), _result(client, run_id)))
    return s


def train():
    "The library's part, untimed: data, split, fit, evaluation."
    from agileml.config import experiment_config
    from agileml.data import dataset_from, split_dataset
    from agileml.evaluate import evaluate_model
    from agileml.models import build_pipeline
    cfg = experiment_config(**PARAMS)
    ds = dataset_from(cfg.as_dict())
    split = split_dataset(ds, cfg.test_size, cfg.seed)
    pipeline = build_pipeline(cfg).fit(split.X_train, split.y_train)
    return cfg, ds, split, pipeline, evaluate_model(pipeline, split, cfg.precision, title="bench")


def cold_round(tracking_uri: str, executed: str) -> dict:
    "One round in a new process that has trained with the library but not yet recorded: the recording's imports included."
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    trained = train()
    t0 = time.perf_counter()
    from agileml.runner import experiment_notebook
    steps = one_round(experiment_notebook("train"), Path(executed), trained)
    return dict(steps, total=time.perf_counter() - t0)


def import_costs() -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns.db"}
        subprocess.run([sys.executable, "-c", "from agileml.tracking import client; client()"], env=env, check=True)
        runs = [subprocess.run([sys.executable, "-c", IMPORTS], env=env, check=True, capture_output=True, text=True) for _ in range(3)]
    return [statistics.median(col) for col in zip(*[map(float, r.stdout.split()) for r in runs])]


PARENT_WAIT = """
import json, time
t0 = time.perf_counter()
import agileml.runner as r
marks, wait_ready = {}, r.WarmKernel.wait_ready
def timed_wait(self, timeout=120):
    if not self.ready: marks["waits"] = time.perf_counter() - t0
    wait_ready(self, timeout)
    marks.setdefault("answered", time.perf_counter() - t0)
r.WarmKernel.wait_ready = timed_wait
assert r.run_notebook("train", %r).status == "FINISHED"
print(json.dumps(dict(marks, done=time.perf_counter() - t0)))
""" % PARAMS


def parent_wait(tracking_uri: str) -> dict:
    "Seconds from a new process's start to: its parent starting to wait for the kernel, the kernel answering, the run done."
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    runs = [json.loads(subprocess.run([sys.executable, "-c", PARENT_WAIT], env=env, check=True, capture_output=True,
                                      text=True).stdout.splitlines()[-1]) for _ in range(3)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


RECORDING_MODULES = ("agileml.tracking", "mlflow.sklearn", "mlflow.store.tracking.sqlalchemy_store", "skops.io")


def kernel_ready(modules) -> float:
    "Seconds from starting a kernel that imports `modules` at start to its first answer."
    from jupyter_client import KernelManager
    from agileml.runner import KERNEL_ARGS
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=KERNEL_ARGS + [f"--IPKernelApp.exec_lines=import {', '.join(modules)}"])
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally: kc.stop_channels(); km.shutdown_kernel(now=True)


def kernel_ready_costs() -> dict:
    from agileml.runner import PRELOAD
    kinds = dict(preload=PRELOAD, library_only=[m for m in PRELOAD if m not in RECORDING_MODULES], nothing=["os"])
    times = {k: [] for k in kinds}
    for _ in range(5):
        for k, modules in kinds.items(): times[k].append(kernel_ready(modules))
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    from agileml.runner import experiment_notebook
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlruns.db"
        os.environ["MPLBACKEND"] = "Agg"
        from agileml.runner import run_notebook
        first = run_notebook("train", dict(PARAMS))            # the store, migrated; an executed notebook to attach
        executed = Path(first.notebook)
        trained = train()
        cold = isolated(cold_round, os.environ["MLFLOW_TRACKING_URI"], str(executed))
        waits = parent_wait(os.environ["MLFLOW_TRACKING_URI"])
        one_round(experiment_notebook("train"), executed, trained)          # warm-up: this process's first recording imports
        rounds = [one_round(experiment_notebook("train"), executed, trained) for _ in range(5)]
    steps = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    totals = [sum(r.values()) for r in rounds]
    mlflow_s, store_s, skops_s = import_costs()
    ready = kernel_ready_costs()
    report = dict(machine=machine(), params=PARAMS, kernel_ready_s=ready, run_notebook_marks_s=waits, steps=steps, cold_steps=cold, cold_recording_s=cold['total'], recording_s=statistics.median(totals), rounds=totals,
                  imports=dict(mlflow=mlflow_s, sql_store=store_s, skops=skops_s))
    save("recording_steps", report)
    print("| step | warm process, seconds (median of 5) | new process (its imports included), seconds |\n|---|---|---|")
    for k, v in steps.items(): print(f"| {k} | {v:.3f} | {cold[k]:.3f} |")
    print(f"| **the recording** | **{report['recording_s']:.2f}** (median of the rounds' totals) | **{cold['total']:.2f}** |")
    print(f"imports in a new process: mlflow {mlflow_s:.2f} s, its SQL store {store_s:.2f} s, skops {skops_s:.2f} s")
    print(f"a new kernel answers after {ready['preload']:.2f} s importing PRELOAD, {ready['library_only']:.2f} s importing the "
          f"library without the recording's modules, {ready['nothing']:.2f} s importing nothing")
    print(f"run_notebook in a new process: the parent waits for its kernel from {waits['waits']:.2f} s, the kernel answers at "
          f"{waits['answered']:.2f} s, the run is done at {waits['done']:.2f} s (median of 3)")


if __name__ == "__main__":
    main()
