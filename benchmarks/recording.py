"""What recording a large model costs: IMDB's best configuration through `agileml train`.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/recording.py
Trains `-p dataset=imdb -p features=binary -p ngram_max=3 -p model=nbsvm -p C=0.1` into a fresh temporary
store, reads each cell's time from the executed notebook (papermill writes them), and times loading the
model for serving (`agileml.serve.load_served`: sha256 check, skops load) in a new Python process.
Writes benchmarks/results/recording.json.
"""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
from measure import machine, save

PARAMS = ["dataset=imdb", "features=binary", "ngram_max=3", "model=nbsvm", "C=0.1"]
BIN = Path(sys.executable).parent
LOAD = """
import sys, time
t = time.perf_counter()
from agileml.serve import load_served
load_served(sys.argv[1])
print(time.perf_counter() - t)
"""


def cell_seconds(notebook: str) -> dict:
    "Seconds of each code cell longer than half a second, keyed by its first line."
    cells = json.loads(Path(notebook).read_text())["cells"]
    return {"".join(c["source"]).splitlines()[0]: round(c["metadata"]["papermill"]["duration"], 1) for c in cells
            if c["cell_type"] == "code" and (c["metadata"].get("papermill", {}).get("duration") or 0) > 0.5}


def main():
    store = tempfile.mkdtemp()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlruns.db"}
    t0 = time.perf_counter()
    run = json.loads(subprocess.run([BIN / "agileml", "train", *sum((["-p", p] for p in PARAMS), []), "--json"], cwd=store,
                                    env=env, capture_output=True, text=True, check=True).stdout)
    command = time.perf_counter() - t0
    load = float(subprocess.run([sys.executable, "-c", LOAD, run["run_id"]], cwd=store, env=env, capture_output=True,
                                text=True, check=True).stdout.split()[-1])
    cells = cell_seconds(run["notebook"])
    log_cell = next(v for k, v in cells.items() if k.startswith("log_model"))
    result = dict(machine=machine(), params=PARAMS, accuracy=run["metrics"]["accuracy"], fit_seconds=run["metrics"]["fit_seconds"],
                  log_model_cell_seconds=log_cell, load_served_seconds=load, command_seconds=command, cells=cells)
    save("recording", result)
    print(json.dumps(result, indent=2))
    print(f"recording / fit: {log_cell / result['fit_seconds']:.2f} (floor 0.25); loading for serving {load:.1f} s (floor 10 s)")


if __name__ == "__main__":
    main()
