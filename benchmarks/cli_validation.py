"""How long `agileml train` takes to refuse bad parameters (it must do so before any kernel starts).

Run alone: .venv/bin/python benchmarks/cli_validation.py
"""
import statistics, subprocess, sys, time
from pathlib import Path

AGILEML = str(Path(sys.executable).parent / "agileml")
CASES = {"misspelt key": ["-p", "lerning_rate=0.1"], "ill-typed value": ["-p", "test_size=abc"]}


def seconds(args, repeats=5):
    "Median wall-clock seconds of `agileml train ARGS`, which must exit 2."
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rc = subprocess.run([AGILEML, "train", *args], capture_output=True).returncode
        times.append(time.perf_counter() - t0)
        assert rc == 2, f"expected exit 2, got {rc}"
    return statistics.median(times), max(times)


if __name__ == "__main__":
    print("| bad input | median s | max s |\n|---|---|---|")
    for name, args in CASES.items():
        med, worst = seconds(args)
        print(f"| `agileml train {' '.join(args)}` ({name}) | {med:.2f} | {worst:.2f} |")
