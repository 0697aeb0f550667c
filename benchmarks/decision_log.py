"""What the decision log costs the service: requests/s with logging off, into SQLite and into PostgreSQL.

Run alone (needs wrk: `apt-get install wrk`):
    AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/decision_log.py [--workers 2] [--seconds 20]
Trains the SMS Spam production configuration into a temporary store, then loads `agileml serve` with the same wrk
settings (32 connections, one text per request) with the decision log off, in SQLite and in PostgreSQL (pgserver, on a
Unix socket, sharing the machine's 2 cores with the service and wrk), one server at a time, in `--rounds` rounds:
requests/s on this machine drift by 10% between runs minutes apart, and a load's place in its round moved it by up to 25%
(2026-12-02), so the rounds rotate the order (every log runs first, second and third equally often) and each ratio
compares medians; each load follows 3 s of the same load (the second worker may still be loading its model). Beside
requests/s, the CPU time the service's processes (and PostgreSQL's) used per request; and last, the CPU a decision
costs in this process from `record` to written, with no service and no load. After each load it waits until the log has written everything, then
counts the decisions in the database against the 200 responses wrk counted: wrk stops with up to one request per
connection in flight, which the service answered and logged but wrk never counted, so the log may hold up to
`connections` more (the test suite checks the exact count with a client that waits for every answer).
Writes benchmarks/results/decision_log.json.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import httpx
import psutil
import sqlalchemy as sa
from serve_load import BIN, PRODUCTION, free_port, start, stop, wrk


def load(run_id, log, env, a, text):
    "wrk against a service writing its decisions to `log` ('off' for none); the figures and the decisions logged."
    port = free_port()
    srv = start([str(BIN / "agileml"), "serve", "--model", run_id, "--port", str(port), "--workers", str(a.workers),
                 "--decision-log", log], f"http://127.0.0.1:{port}/ready", env)
    try:
        # 3 s of the same load first: `start` returns when one worker answers, and the other may still be loading the model
        wrk(f"http://127.0.0.1:{port}/v1/predict", {"texts": [text]}, a.connections, 3)
        _settled(port, log, a.workers)
        before, procs = _count(log), _tree(srv.pid)
        cpu = _cpu(procs)
        got = wrk(f"http://127.0.0.1:{port}/v1/predict", {"texts": [text]}, a.connections, a.seconds)
        got["cpu_ms_per_request"] = {k: (v - cpu[k]) * 1000 / max(got["requests"], 1) for k, v in _cpu(procs).items()}
        healths = _settled(port, log, a.workers)
        got["logged"] = None if log == "off" else _count(log) - before
        got["dropped"] = None if log == "off" else max(h["dropped"] for h in healths)
        return got
    finally: stop(srv)


def _settled(port, log, workers) -> list[dict]:
    "The workers' decision-log health once none has decisions waiting (each worker process has its own queue)."
    deadline = time.time() + 120
    while log != "off" and time.time() < deadline:
        healths = [httpx.get(f"http://127.0.0.1:{port}/health").json()["decision_log"] for _ in range(4 * workers)]
        if not any(h["pending"] for h in healths): return healths
        time.sleep(0.5)
    return []


def _tree(pid) -> list:
    "The service's processes (its workers included) and the PostgreSQL server's."
    top = psutil.Process(pid)
    pg = [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]
    return [("service", p) for p in [top, *top.children(recursive=True)]] + [("postgres", p) for p in pg]


def _cpu(procs) -> dict:
    "CPU seconds (user + system) used so far by the service's processes and by PostgreSQL's."
    out = {"service": 0.0, "postgres": 0.0}
    for kind, p in procs:
        try: t = p.cpu_times(); out[kind] += t.user + t.system
        except psutil.NoSuchProcess: pass
    return out


def writer_cost(logs: dict, text: str, n: int = 30_000) -> dict:
    "CPU microseconds per decision in this process, from `record` to written, into each log (no service, no load)."
    from agileml.decisions import DecisionLog
    out = {}
    for name, url in logs.items():
        if url == "off": continue
        log = DecisionLog(url)
        started = time.process_time()
        for i in range(n):
            log.record([text], [{"label": "ham", "scores": {"ham": 0.98, "spam": 0.02}}], "1", "0" * 32, 1.0)
            if i % 300 == 299: time.sleep(0.02)         # requests arrive over time; the writer takes what came
        log.flush(120)
        out[name] = (time.process_time() - started) / n * 1e6
        log.close()
    return out


def _count(log):
    if log == "off": return 0
    from agileml.decisions import DECISIONS, open_log
    engine = open_log(log)
    with engine.connect() as con: n = con.execute(sa.select(sa.func.count()).select_from(DECISIONS)).scalar()
    engine.dispose()
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=6)
    a = ap.parse_args()
    import pgserver
    folder = Path(tempfile.mkdtemp())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlruns.db", "AGILEML_SPARE_KERNEL": "0"}   # none left running
    run = json.loads(subprocess.run([BIN / "agileml", "train", *sum((["-p", p] for p in PRODUCTION), []), "--json"],
                                    env=env, capture_output=True, text=True, check=True).stdout)
    from agileml.catalog import load_registry
    from agileml.data import split_dataset
    text = split_dataset(load_registry("sms_spam")).X_test[0]
    pg = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    try:
        logs = {"off": "off", "SQLite": f"sqlite:///{folder}/decisions.db", "PostgreSQL": pg.get_uri()}
        order = list(logs)              # each round starts one further along: every log runs first, second and third
        rows = [{name: load(run["run_id"], logs[name], env, a, text) for name in order[i % 3:] + order[:i % 3]}
                for i in range(a.rounds)]
        in_process = writer_cost({**logs, "SQLite": f"sqlite:///{folder}/in_process.db"}, text)
    finally: pg.cleanup()
    results = dict(run_id=run["run_id"], workers=a.workers, connections=a.connections, seconds=a.seconds, loads=rows,
                   writer_cpu_us_per_decision=in_process)
    out = Path(__file__).parent / "results"; out.mkdir(exist_ok=True)
    (out / "decision_log.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(r):
    print(f"agileml serve --workers {r['workers']}, SMS Spam production model; wrk 1 thread, {r['connections']} connections, "
          f"{r['seconds']} s per row, one text per request")
    print("| round | decision log | requests/s | p50 ms | p99 ms | non-2xx | 200s counted by wrk | decisions logged | dropped "
          "| service CPU ms/request | PostgreSQL CPU ms/request |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for i, loads in enumerate(r["loads"], 1):
        for name, m in loads.items():
            print(f"| {i} | {name} | {m['rps']:.0f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['errors']} | {m['requests'] - m['errors']} | "
                  f"{'-' if m['logged'] is None else m['logged']} | {'-' if m['dropped'] is None else m['dropped']} | "
                  f"{m['cpu_ms_per_request']['service']:.3f} | {m['cpu_ms_per_request']['postgres']:.3f} |")
    median = lambda name: statistics.median(loads[name]["rps"] for loads in r["loads"])
    for name in ("SQLite", "PostgreSQL"):
        print(f"{name}: median {median(name):.0f} requests/s = {median(name) / median('off'):.3f} of the median with the log off "
              f"({median('off'):.0f}); per round: " + ", ".join(f"{l[name]['rps'] / l['off']['rps']:.3f}" for l in r["loads"]))
    cpu = lambda name, kind="service": statistics.median(l[name]["cpu_ms_per_request"][kind] for l in r["loads"])
    print(f"service CPU per request, median: off {cpu('off'):.3f} ms, SQLite {cpu('SQLite'):.3f} ms, PostgreSQL {cpu('PostgreSQL'):.3f} ms "
          f"(+ {cpu('PostgreSQL', 'postgres'):.3f} ms in PostgreSQL's server)")
    print("in this process, record to written: " + ", ".join(f"{k} {v:.1f} us of CPU per decision"
                                                              for k, v in r.get("writer_cpu_us_per_decision", {}).items()))


if __name__ == "__main__":
    main()
