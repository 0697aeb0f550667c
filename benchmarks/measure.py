"""Helpers the benchmarks share: run a measurement in a fresh process, and its peak memory.

Peak memory is the process's peak resident set (VmHWM), reset just before the measured work
(writing 5 to /proc/self/clear_refs), so it covers the work and whatever it holds, data included.
"""
import json, multiprocessing, os, platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
# Each run a benchmark makes starts its own kernel, as every figure before spare kernels was measured (and none is left
# running after it); benchmarks/train_steps.py measures runs on spare kernels, turning them on for its own commands.
os.environ.setdefault("AGILEML_SPARE_KERNEL", "0")


def _status_mib(key: str) -> float:
    "A /proc/self/status memory figure (VmRSS, VmHWM) in MiB."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"): return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak():
    "Start measuring the peak resident memory from now (Linux)."
    Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float: return _status_mib("VmHWM")


def isolated(fn, *args):
    "fn(*args) in a fresh process (spawned, so nothing is shared with this one); its return value."
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    mem = _status_mib_total()
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def _status_mib_total() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"): return int(line.split()[1]) / 1024 / 1024
    return 0.0


def save(name: str, data: dict) -> Path:
    "Write a benchmark's raw results to benchmarks/results/NAME.json."
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
