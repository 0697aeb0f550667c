"""Wall-clock time of one 8-point sweep with --workers 1 and with --workers 2, each into a fresh store.

Run alone: .venv/bin/python benchmarks/sweep_workers.py
Uses the offline default dataset, so it needs nothing but the installed packages; writes
benchmarks/results/sweep_workers.json.
"""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
from measure import save

AGILEML = str(Path(sys.executable).parent / "agileml")
GRID = ["-p", "features=tfidf,word2vec", "-p", "model=logreg,sgd", "-p", "C=0.5,2"]     # 2 x 2 x 2 = 8 points


def sweep_seconds(workers: int) -> tuple[float, dict]:
    "Seconds for the whole sweep (command start to exit) and its JSON result; every point must finish."
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlruns.db"}
        t0 = time.perf_counter()
        out = subprocess.run([AGILEML, "sweep", *GRID, "--workers", str(workers), "--json"], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert len(result["points"]) == 8 and result["status"] == "FINISHED"
    return seconds, result


if __name__ == "__main__":
    one, r1 = sweep_seconds(1)
    two, r2 = sweep_seconds(2)
    scores = lambda r: [{m: p["metrics"][m] for m in ("accuracy", "macro_f1", "mcc")} for p in r["points"]]
    same = scores(r1) == scores(r2)
    report = dict(command=" ".join(["agileml", "sweep", *GRID]), cores=os.cpu_count(), workers_1_s=round(one, 1),
                  workers_2_s=round(two, 1), speedup=round(one / two, 2), same_metrics=same)
    save("sweep_workers", report)
    print("| --workers | seconds | speed-up |\n|---|---|---|")
    print(f"| 1 | {one:.1f} | 1.00 |\n| 2 | {two:.1f} | {one / two:.2f} |")
    print(f"identical metrics with 1 and 2 workers: {same}")
