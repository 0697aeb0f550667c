"""Serving speed: agileml's service against `mlflow models serve` of the same MLflow model, and the in-process limit.

Run alone (needs wrk: `apt-get install wrk`):
    AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/serve_load.py [--workers 2] [--seconds 10]
Trains the SMS Spam production configuration into a temporary store, then loads every server with the
same wrk settings on 127.0.0.1, one server at a time, each after 3 s of warm-up load (a server answers its readiness
check when one worker is up; the others may still be loading the model). Writes benchmarks/results/serve_load.json.
"""
import argparse, json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import httpx

BIN = Path(sys.executable).parent
WARM_UP = 3          # seconds of load before a server is measured
PRODUCTION = ["dataset=sms_spam", "features=tfidf", "char_ngram_max=5", "model=linear_svc"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def start(cmd, ready_url, env):
    "Start a server in its own process group and wait until `ready_url` answers 200."
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200: return proc
        except httpx.HTTPError: pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL); raise RuntimeError(f"{cmd[0]} did not start")


def stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(timeout=30)
    except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)


def _ms(value, unit): return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk(url, body, connections, seconds):
    "requests/s, p50 and p99 latency (ms) and error count of wrk POSTing `body` to `url`."
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", f.name, url],
                         capture_output=True, text=True, check=True).stdout
    if "Latency Distribution" not in out: raise RuntimeError(out)
    lat = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    return dict(rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), p50_ms=lat["50"], p99_ms=lat["99"],
                errors=errors, requests=int(re.search(r"(\d+) requests in", out).group(1)))


def _rates(predict, text, batch):
    "One text 2,000 times and 100 texts 100 times through `predict`."
    one = []
    for _ in range(2000):
        t0 = time.perf_counter(); predict([text]); one.append((time.perf_counter() - t0) * 1e3)
    t0 = time.perf_counter()
    for _ in range(100): predict(batch)
    docs_s = 100 * len(batch) / (time.perf_counter() - t0)
    q = statistics.quantiles(one, n=100)
    return dict(single=dict(rps=1e3 / statistics.mean(one), p50_ms=q[49], p99_ms=q[98]), batch_docs_per_s=docs_s)


def in_process(model, text, batch):
    "The limits: the pipeline called directly, and the compiled scorer the service uses for it."
    from agileml.models import LinearTextScorer
    scorer = LinearTextScorer.compile(model)
    return dict(pipeline=_rates(model.predict, text, batch), scorer=_rates(scorer.scores, text, batch) if scorer else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    store = tempfile.mkdtemp()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlruns.db", "PATH": f"{BIN}:{os.environ['PATH']}",
           "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",   # for mlflow's own server: this model is our own
           "AGILEML_SPARE_KERNEL": "0"}                      # no kernel left starting while the servers are measured
    run = json.loads(subprocess.run([BIN / "agileml", "train", *sum((["-p", p] for p in PRODUCTION), []), "--json"],
                                    env=env, capture_output=True, text=True, check=True).stdout)
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    from agileml.catalog import load_registry
    from agileml.data import split_dataset
    from agileml.tracking import get_run, artifact_path
    from agileml.model_file import load_model
    model, folder = load_model(run["run_id"]), artifact_path(get_run(run["run_id"]), "model")
    texts = split_dataset(load_registry("sms_spam")).X_test
    text, batch = texts[0], texts[:100]
    results = dict(run_id=run["run_id"], accuracy=run["metrics"]["accuracy"], workers=a.workers, connections=a.connections,
                   seconds=a.seconds, in_process=in_process(model, text, batch))
    port = free_port()
    srv = start([str(BIN / "agileml"), "serve", "--model", run["run_id"], "--port", str(port), "--workers", str(a.workers),
                 "--decision-log", "off"],         # as `mlflow models serve`, which logs nothing (decision_log.py measures it)
                f"http://127.0.0.1:{port}/ready", env)
    try:
        url = f"http://127.0.0.1:{port}/v1/predict"
        wrk(url, {"texts": [text]}, a.connections, WARM_UP)
        results["agileml"] = dict(single=wrk(url, {"texts": [text]}, a.connections, a.seconds),
                                  batch_c1=wrk(url, {"texts": batch}, 1, a.seconds),
                                  batch=wrk(url, {"texts": batch}, a.connections, a.seconds))
    finally: stop(srv)
    port = free_port()
    srv = start([str(BIN / "mlflow"), "models", "serve", "-m", folder, "--env-manager", "local", "-h", "127.0.0.1",
                 "-p", str(port), "-w", str(a.workers)], f"http://127.0.0.1:{port}/ping", env)
    try:
        url = f"http://127.0.0.1:{port}/invocations"
        two = httpx.post(url, json={"dataframe_split": {"columns": ["text"], "data": [[texts[0]], [texts[1]]]}}).json()
        results["mlflow_dataframe_two_rows_gives"] = len(two["predictions"])
        frame = lambda texts: {"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}   # the model's signature
        wrk(url, frame([text]), a.connections, WARM_UP)
        results["mlflow"] = dict(single=wrk(url, frame([text]), a.connections, a.seconds),
                                 batch=wrk(url, frame(batch), a.connections, a.seconds))
    finally: stop(srv)
    out = Path(__file__).parent / "results"; out.mkdir(exist_ok=True)
    (out / "serve_load.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(r):
    ag, ml, ip = r["agileml"], r["mlflow"], r["in_process"]
    print(f"model: run {r['run_id'][:8]}, SMS Spam production configuration, held-out accuracy {r['accuracy']:.4f}; "
          f"{r['workers']} server workers; wrk 1 thread, {r['seconds']} s per row")
    print("| what | connections | requests/s | documents/s | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|---|---|")
    row = lambda name, c, m, n: print(f"| {name} | {c} | {m['rps']:.0f} | {m['rps'] * n:.0f} | {m['p50_ms']:.2f} | "
                                      f"{m['p99_ms']:.2f} | {m.get('errors', 0)} |")
    row("agileml, 1 text per request", r["connections"], ag["single"], 1)
    row("mlflow models serve, 1 text per request", r["connections"], ml["single"], 1)
    pp, sc = ip["pipeline"], ip["scorer"]
    row("in-process pipeline predict, 1 text", 1, pp["single"], 1)
    if sc: row("in-process compiled scorer, 1 text (what the service calls)", 1, sc["single"], 1)
    row("agileml, 100 texts per request", 1, ag["batch_c1"], 100)
    row("agileml, 100 texts per request", r["connections"], ag["batch"], 100)
    row("mlflow models serve, 100 texts per request", r["connections"], ml["batch"], 100)
    print(f"| in-process pipeline predict, 100 texts | 1 | - | {pp['batch_docs_per_s']:.0f} | - | - | - |")
    if sc: print(f"| in-process compiled scorer, 100 texts | 1 | - | {sc['batch_docs_per_s']:.0f} | - | - | - |")
    print(f"\nagileml / mlflow, single texts: {ag['single']['rps'] / ml['single']['rps']:.1f}x requests/s; "
          f"p99 {ag['single']['p99_ms']:.1f} ms vs {ml['single']['p99_ms']:.1f} ms")
    limit = (sc or pp)["batch_docs_per_s"]
    print(f"agileml batches of 100 at {r['connections']} connections: {ag['batch']['rps'] * 100 / limit:.2f}"
          f" of in-process batch documents/s (1 connection: {ag['batch_c1']['rps'] * 100 / limit:.2f})")
    print(f"mlflow given a two-row one-column DataFrame returned {r['mlflow_dataframe_two_rows_gives']} prediction(s)")


if __name__ == "__main__":
    main()
