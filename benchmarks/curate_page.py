"""How fast the curator's page answers a person, with 10,000 decisions in the log: from a verdict's key press to the next
decision on screen in a real Chromium, and GET /v1/decisions?pending=true on SQLite and on PostgreSQL.

Run alone, on a quiet machine (needs Debian's chromium and chromium-driver; pgserver comes with the dev extras):
    AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/curate_page.py [--decisions 10000] [--verdicts 300]
Trains the default SMS model into a temporary store and serves it with a token, the decision log in SQLite; logs
`--decisions` decisions through /v1/predict (SMS texts, 500 a request). A headless Chromium signs in on /curate and gives
`--verdicts` verdicts by keyboard ('a', accept), each as soon as the next decision shows; the page itself records each
one's time from the key press (the event's time stamp) to the frame after the next decision is drawn
(`window.curateTimings`); the first 20 are a warm-up and left out. Then `--requests` GETs of the queue (limit 20) from
one client, one after another, each timed from request to parsed answer. Then the same queue timing against a service
whose log is a PostgreSQL server (pgserver, on a Unix socket, on the same 2 cores), right after the fill and again once
its planner statistics are current (ANALYZE, which autovacuum runs by itself on a live log). Writes benchmarks/results/curate_page.json.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import httpx
from measure import machine, save
from serve_load import BIN, free_port, start, stop

TOKEN = "benchmark-token"
WARM_UP = 20


def pct(values, q): return sorted(values)[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def serve(run_id, log, env):
    "`agileml serve` over the run with the curation token and decision log `log`; (process, base URL)."
    port = free_port()
    proc = start([str(BIN / "agileml"), "serve", "--model", run_id, "--port", str(port), "--decision-log", log],
                 f"http://127.0.0.1:{port}/ready", {**env, "AGILEML_SERVE_TOKEN": TOKEN})
    return proc, f"http://127.0.0.1:{port}"


def fill(url, texts, n):
    "Log `n` decisions through /v1/predict, 500 texts a request, and wait until the log has written them."
    with httpx.Client(timeout=120) as c:
        for i in range(0, n, 500):
            batch = [texts[(i + j) % len(texts)] for j in range(min(500, n - i))]
            assert c.post(f"{url}/v1/predict", json={"texts": batch}).status_code == 200
        while c.get(f"{url}/health").json()["decision_log"]["pending"]: time.sleep(0.2)
        assert c.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1},
                     headers={"Authorization": f"Bearer {TOKEN}"}).json()["pending"] >= n


def queue_latency(url, requests):
    "Client round trips (ms) of GET /v1/decisions?pending=true&limit=20, one after another."
    out = []
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        for _ in range(20): c.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 20})
        for _ in range(requests):
            t = time.perf_counter()
            r = c.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 20})
            r.json(); out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
    return dict(requests=requests, median_ms=statistics.median(out), p99_ms=pct(out, 0.99), max_ms=max(out))


def page_latency(url, verdicts):
    "Sign in on /curate in headless Chromium, accept `verdicts` decisions by keyboard; the page's own timings (ms)."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"): options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    text = lambda: browser.execute_script("const t = document.querySelector('#card .text'); return t && t.textContent")
    try:
        browser.get(f"{url}/curate")
        browser.find_element(By.NAME, "curator").send_keys("bench")
        browser.find_element(By.NAME, "token").send_keys(TOKEN)
        browser.find_element(By.TAG_NAME, "form").submit()
        until(text, "the first decision")
        for i in range(verdicts):
            before = browser.execute_script("return window.curateTimings.length")
            ActionChains(browser).send_keys("a").perform()
            until(lambda: browser.execute_script("return window.curateTimings.length") > before, f"verdict {i + 1} recorded")
        timings = browser.execute_script("return window.curateTimings")[WARM_UP:]
    finally: browser.quit()
    return dict(verdicts=len(timings), median_ms=statistics.median(timings), p99_ms=pct(timings, 0.99), max_ms=max(timings))


def analyze(url):
    """Bring PostgreSQL's planner statistics up to date, as autovacuum does within a minute or so of this many inserts:
    right after a bulk fill the planner takes 10,000 rows for 18 and sorts them all (7 ms instead of 0.4 ms a query)."""
    import sqlalchemy as sa
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as con:
        con.exec_driver_sql("ANALYZE decisions"); con.exec_driver_sql("ANALYZE verdicts"); con.commit()
    engine.dispose()


def until(check, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check(): return
        time.sleep(0.005)
    raise SystemExit(f"{what} did not happen within {seconds} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=10_000)
    ap.add_argument("--verdicts", type=int, default=300)
    ap.add_argument("--requests", type=int, default=1000)
    a = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlruns.db"}
    run = json.loads(subprocess.run([BIN / "agileml", "train", "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    from agileml.catalog import load_registry
    texts = load_registry("sms_spam").texts
    results = dict(machine=machine(), load_before=os.getloadavg(), decisions=a.decisions, run_id=run["run_id"])
    proc, url = serve(run["run_id"], f"sqlite:///{folder}/decisions.db", env)
    try:
        fill(url, texts, a.decisions)
        results["page"] = page_latency(url, a.verdicts + WARM_UP)
        results["queue_sqlite"] = queue_latency(url, a.requests)
    finally: stop(proc)
    import pgserver
    pg = pgserver.get_server(folder / "pg", cleanup_mode="stop")
    try:
        proc, url = serve(run["run_id"], pg.get_uri(), env)
        try:
            fill(url, texts, a.decisions)
            results["queue_postgresql_before_analyze"] = queue_latency(url, a.requests)
            analyze(pg.get_uri())
            results["queue_postgresql"] = queue_latency(url, a.requests)
        finally: stop(proc)
    finally: pg.cleanup()
    results["load_after"] = os.getloadavg()
    save("curate_page", results)
    report(results)


def report(r):
    print(f"{r['machine']}; {r['decisions']:,} decisions in the log; load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f}")
    p = r["page"]
    print(f"key press to next decision shown (Chromium, {p['verdicts']} verdicts): median {p['median_ms']:.1f} ms, "
          f"p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms")
    for name in ("sqlite", "postgresql_before_analyze", "postgresql"):
        q = r[f"queue_{name}"]
        print(f"GET /v1/decisions?pending=true&limit=20 on {name:<25} ({q['requests']} requests): median {q['median_ms']:.2f} ms, "
              f"p99 {q['p99_ms']:.2f} ms, max {q['max_ms']:.2f} ms")


if __name__ == "__main__":
    main()
