"""What the notebook costs: `agileml train` against the same configuration called directly in Python.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/notebook_overhead.py [--spare-kernels]
Configuration: `-p dataset=sms_spam -p features=tfidf -p model=linear_svc`. Three runs each, median:
- `agileml train`, wall time from the command's start to its exit, into a fresh temporary store:
  validation, a papermill kernel, the notebook, MLflow run + model + executed notebook and HTML;
  the same into a store that already holds runs; and (two runs) into a fresh store on a machine that has no
  empty store of this MLflow version to copy yet (a new ~/.cache: MLflow's own migrations, what every new store
  cost before `agileml.tracking.store_template`);
- the experiment notebook's own code cells run as one plain Python script (no papermill, no kernel):
  the same library calls and the same recording (MLflow run, metrics, report, model), into a
  fresh temporary store;
- the library in one fresh Python process: imports, load the dataset, split, build the pipeline,
  fit, predict, score (what a script without tracking would do), timed inside the process and
  measured as the process's wall time.
Each `agileml train` starts its own kernel; with --spare-kernels each claims the spare kernel the one before left, ready
(6 s after it: a person reading the result), in a Jupyter runtime folder of the benchmark's own; but the two runs with
a new ~/.cache, whose environment differs (XDG_CACHE_HOME), which start their own.
Writes benchmarks/results/notebook_overhead.json (notebook_overhead_spare_kernels.json with --spare-kernels).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from measure import machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
AGILEML = str(Path(sys.executable).parent / "agileml")
PAUSE = 6         # seconds before each `agileml train` with spare kernels: the one the last run left is ready, and idle
DIRECT = f"""
import json, time
t0 = time.perf_counter()
from agileml.config import experiment_config
from agileml.catalog import load_dataset
from agileml.data import split_dataset
from agileml.evaluate import metrics
from agileml.models import build_pipeline
t1 = time.perf_counter()
cfg = experiment_config(**{PARAMS!r})
s = split_dataset(load_dataset(cfg.dataset), cfg.test_size, cfg.seed)
pipe = build_pipeline(cfg).fit(s.X_train, s.y_train)
scores = metrics(s.y_test, pipe.predict(s.X_test))
print(json.dumps(dict(imports=t1 - t0, work=time.perf_counter() - t1, **scores)))
"""


def notebook_as_script() -> str:
    "The experiment notebook's code cells as one script, with PARAMS assigned right after its parameters cell."
    nb = json.loads((Path(__file__).parent.parent / "nbs" / "experiments" / "train.ipynb").read_text())
    out = []
    for cell in (c for c in nb["cells"] if c["cell_type"] == "code"):
        out.append("".join(cell["source"]))
        if "parameters" in cell["metadata"].get("tags", []): out.append("\n".join(f"{k} = {v!r}" for k, v in PARAMS.items()))
    return "\n".join(out)


def script_once() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns.db", "MPLBACKEND": "Agg"}
        return timed([sys.executable, "-c", notebook_as_script()], env)[0]


def timed(cmd, env=None) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return time.perf_counter() - t0, out.stdout


def train_once(store: str | None = None, cache: str | None = None) -> tuple[float, dict]:
    "`agileml train` into `store` (default: a new one), with ~/.cache at `cache` (default: the user's); seconds and metrics."
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store or tmp}/mlruns.db", **({"XDG_CACHE_HOME": cache} if cache else {})}
        if env["AGILEML_SPARE_KERNEL"] != "0": time.sleep(PAUSE)
        seconds, out = timed([AGILEML, "train", *[a for k, v in PARAMS.items() for a in ("-p", f"{k}={v}")], "--json"], env)
    return seconds, json.loads(out)["metrics"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spare-kernels", action="store_true", help="each run on the spare kernel the run before left")
    spares = ap.parse_args().spare_kernels
    runtime = tempfile.TemporaryDirectory()
    if spares: os.environ.update(AGILEML_SPARE_KERNEL="600", JUPYTER_RUNTIME_DIR=runtime.name)
    try: measure(spares)
    finally:
        if spares: subprocess.run([sys.executable, "-c", "from agileml.kernel import stop_spares; stop_spares()"], check=True)
        runtime.cleanup()


def measure(spares: bool):
    load_before = os.getloadavg()
    existing = tempfile.mkdtemp()
    train_once(existing)                                  # a store that holds a run already (and the user's template made)
    trains = [train_once() for _ in range(3)]
    into_existing = [train_once(existing)[0] for _ in range(3)]
    with tempfile.TemporaryDirectory() as c1, tempfile.TemporaryDirectory() as c2:
        no_template = [train_once(cache=c)[0] for c in (c1, c2)]
    scripts = [script_once() for _ in range(3)]
    directs = [timed([sys.executable, "-c", DIRECT]) for _ in range(3)]
    inside = [json.loads(out) for _, out in directs]
    assert all(d["accuracy"] == trains[0][1]["accuracy"] for d in inside), "the same configuration must give the same scores"
    med = lambda xs: statistics.median(xs)
    report = dict(machine=machine(), load_before=load_before, params=PARAMS, spare_kernels=spares, agileml_train_s=med([t for t, _ in trains]), notebook_as_script_s=med(scripts),
                  direct_process_s=med([t for t, _ in directs]),
                  direct_imports_s=med([d["imports"] for d in inside]), direct_work_s=med([d["work"] for d in inside]),
                  fit_seconds_in_notebook=med([m["fit_seconds"] for _, m in trains]), accuracy=trains[0][1]["accuracy"],
                  into_existing_store_s=med(into_existing), new_store_without_template_s=med(no_template), load_after=os.getloadavg())
    report["overhead_s"] = report["agileml_train_s"] - report["direct_process_s"]
    report["notebook_overhead_s"] = report["agileml_train_s"] - report["notebook_as_script_s"]
    save("notebook_overhead_spare_kernels" if spares else "notebook_overhead", report)
    print(f"{report['machine']}; load {load_before[0]:.2f} -> {report['load_after'][0]:.2f}; "
          + ("each `agileml train` on the spare kernel the run before left\n" if spares else "each `agileml train` on its own kernel\n"))
    print("| how | seconds (median of 3) |\n|---|---|")
    print(f"| `agileml train` into a new store (command start to exit) | {report['agileml_train_s']:.1f} |")
    print(f"| `agileml train` into a store that holds runs | {report['into_existing_store_s']:.1f} |")
    print(f"| `agileml train` into a new store, no empty store to copy yet (MLflow's migrations) | {report['new_store_without_template_s']:.1f} |")
    print(f"| the notebook's code as a plain Python script, same recording | {report['notebook_as_script_s']:.1f} |")
    print(f"| library in one Python process, no recording (process start to exit) | {report['direct_process_s']:.1f} |")
    print(f"|   of which imports | {report['direct_imports_s']:.1f} |")
    print(f"|   of which load, split, fit, predict, score | {report['direct_work_s']:.1f} |")
    print(f"new store / existing store: {report['agileml_train_s'] / report['into_existing_store_s']:.2f}; existing store / library "
          f"process: {report['into_existing_store_s'] / report['direct_process_s']:.2f}")
    print(f"`agileml train` minus the notebook as a plain script: {report['notebook_overhead_s']:+.1f} s (papermill, a kernel, the "
          f"executed notebook and its HTML, less what two processes on two cores save); minus the library: "
          f"{report['overhead_s']:+.1f} s; fit inside the notebook "
          f"{report['fit_seconds_in_notebook']:.2f} s; same accuracy {report['accuracy']:.4f} both ways")


if __name__ == "__main__":
    main()
