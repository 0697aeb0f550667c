"The README's tour, run as written; and the documentation site `make docs` builds, opened in Chromium with no network."
import os, re, subprocess, sys, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from conftest import ARTIFACTS, ROOT, free_port, wait_for

BIN = Path(sys.executable).parent


def tour_script(port: int) -> str:
    "The bash blocks of the README's tour, in order, the service's port made `port`."
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A ten-minute tour"):]
    tour = tour[:tour.index("\n## ", 5)]
    blocks = re.findall(r"```bash\n(.*?)```", tour, re.S)
    assert len(blocks) == 5, "the tour has five steps, each one bash block"
    return "\n".join(blocks).replace("localhost:8000", f"localhost:{port}").replace(
        "serve --token-file", f"serve --port {port} --token-file")


def test_the_readme_tour_runs_line_by_line(tmp_path):
    "After `make run`, every line of the tour as a person pastes it: run, promote, serve, predict, explain, curate, monitor."
    port, token = free_port(), ROOT / "curator.token"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}"}
    env.pop("AGILEML_DECISIONS_URL", None)
    # a step that fails stops the service the tour started; its output goes to files, which a stray process cannot hold open
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\nmake run\n" + tour_script(port)
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    try:
        with stdout.open("w") as out, stderr.open("w") as err:
            code = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, stdout=out, stderr=err, timeout=600).returncode
    finally:
        token.unlink(missing_ok=True)
        subprocess.run(["pkill", "-f", f"agileml serve --port {port}"])
    said = stdout.read_text()
    assert code == 0, f"exit {code}\n{said[-4000:]}\n{stderr.read_text()[-4000:]}"
    assert "next:" in said and "baseline" in said                                  # make run's report
    assert "is the champion: model version 1" in said and '"label":"spam"' in said   # promote; predict
    assert '"towards":[{"feature":"free"' in said                                    # explain
    assert '"curator":"ana","at"' in said and "spam   2          1        1" in said   # a verdict, counted in stats
    assert "ALERT: staleness: data_age_days" in said and "sms_spam as published on 2011-09-01" in said   # monitor:
    assert said.rstrip().endswith("exit 1")                                           # the SMS data is from 2011


def _build(site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGILEML_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([str(BIN / "mkdocs"), "build", "--quiet", "--site-dir", str(site)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_docs_site_builds_and_its_pages_open_offline(tmp_path, offline_browser):
    "Home is the README, the guide and every library notebook are pages; nothing is asked of another host."
    site = tmp_path / "site"
    built = _build(site)
    assert built.returncode == 0, built.stderr[-3000:]
    notebooks = sorted(p.stem for p in (ROOT / "nbs").glob("[0-9]*.ipynb"))
    assert {p.stem for p in site.glob("[0-9]*.html")} - {"404"} == set(notebooks)
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        pages = {"index.html": "A ten-minute tour", "guide.html": "Which run is in production",
                 "03_models.html": "TagClassifier", "experiments/train.html": "parameters"}
        for page, words in pages.items():
            offline_browser.get(f"{url}/{page}")
            wait_for(lambda: words in offline_browser.find_element("tag name", "body").text, 20, f"{page} showing {words!r}")
            names = offline_browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
            assert all(n.startswith(url) for n in names), [n for n in names if not n.startswith(url)]
            ARTIFACTS.mkdir(exist_ok=True)
            offline_browser.save_screenshot(str(ARTIFACTS / f"docs-{page.replace('/', '-')}.png"))
    finally:
        server.shutdown(); server.server_close()
