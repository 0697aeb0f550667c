"""What recording one SMS Spam run costs on `agileml train`'s critical path, step by step.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/recording_steps.py
Configuration `dataset=sms_spam features=tfidf model=linear_svc`, into a temporary store created
(and migrated) before anything is timed, as a team's store already is. The library's own work
(data, fit, evaluation) is done once and not timed: only what the recording adds to it.

`agileml run` records in two processes: the notebook's kernel writes what it records into an outbox
(files), and the runner, which creates the run, writes the outbox into MLflow after the last cell,
then attaches the executed notebook and its HTML and ends the run. Each step is timed where they
call it:
- a first round in a new process prepared as `agileml train`'s two processes are when the step
  comes: `PRELOAD` imported with the collector frozen (the kernel), the run created and
  `_ready_for_the_end` done (the runner), then trained; so first-call costs are in, imports not;
- five more rounds in that process (median): the steady state, as in a sweep's warm kernels.
What the recording adds to the kernel's start (importing skops and agileml.recording) is measured
as how long a new kernel takes to answer (five each, median) importing all of `PRELOAD`, `PRELOAD`
without those two, and nothing. The recording on the critical path is that difference, plus the
notebook's steps, plus the runner's steps after the notebook (creating the run happens while the
kernel starts). And, in three `run_notebook` calls in new processes (what `agileml train` does),
when the parent starts waiting for its kernel, when the kernel answers, and when the run is done.
Writes benchmarks/results/recording_steps.json.
"""
import json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from measure import isolated, machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
RECORDING_MODULES = ("agileml.recording", "agileml.model_file", "agileml.tracking", "skops.io")     # what the kernel imports only to record
AFTER_THE_NOTEBOOK = ("parent: write in what the notebook recorded (model's MLflow files, artifacts, values)",
                      "parent: executed notebook and its HTML", "parent: end the run")


def timed(steps: dict, name: str, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    steps[name] = time.perf_counter() - t0
    return out


def one_round(nb, executed: Path, trained, outbox_dir: Path) -> dict:
    "The recording steps of one run, around an already trained pipeline; seconds by step."
    from agileml.runner import _attach_notebook, _result, _start_with_outbox
    from agileml.recording import OUTBOX_ENV, TrainingRun, log_model
    cfg, ds, split, pipeline, evaluation = trained
    s = {}
    client, run_id, outbox = timed(s, "parent: create the run and its outbox", _start_with_outbox, nb, "bench", None, outbox_dir)
    os.environ[OUTBOX_ENV] = str(outbox_dir)
    run = timed(s, "notebook: open the run", TrainingRun, run_id)
    timed(s, "notebook: parameters", run.log_params, cfg.as_dict())
    timed(s, "notebook: data tags and summary", run.log_dataset, ds, split)
    timed(s, "notebook: evaluation (report, baselines, figure, scores)", run.log_evaluation, evaluation)
    timed(s, "notebook: model (skops file, trust check, sha256)", log_model, run, pipeline, split.X_test[:3])
    timed(s, "notebook: finish", run.finish)
    timed(s, AFTER_THE_NOTEBOOK[0], outbox.log_to, client, run_id)
    timed(s, AFTER_THE_NOTEBOOK[1], _attach_notebook, client, run_id, executed)
    timed(s, AFTER_THE_NOTEBOOK[2], lambda: (client.set_terminated(run_id, "FINISHED"), _result(client, run_id)))
    return s


def train():
    "The library's part, untimed: data, split, fit, evaluation."
    from agileml.config import experiment_config
    from agileml.catalog import dataset_from
    from agileml.data import split_dataset
    from agileml.evaluate import evaluate_model
    from agileml.models import build_pipeline
    cfg = experiment_config(**PARAMS)
    ds = dataset_from(cfg.as_dict())
    split = split_dataset(ds, cfg.test_size, cfg.seed)
    pipeline = build_pipeline(cfg).fit(split.X_train, split.y_train)
    return cfg, ds, split, pipeline, evaluate_model(pipeline, split, cfg.precision, title="bench")


def rounds_in_a_new_process(tracking_uri: str, executed: str) -> list[dict]:
    "A first round in a new process prepared as agileml train's two processes are, then five more; seconds by step."
    import gc, importlib
    from agileml.kernel import PRELOAD
    from agileml.runner import _ready_for_the_end, experiment_notebook, start_run
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    for m in PRELOAD: importlib.import_module(m)
    gc.freeze()                                          # as the kernel does after importing PRELOAD
    start_run(experiment_notebook("train"), "warm-up")   # the runner has MLflow and its store open when the notebook ends
    _ready_for_the_end()()
    trained = train()
    with tempfile.TemporaryDirectory() as tmp:
        return [one_round(experiment_notebook("train"), Path(executed), trained, Path(tmp) / str(i)) for i in range(6)]


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


def kernel_ready(modules) -> float:
    "Seconds from starting a kernel that imports `modules` at start, as a run's kernel does, to its first answer."
    from jupyter_client import KernelManager
    from agileml.kernel import _start_args
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=_start_args(modules))
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return time.perf_counter() - t0
    finally: kc.stop_channels(); km.shutdown_kernel(now=True)


def kernel_ready_costs() -> dict:
    from agileml.kernel import PRELOAD
    kinds = dict(preload=PRELOAD, without_recording=[m for m in PRELOAD if m not in RECORDING_MODULES], nothing=["os"])
    times = {k: [] for k in kinds}
    for _ in range(5):
        for k, modules in kinds.items(): times[k].append(kernel_ready(modules))
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = uri = f"sqlite:///{tmp}/mlruns.db"
        os.environ["MPLBACKEND"] = "Agg"
        from agileml.runner import run_notebook
        executed = Path(run_notebook("train", dict(PARAMS)).notebook)      # the store, migrated; a notebook to attach
        first, *rounds = isolated(rounds_in_a_new_process, uri, str(executed))
        waits = parent_wait(uri)
    steps = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ready = kernel_ready_costs()
    imports = ready["preload"] - ready["without_recording"]
    in_notebook = sum(v for k, v in first.items() if k.startswith("notebook:"))
    after = sum(first[k] for k in AFTER_THE_NOTEBOOK)
    report = dict(machine=machine(), params=PARAMS, first_round=first, steady_steps=steps,
                  steady_recording_s=statistics.median(sum(r.values()) for r in rounds), kernel_ready_s=ready,
                  run_notebook_marks_s=waits, critical_path=dict(kernel_imports_s=imports, notebook_steps_s=in_notebook,
                                                                 after_the_notebook_s=after, total_s=imports + in_notebook + after))
    save("recording_steps", report)
    print("| step | first run of a process, s | steady (median of 5), s |\n|---|---|---|")
    for k, v in steps.items(): print(f"| {k} | {first[k]:.3f} | {v:.3f} |")
    print(f"a new kernel answers after {ready['preload']:.2f} s importing PRELOAD, {ready['without_recording']:.2f} s without "
          f"{' and '.join(RECORDING_MODULES)}, {ready['nothing']:.2f} s importing nothing")
    print(f"run_notebook in a new process: the parent waits for its kernel from {waits['waits']:.2f} s, the kernel answers at "
          f"{waits['answered']:.2f} s, the run is done at {waits['done']:.2f} s (median of 3)")
    print(f"the recording on agileml train's critical path: {imports:.2f} s of kernel imports + {in_notebook:.2f} s in the "
          f"notebook + {after:.2f} s after it = {report['critical_path']['total_s']:.2f} s "
          f"(steady, as in a sweep's warm kernel: {report['steady_recording_s']:.2f} s, creating the run included)")


if __name__ == "__main__":
    main()
