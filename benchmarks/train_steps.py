"""Where `agileml train`'s seconds go, step by step, against the library alone in one process (issue 31).

Run alone, on a quiet machine: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/train_steps.py [--runs 5]
Configuration `dataset=sms_spam features=tfidf model=linear_svc`, into a store that already holds runs (made and
warmed by one run first, not timed). Each `agileml train` is the CLI's own `main` in a new process, with the
runner's steps wrapped in timers (wall clock, so the benchmark's own clock gives the process's start and exit):
process start, importing the CLI, validating the parameters, starting the kernel, creating the run, warming what the
end of the run needs, waiting for the kernel, resetting it, papermill (each cell's own time from papermill's metadata,
and what papermill and nbclient add around the cells), writing in what the notebook recorded, attaching the executed
notebook and its HTML, ending the run, stopping the kernel, leaving a spare kernel, printing, and the process's exit.
Three kinds of `agileml train` (see `rounds`): claiming a spare kernel that is ready (a person ran the last command a
few seconds ago), claiming one still starting (commands back to back, as a script runs them), and with spare kernels
off (each run starts its own: the first run after a quarter of an hour, or AGILEML_SPARE_KERNEL=0). Rounds alternate
them with the library alone (imports, load, split, fit, predict, score in one process, process start to exit).
Median per step. Also the CPU seconds each used (the command's process and the kernels it started and waited for; the
library's process). And a kernel's start standing alone (started to answering, 3 times each, alternating): with
`PRELOAD`, without `skops.io`, with nothing imported (`import sys`).
Writes benchmarks/results/train_steps.json.
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time
from measure import machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
STEPS = [  # (label, where: a runner function or WarmKernel method)
    ("validate the parameters", "validate"), ("claim a spare kernel (none when they are off)", "claim_spare"),
    ("start the kernel", "WarmKernel.__init__"),
    ("of which: spawn the kernel's process", "jupyter_client.manager:KernelManager.start_kernel"),
    ("create the run", "start_run"), ("in the background: an HTML exporter warmed (after importing MLflow's model files)", "_warm_exporter"),
    ("wait for the kernel to answer (PRELOAD imported)", "WarmKernel.wait_ready"), ("reset the kernel", "WarmKernel.reset"),
    ("papermill: execute the notebook", "_execute"), ("write in what the notebook recorded", "_write_in"),
    ("attach the executed notebook and its HTML", "_attach_notebook"), ("end the run, read it back", "_result"),
    ("stop the kernel", "WarmKernel.close"), ("leave a spare kernel for the next run", "leave_spare"),
]
TIMED_TRAIN = """
import json, os, sys, time
T = {"process start": [SPAWNED, time.time()]}
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
    cpu, spawned = _children_cpu(), time.time()
    code = f"STEPS = {STEPS!r}\nARGS = {args!r}\nSPAWNED = {spawned!r}\n" + TIMED_TRAIN    # not in the environment: a spare
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)      # kernel serves the same
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
    steps["print the result"] = (max(t[1] for t in steps.values()), returned - spawned)
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


PAUSE = 6     # seconds between a run and what follows it when the spare kernel it left must be ready and idle


def rounds(runs: int, env: dict) -> dict:
    """`runs` rounds of: `agileml train` claiming a spare kernel that is ready (left by the round before, a pause ago),
    `agileml train` at once after it (claiming the spare that one just left, still starting), a pause, the library alone,
    `agileml train` with spare kernels off (each run starts its own kernel). A spare kernel waits, idle, during the last two."""
    on, off = {**env, "AGILEML_SPARE_KERNEL": "600"}, {**env, "AGILEML_SPARE_KERNEL": "0"}
    train_once(off); train_once(on); time.sleep(PAUSE)         # the store holds runs; the user's caches are made; a spare waits
    kinds = {"spare ready": [], "spare still starting": [], "library": [], "no spare": []}
    for _ in range(runs):
        kinds["spare ready"].append(train_once(on))
        kinds["spare still starting"].append(train_once(on))
        time.sleep(PAUSE)
        kinds["library"].append(library_once())
        kinds["no spare"].append(train_once(off))
    return kinds


def summary(trains: list) -> dict:
    "Median seconds per step, of the whole command, and of its CPU, over `trains` (train_once results)."
    steps, cpu = zip(*trains)
    labels = dict.fromkeys(k for t in steps for k in t)
    med = {k: [statistics.median(t[k][i] for t in steps if k in t) for i in (0, 1)] for k in labels}
    return dict(steps=med, seconds=statistics.median(t["process exit"][1] for t in steps), cpu_s=statistics.median(cpu))


def _span(step) -> str:
    "A step's (from, to) seconds as a table cell, `-` when the command did not take it."
    return "-" if step is None else f"{step[0]:.2f}-{step[1]:.2f} ({step[1] - step[0]:.3f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns.db", "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime"}
        try: kinds = rounds(runs, env)
        finally: subprocess.run([sys.executable, "-c", "from agileml.kernel import stop_spares; stop_spares()"], env=env, check=True)
    library, library_cpu = zip(*kinds.pop("library"))
    lib = statistics.median(library)
    r = dict(machine=machine(), load_before=load_before, load_after=os.getloadavg(), runs=runs, params=PARAMS, pause_s=PAUSE,
             library_alone_s=lib, library_cpu_s=statistics.median(library_cpu), kernel_start_s=kernel_starts(),
             train={kind: summary(t) for kind, t in kinds.items()})
    for t in r["train"].values(): t["ratio"] = t["seconds"] / lib
    save("train_steps", r)
    print(f"{r['machine']}; load {load_before[0]:.2f} -> {r['load_after'][0]:.2f}; median of {runs} rounds\n")
    kinds = list(r["train"])
    print("| step of `agileml train` (into a store that holds runs), seconds from its start | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    order = {**r["train"]["spare ready"]["steps"], **r["train"]["no spare"]["steps"]}      # by when each starts
    for k in sorted(order, key=order.get):
        print(f"| {k} | " + " | ".join(_span(t["steps"].get(k)) for t in r["train"].values()) + " |")
    print("| **the whole command** | " + " | ".join(f"**{t['seconds']:.2f}**" for t in r["train"].values()) + " |")
    print("| CPU seconds of its process and the kernel it started (a spare kernel's start is not counted) | " + " | ".join(f"{t['cpu_s']:.2f}" for t in r["train"].values()) + " |")
    print(f"| **/ the library alone ({lib:.2f} s, {r['library_cpu_s']:.2f} CPU s)** | " + " | ".join(f"**{t['ratio']:.2f}x**" for t in r["train"].values()) + " |")
    print("\na kernel standing alone, started to answering: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["kernel_start_s"].items()))


if __name__ == "__main__":
    main()
