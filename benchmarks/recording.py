"""What recording a large model costs: IMDB's best configuration, trained as `agileml train` trains it.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/recording.py
Trains `-p dataset=imdb -p features=binary -p ngram_max=3 -p model=nbsvm -p C=0.1` with `run_notebook`
(what `agileml train` calls) in a new process, into a fresh temporary store. The recording is the
`log_model` cell (read from the executed notebook: papermill writes each cell's time; the kernel
saves the skops file and checks its types there) plus what the runner does after the notebook:
writing what it recorded into the run (MLflow's model files, the model file copied into the
artifact store, the values) and attaching the executed notebook and its HTML (timed in that
process). Then times loading the model for serving (`agileml.serve.load_served`: sha256 check,
skops load) in a new Python process. Writes benchmarks/results/recording.json.
"""
import json, os, subprocess, sys, tempfile
from pathlib import Path
from measure import machine, save
from agileml.catalog import data_home

PARAMS = ["dataset=imdb", "features=binary", "ngram_max=3", "model=nbsvm", "C=0.1"]
TRAIN = """
import json, sys, time
t0 = time.perf_counter()
import agileml.runner as r
after = {}
def timed(name, fn):
    def step(*a, **k):
        t = time.perf_counter()
        try: return fn(*a, **k)
        finally: after[name] = time.perf_counter() - t
    return step
r._write_in, r._attach_notebook = timed("write_in", r._write_in), timed("attach", r._attach_notebook)
params = dict(p.split("=", 1) for p in sys.argv[1:])
result = r.run_notebook("train", params)
assert result.status == "FINISHED", result.error
print(json.dumps(dict(result.to_dict(), after=after, seconds=time.perf_counter() - t0)))
"""
LOAD = """
import sys, time
t = time.perf_counter()
from agileml.serve import load_served
load_served(sys.argv[1])
print(time.perf_counter() - t)
"""


def cell_seconds(notebook: str) -> dict:
    "Seconds of each code cell longer than a tenth of a second, keyed by its first line."
    cells = json.loads(Path(notebook).read_text())["cells"]
    return {"".join(c["source"]).splitlines()[0]: round(c["metadata"]["papermill"]["duration"], 1) for c in cells
            if c["cell_type"] == "code" and (c["metadata"].get("papermill", {}).get("duration") or 0) > 0.1}


def main():
    store = tempfile.mkdtemp()
    # the commands run in `store`, so a relative AGILEML_DATA_HOME is made absolute first
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlruns.db", "AGILEML_DATA_HOME": str(data_home().absolute())}
    run = json.loads(subprocess.run([sys.executable, "-c", TRAIN, *PARAMS], cwd=store, env=env, capture_output=True,
                                    text=True, check=True).stdout.splitlines()[-1])
    load = float(subprocess.run([sys.executable, "-c", LOAD, run["run_id"]], cwd=store, env=env, capture_output=True,
                                text=True, check=True).stdout.split()[-1])
    cells = cell_seconds(run["notebook"])
    log_cell = next(v for k, v in cells.items() if k.startswith("log_model"))
    recording = log_cell + run["after"]["write_in"] + run["after"]["attach"]
    result = dict(machine=machine(), params=PARAMS, accuracy=run["metrics"]["accuracy"], fit_seconds=run["metrics"]["fit_seconds"],
                  log_model_cell_seconds=log_cell, write_in_seconds=run["after"]["write_in"], attach_seconds=run["after"]["attach"],
                  recording_seconds=recording, load_served_seconds=load, run_seconds=run["seconds"], cells=cells)
    save("recording", result)
    print(json.dumps(result, indent=2))
    print(f"recording / fit: {recording / result['fit_seconds']:.2f} (floor 0.25): log_model cell {log_cell:.1f} s + writing it "
          f"into the run {run['after']['write_in']:.1f} s + notebook and HTML {run['after']['attach']:.1f} s; "
          f"loading for serving {load:.1f} s (floor 10 s)")


if __name__ == "__main__":
    main()
