"""What the notebook costs: `agileml train` against the same configuration called directly in Python.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/notebook_overhead.py
Configuration: `-p dataset=sms_spam -p features=tfidf -p model=linear_svc`. Three runs each, median:
- `agileml train`, wall time from the command's start to its exit, into a fresh temporary store:
  validation, a papermill kernel, the notebook, MLflow run + model + executed notebook and HTML;
- the experiment notebook's own code cells run as one plain Python script (no papermill, no kernel):
  the same library calls and the same recording (MLflow run, metrics, report, model), into a
  fresh temporary store;
- the library in one fresh Python process: imports, load the dataset, split, build the pipeline,
  fit, predict, score (what a script without tracking would do), timed inside the process and
  measured as the process's wall time.
Writes benchmarks/results/notebook_overhead.json.
"""
import json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from measure import machine, save

PARAMS = dict(dataset="sms_spam", features="tfidf", model="linear_svc")
AGILEML = str(Path(sys.executable).parent / "agileml")
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


def train_once() -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns.db"}
        seconds, out = timed([AGILEML, "train", *[a for k, v in PARAMS.items() for a in ("-p", f"{k}={v}")], "--json"], env)
    return seconds, json.loads(out)["metrics"]


def main():
    trains = [train_once() for _ in range(3)]
    scripts = [script_once() for _ in range(3)]
    directs = [timed([sys.executable, "-c", DIRECT]) for _ in range(3)]
    inside = [json.loads(out) for _, out in directs]
    assert all(d["accuracy"] == trains[0][1]["accuracy"] for d in inside), "the same configuration must give the same scores"
    med = lambda xs: statistics.median(xs)
    report = dict(machine=machine(), params=PARAMS, agileml_train_s=med([t for t, _ in trains]), notebook_as_script_s=med(scripts),
                  direct_process_s=med([t for t, _ in directs]),
                  direct_imports_s=med([d["imports"] for d in inside]), direct_work_s=med([d["work"] for d in inside]),
                  fit_seconds_in_notebook=med([m["fit_seconds"] for _, m in trains]), accuracy=trains[0][1]["accuracy"])
    report["overhead_s"] = report["agileml_train_s"] - report["direct_process_s"]
    report["notebook_overhead_s"] = report["agileml_train_s"] - report["notebook_as_script_s"]
    save("notebook_overhead", report)
    print("| how | seconds (median of 3) |\n|---|---|")
    print(f"| `agileml train` (command start to exit) | {report['agileml_train_s']:.1f} |")
    print(f"| the notebook's code as a plain Python script, same recording | {report['notebook_as_script_s']:.1f} |")
    print(f"| library in one Python process, no recording (process start to exit) | {report['direct_process_s']:.1f} |")
    print(f"|   of which imports | {report['direct_imports_s']:.1f} |")
    print(f"|   of which load, split, fit, predict, score | {report['direct_work_s']:.1f} |")
    print(f"papermill + kernel + executed notebook and HTML: {report['notebook_overhead_s']:.1f} s; recording and notebook together: "
          f"{report['overhead_s']:.1f} s; fit inside the notebook "
          f"{report['fit_seconds_in_notebook']:.2f} s; same accuracy {report['accuracy']:.4f} both ways")


if __name__ == "__main__":
    main()
