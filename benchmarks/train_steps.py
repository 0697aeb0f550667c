"""Where `agileml train`'s seconds go, step by step, against the library alone in one process (issue 31).

Run alone, on a quiet machine: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/train_steps.py [--runs 5]
Configuration `dataset=sms_spam features=tfidf model=linear_svc`, into a store that already holds runs (made and
warmed by one run first, not timed). Each `agileml train` is the CLI's own `main` in a new process, with the
runner's steps wrapped in timers (wall clock, so the benchmark's own clock gives the process's start and exit):
process start, importing the CLI, validating the parameters, starting the kernel, creating the run, warming what the
end of the run needs, waiting for the kernel, resetting it, papermill (each cell's own time from papermill's metadata,
and what papermill and nbclient add around the cells), writing in what the notebook recorded, attaching the executed
notebook and its HTML, ending the run, stopping the kernel, printing, and the process's exit. Runs alternate with the
library alone (imports, load, split, fit, predict, score in one process, process start to exit). Median per step.
Also the CPU seconds each used (the command's process and its kernel, which it stops and waits for; the library's
process): on two cores a command whose two processes use C seconds cannot take less than C / 2 wall seconds. And a
kernel's start standing alone (started to answering, 3 times each, alternating): with `PRELOAD`, without `skops.io`,
with nothing imported (`import sys`).
Writes benchmarks/results/train_steps.json.
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time
from measure import machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
STEPS = [  # (label, where: a runner function or WarmKernel method)
    ("validate the parameters", "validate"), ("start the kernel", "WarmKernel.__init__"),
    ("of which: spawn the kernel's process", "jupyter_client.manager:KernelManager.start_kernel"),
    ("create the run", "start_run"), ("in the background: an HTML exporter warmed (after importing MLflow's model files)", "_warm_exporter"),
    ("wait for the kernel to answer (PRELOAD imported)", "WarmKernel.wait_ready"), ("reset the kernel", "WarmKernel.reset"),
    ("papermill: execute the notebook", "_execute"), ("write in what the notebook recorded", "_write_in"),
    ("attach the executed notebook and its HTML", "_attach_notebook"), ("end the run, read it back", "_result"),
    ("stop the kernel", "WarmKernel.close"),
]
TIMED_TRAIN = """
import json, os, sys, time
T = {"process start": [float(os.environ["SPAWNED"]), time.time()]}
import agileml.cli, agileml.runner as r
T["import the CLI"] = [T["process start"][1], time.time()]
def wrap(owner, name, label):
    f = getattr(owner, name)
    def timed(*a, **k):
        s = time.time()
        try: return f(*a, **k)
        finally: T.setdefault(label, [s, time.time()])      # the first call (reset waits for the kernel again: answered)
    setattr(owner, name, timed)
import importlib
for label, where in STEPS:
    module, _, path = where.rpartition(":")
    owner = importlib.import_module(module) if module else r
    *owners, name = path.split(".")
    for o in owners: owner = getattr(owner, o)
    wrap(owner, name, label)
attach = r._attach_notebook
def cells(client, run_id, executed):
    nb = json.loads(executed.read_text())
    T["cells"] = [c["metadata"]["papermill"]["duration"] or 0 for c in nb["cells"] if c["cell_type"] == "code"]
    return attach(client, run_id, executed)
r._attach_notebook = cells
sys.argv = ["agileml", *ARGS]
try: agileml.cli.main()
except SystemExit as e: T["exit status"] = e.code
T["main returned"] = time.time()
print("@@" + json.dumps(T), file=sys.stderr)
"""
LIBRARY = f"""
import time
t0 = time.time()
from agileml.config import experiment_config
from agileml.catalog import load_dataset
from agileml.data import split_dataset
from agileml.evaluate import metrics
from agileml.models import build_pipeline
cfg = experiment_config(**{PARAMS!r})
s = split_dataset(load_dataset(cfg.dataset), cfg.test_size, cfg.seed)
pipe = build_pipeline(cfg).fit(s.X_train, s.y_train)
scores = metrics(s.y_test, pipe.predict(s.X_test))
"""


def _children_cpu() -> float:
    "CPU seconds (user + system) of this process's children that have ended and been waited for, and of theirs."
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train_once(env: dict) -> tuple[dict, float]:
    "One `agileml train` in a new process: each step's (start, end) in seconds from the command's start, and its CPU seconds."
    args = ["train", *[a for k, v in PARAMS.items() for a in ("-p", f"{k}={v}")], "--json"]
    code = f"STEPS = {STEPS!r}\nARGS = {args!r}\n" + TIMED_TRAIN
    cpu, spawned = _children_cpu(), time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "SPAWNED": repr(spawned)})
    ended, cpu = time.time(), _children_cpu() - cpu
    T = json.loads(out.stderr.rsplit("@@", 1)[1])
    assert T.pop("exit status") in (None, 0), out.stderr[-2000:]
    cells, returned = sum(T.pop("cells")), T.pop("main returned")
    steps = {label: (t[0] - spawned, t[1] - spawned) for label, t in T.items()}
    start, end = steps.pop("papermill: execute the notebook")
    steps["papermill: the notebook's cells (their own time)"] = (start, start + cells)
    steps["papermill and nbclient around the cells"] = (start + cells, end)
    wait = steps["wait for the kernel to answer (PRELOAD imported)"]
    steps["reset the kernel"] = (wait[1], steps["reset the kernel"][1])
    steps["print the result"] = (steps["end the run, read it back"][1], returned - spawned)
    steps["process exit"] = (returned - spawned, ended - spawned)
    return dict(sorted(steps.items(), key=lambda kv: kv[1])), cpu


def library_once() -> tuple[float, float]:
    "The library alone in a new process: (wall seconds, CPU seconds)."
    cpu, t0 = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-c", LIBRARY], check=True)
    return time.perf_counter() - t0, _children_cpu() - cpu


def kernel_starts(times: int = 3) -> dict:
    "Seconds from starting a WarmKernel to its answer, standing alone: with PRELOAD, without skops.io, with nothing (median)."
    import agileml.kernel as k
    preload = k.PRELOAD
    kinds = {"PRELOAD": preload, "PRELOAD without skops.io": tuple(m for m in preload if m != "skops.io"), "nothing": ("sys",)}   # sys: imported already
    seconds = {kind: [] for kind in kinds}
    try:
        for i in range(times + 1):                       # the first round imports papermill and jupyter_client: not counted
            for kind, modules in kinds.items():
                k.PRELOAD = modules
                t0 = time.perf_counter()
                kernel = k.WarmKernel()
                if i: seconds[kind].append(time.perf_counter() - t0)
                kernel.close()
    finally: k.PRELOAD = preload
    return {kind: statistics.median(s) for kind, s in seconds.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as store:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlruns.db"}
        train_once(env)                                   # the store holds a run; the user's caches are made
        trains, library = [], []
        for _ in range(runs): trains.append(train_once(env)); library.append(library_once())
    (trains, train_cpu), (library, library_cpu) = zip(*trains), zip(*library)
    med = {k: [statistics.median(t[k][i] for t in trains) for i in (0, 1)] for k in trains[0]}
    whole = statistics.median(t["process exit"][1] for t in trains)
    r = dict(machine=machine(), load_before=load_before, load_after=os.getloadavg(), runs=runs, params=PARAMS, steps=med,
             library_alone_s=statistics.median(library), train_s=whole, ratio=whole / statistics.median(library),
             train_cpu_s=statistics.median(train_cpu), library_cpu_s=statistics.median(library_cpu), kernel_start_s=kernel_starts())
    save("train_steps", r)
    print(f"{r['machine']}; load {load_before[0]:.2f} -> {r['load_after'][0]:.2f}; median of {runs}\n")
    print("| step of `agileml train` (into a store that holds runs) | from, s | to, s | seconds |\n|---|---|---|---|")
    for k, (a, b) in med.items(): print(f"| {k} | {a:.2f} | {b:.2f} | {b - a:.3f} |")
    print(f"| the whole command | 0 | {whole:.2f} | {whole:.3f} |")
    print(f"\nthe library alone in one process: {r['library_alone_s']:.2f} s; agileml train / library: {r['ratio']:.2f}")
    print(f"CPU seconds: agileml train (its process and its kernel) {r['train_cpu_s']:.2f}, the library {r['library_cpu_s']:.2f}; "
          f"on two cores agileml train cannot take less than {r['train_cpu_s'] / 2:.2f} s "
          f"({r['train_cpu_s'] / 2 / r['library_alone_s']:.2f}x the library)")
    print("a kernel standing alone, started to answering: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["kernel_start_s"].items()))


if __name__ == "__main__":
    main()
