"""One 8-point sweep three ways: fresh kernels (a process and kernel per point) with 2 workers, warm kernels
with 2 workers, warm kernels with 1 worker; each into a fresh store, timed from the command's start to its exit.

Run alone: .venv/bin/python benchmarks/sweep_workers.py
Uses the offline default dataset, so it needs nothing but the installed packages; writes
benchmarks/results/sweep_workers.json.

The overhead of a point is measured on the 1-worker warm sweep, where points run one after another:
seconds per point in the steady state, (end of the last point's run - end of the first's) / 7, from
the runs' recorded end times, minus the seconds the point's own cells took (papermill's cell timings in
each executed notebook). What is left is the machinery around the notebook's code: creating the run,
resetting the kernel, papermill, attaching the executed notebook and its HTML, ending the run.
"""
import json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from measure import machine, save

AGILEML = str(Path(sys.executable).parent / "agileml")
GRID = ["-p", "features=tfidf,word2vec", "-p", "model=logreg,sgd", "-p", "C=0.5,2"]     # 2 x 2 x 2 = 8 points
SCORES = ("accuracy", "macro_f1", "mcc")


def cell_seconds(notebook: str) -> float:
    "Seconds the executed notebook's cells took, by papermill's own timing."
    cells = json.loads(Path(notebook).read_text())["cells"]
    return sum(c["metadata"].get("papermill", {}).get("duration") or 0 for c in cells if c["cell_type"] == "code")


def sweep(*options: str) -> dict:
    "Wall seconds of the sweep, each point's scores, and per point (in run order) its end time and cell seconds."
    from mlflow.tracking import MlflowClient
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlruns.db"
        t0 = time.perf_counter()
        out = subprocess.run([AGILEML, "sweep", *GRID, *options, "--json"], capture_output=True, text=True,
                             env={**os.environ, "MLFLOW_TRACKING_URI": uri})
        seconds = time.perf_counter() - t0
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout)
        assert len(result["points"]) == 8 and result["status"] == "FINISHED"
        client = MlflowClient(uri)
        points = sorted(({"end": client.get_run(p["run_id"]).info.end_time / 1000, "cells": cell_seconds(p["notebook"])}
                         for p in result["points"]), key=lambda p: p["end"])
    scores = {json.dumps(p["params"], sort_keys=True): {m: p["metrics"][m] for m in SCORES} for p in result["points"]}
    return dict(seconds=seconds, scores=scores, points=points)


def steady_state(points: list[dict]) -> dict:
    "Seconds per point after the first, the cells' share of it, and the rest: the overhead of a point."
    per_point = (points[-1]["end"] - points[0]["end"]) / (len(points) - 1)
    cells = statistics.mean(p["cells"] for p in points[1:])
    return dict(seconds_per_point=round(per_point, 2), cell_seconds_per_point=round(cells, 2), overhead_per_point_s=round(per_point - cells, 2))


if __name__ == "__main__":
    fresh2, warm2, warm1 = sweep("--workers", "2", "--fresh-kernels"), sweep("--workers", "2"), sweep("--workers", "1")
    same = fresh2["scores"] == warm2["scores"] == warm1["scores"]
    report = dict(machine=machine(), command=" ".join(["agileml", "sweep", *GRID]), fresh_kernels_2_workers_s=round(fresh2["seconds"], 1),
                  warm_kernels_2_workers_s=round(warm2["seconds"], 1), warm_kernels_1_worker_s=round(warm1["seconds"], 1),
                  warm_speedup_2_workers=round(fresh2["seconds"] / warm2["seconds"], 2), identical_scores=same,
                  warm_1_worker=steady_state(warm1["points"]), fresh_2_workers_cell_seconds_per_point=round(
                      statistics.mean(p["cells"] for p in fresh2["points"]), 2))
    save("sweep_workers", report)
    print(json.dumps(report, indent=1))
