"""How long `agileml train` takes to refuse bad parameters (it must do so before any kernel starts).

Run alone: .venv/bin/python benchmarks/cli_validation.py
"""
import csv, statistics, subprocess, sys, tempfile, time
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


def sms_csv(folder: Path) -> Path:
    "The SMS Spam Collection (5,574 rows) as a CSV with text and label columns."
    from agileml.catalog import load_registry
    ds, path = load_registry("sms_spam"), folder / "sms.csv"
    with open(path, "w", newline="") as f: csv.writer(f).writerows([("text", "label"), *zip(ds.texts, ds.labels)])
    return path


if __name__ == "__main__":
    CASES["wrong column of a 5,574-row CSV"] = ["-p", f"dataset={sms_csv(Path(tempfile.mkdtemp()))}", "-p", "text_column=nope"]
    print("| bad input | median s | max s |\n|---|---|---|")
    for name, args in CASES.items():
        med, worst = seconds(args)
        shown = " ".join(a if not a.startswith("dataset=") else "dataset=sms.csv" for a in args)
        print(f"| `agileml train {shown}` ({name}) | {med:.2f} | {worst:.2f} |")
