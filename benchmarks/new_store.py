"""What a new tracking store costs: `agileml.tracking.client` on a new SQLite store, copied from the empty store of this MLflow
version against made by MLflow's own migrations (a machine with no copy yet).

Run alone, on a quiet machine: .venv/bin/python benchmarks/new_store.py [--rounds 5]
Each measurement is a fresh Python process that has imported MLflow and agileml.tracking before the clock starts, then
opens a new store in a new folder (and makes the agileml experiment in it), timed inside the process; the rounds
alternate the two ways. Writes benchmarks/results/new_store.json.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile
from measure import machine, save

OPEN = """
import json, sys, time
import mlflow.tracking, agileml.tracking as T
t = time.perf_counter()
c = T.client(f"sqlite:///{sys.argv[1]}/mlruns.db"); T.experiment_id(c)
print(json.dumps(time.perf_counter() - t))
"""


def opened(cache: str | None) -> float:
    "Seconds to open a new store in a fresh process, with ~/.cache at `cache` (None: the user's, where the copy is)."
    with tempfile.TemporaryDirectory() as store:
        env = {**os.environ, **({"XDG_CACHE_HOME": cache} if cache else {})}
        out = subprocess.run([sys.executable, "-c", OPEN, store], capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    load_before = os.getloadavg()
    opened(None)                                           # the user's copy made, if it was not there yet
    copied, migrated = [], []
    for _ in range(a.rounds):
        copied.append(opened(None))
        with tempfile.TemporaryDirectory() as cache: migrated.append(opened(cache))
    r = dict(machine=machine(), rounds=a.rounds, copied_s=statistics.median(copied), migrated_s=statistics.median(migrated),
             load_before=load_before, load_after=os.getloadavg())
    save("new_store", r)
    print(f"{r['machine']}; load {load_before[0]:.2f} -> {r['load_after'][0]:.2f}")
    print(f"a new store copied from the empty one: {r['copied_s']:.2f} s; made by MLflow's migrations: {r['migrated_s']:.2f} s "
          f"(median of {a.rounds} each)")


if __name__ == "__main__":
    main()
