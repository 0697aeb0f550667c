"Shared fixtures: a throwaway MLflow store per test, the agileml command and service, and the shared datasets."
import json, os, shutil, signal, socket, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
import httpx
import pytest
from agileml.tracking import client as store_client

ROOT = Path(__file__).resolve().parent.parent
# One HTTP client for the test process: `httpx.get(...)` builds a client, with its TLS context, for every call (45 ms of
# CPU each here), which hundreds of requests per test turned into minutes of the suite.
HTTP = httpx.Client(timeout=30)
AGILEML = str(Path(sys.executable).parent / "agileml")
# No spare kernels (agileml.kernel) outlive the tests' runs; the tests of spare kernels turn them on for their own commands.
os.environ["AGILEML_SPARE_KERNEL"] = "0"
# `make test` runs pytest with `-n 2 --dist loadfile`: xdist hands each worker whole files in collection order. The files
# that take longest (`--durations=0` of a full run, 2026-12-02 17:36) go first, so the two workers finish at about the same time.
LONGEST_FIRST = ["test_lifecycle.py", "test_erasure.py", "test_sweep.py", "test_project.py", "test_serve.py", "test_train.py", "test_notebooks.py",
                 "test_lab.py", "test_workbench.py", "test_decisions.py", "test_batch.py", "test_monitor.py", "test_audit.py", "test_tags.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))     # stable: a file's tests keep their order


@pytest.fixture
def store(tmp_path, monkeypatch):
    "An empty SQLite MLflow store in a temporary folder, used by this process and the commands it starts."
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@contextmanager
def module_store(tmp_path_factory, name):
    "A fresh SQLite store for a module-scoped fixture, set as the tracking store while the block runs."
    uri = f"sqlite:///{tmp_path_factory.mktemp(name) / 'mlruns.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri


def free_port():
    "A loopback port nobody listens on."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runs(uri):
    "Every run in the store, newest first."
    client = store_client(uri)      # as agileml opens a store: never racing a command that creates it
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps) if exps else []


def sigint_as_in_a_terminal():
    """For `preexec_fn`: Ctrl-C (SIGINT) reaches the command as it does in a terminal, even when this test run inherited it
    ignored (started as a background job by a shell without job control, which Python then leaves ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_long_training(tmp: Path, env: dict | None = None, **popen) -> subprocess.Popen:
    """`agileml train` of a word2vec run of minutes, its temporary files in `tmp` (`env` set too), returned once its notebook
    has recorded its parameters (into the outbox the runner gave its kernel): a cell of the notebook is running."""
    proc = subprocess.Popen([AGILEML, "train", "-p", "features=word2vec", "-p", "w2v_epochs=1000", "-p", "w2v_min_count=1", "--json"],
                            cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=sigint_as_in_a_terminal, **popen)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp.glob("*/outbox/params.json")): time.sleep(0.2)
    if list(tmp.glob("*/outbox/params.json")): return proc
    proc.kill()
    pytest.fail(f"agileml train recorded no parameters within 120 s: {proc.communicate()[1][-2000:]}")


def spare_pids(runtime: Path) -> list[int]:
    "The process ids of the spare kernels (agileml.kernel) waiting in the Jupyter runtime folder `runtime`."
    return [json.loads(p.read_text())["pid"] for p in runtime.rglob("agileml-spares/*/*.json")]


def gone(pid: int) -> bool:
    "Whether process `pid` has ended (one ended but not yet waited for by its parent counts as ended)."
    import psutil
    try: return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess: return True


def agileml(*args, check=None, timeout=900, env=None):
    "Run the agileml command (in `env`, default this process's environment); `check` is the exit code it must give."
    out = subprocess.run([AGILEML, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if check is not None:
        assert out.returncode == check, f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out


def train_json(*params, env=None):
    "`agileml train -p ... --json`, which must finish without a word of a locked store; its JSON result."
    args = [a for p in params for a in ("-p", p)]
    out = agileml("train", *args, "--json", check=0, env=env)
    assert "locked" not in out.stderr, out.stderr[-2000:]
    return json.loads(out.stdout)


_warm = {}

def warm_kernel():
    "This test process's warm kernel (kernel.WarmKernel), started on first use and again if it died."
    from agileml.kernel import WarmKernel
    if "kernel" not in _warm or not _warm["kernel"].alive(): _warm["kernel"] = WarmKernel()
    return _warm["kernel"]


def train_warm(*params):
    """The training notebook run in this test process on its warm kernel (kernel.WarmKernel, started on first use): the run
    `agileml train -p ...` records, without the command's and a new kernel's start-up. For fixtures and tests whose subject is
    what a run is used for; tests of the command itself use `train_json`. The run must finish; its result as a dict."""
    from agileml.config import parse_param_strings
    from agileml.runner import run_notebook
    result = run_notebook("train", parse_param_strings(list(params)), kernel=warm_kernel()).to_dict()
    assert result["status"] == "FINISHED", result["error"]
    return result


@pytest.fixture(scope="session", autouse=True)
def _close_shared():
    "The warm kernel of `train_warm` and the HTTP client stop with the test session."
    yield
    if "kernel" in _warm: _warm.pop("kernel").close()
    HTTP.close()


def train_json_all(*param_sets):
    "`train_json` of each set of parameters, all at once (a store takes concurrent runs); their results in order."
    with ThreadPoolExecutor(len(param_sets)) as pool: return list(pool.map(lambda params: train_json(*params), param_sets))


def require_dataset(name):
    "Skip where the shared datasets are not set up, but fail in CI, where they must be."
    from agileml.catalog import REGISTRY, data_home
    if any((data_home() / s.path).is_file() for s in REGISTRY[name].sources): return
    msg = f"dataset {name!r} not found under AGILEML_DATA_HOME={os.environ.get('AGILEML_DATA_HOME')!r}"
    if os.environ.get("CI"): pytest.fail(msg + " (CI must point AGILEML_DATA_HOME at ../shared/data)")
    pytest.skip(msg)


def cli(*args, check=None):
    "The agileml command run in this process (no start-up cost); same exit codes and output as the real one."
    from types import SimpleNamespace
    from typer.testing import CliRunner
    from agileml.cli import app
    r = CliRunner().invoke(app, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit): raise r.exception
    if check is not None:
        assert r.exit_code == check, f"exit {r.exit_code}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return SimpleNamespace(stdout=r.stdout, stderr=r.stderr, returncode=r.exit_code)


def in_folder(folder, *args, check=None, timeout=900):
    "The agileml command (this checkout's .venv) run with `folder` as the current directory."
    out = subprocess.run([AGILEML, *args], capture_output=True, text=True, timeout=timeout, cwd=folder)
    if check is not None:
        assert out.returncode == check, f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out


@pytest.fixture
def copy(tmp_path):
    "A git checkout of this project's files in another folder (no .venv: the original's is used)."
    dst = tmp_path / "copy"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in tracked:
        if (ROOT / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT / f, dst / f)
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(["git", *cmd], cwd=dst, check=True, capture_output=True)
    return dst


def start_server(*args, env=None):
    "`agileml serve` on a free loopback port; (process, base URL) once it is ready."
    port = free_port()
    proc = subprocess.Popen([AGILEML, "serve", "--port", str(port), *args], cwd=ROOT, env=env or os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if HTTP.get(f"{url}/ready", timeout=2).status_code == 200: return proc, url
        except httpx.HTTPError: pass
        time.sleep(0.3)
    stop(proc)
    raise AssertionError(f"server did not become ready: {proc.stderr.read()[-2000:] if proc.stderr else ''}")


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(timeout=30)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()


def post(url, path, **kw):
    return HTTP.post(f"{url}{path}", **kw)


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = ROOT / "test-artifacts"      # git-ignored; CI keeps what is written here


def wait_for(check, seconds, what):
    "Poll `check` until it returns something true, or fail saying what never happened."
    deadline = time.time() + seconds
    while time.time() < deadline:
        if got := check(): return got
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {seconds} s")


def require_chromium():
    "Debian's Chromium and its driver, which `make test` installs: missing, a failure under CI and a skip elsewhere."
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"): pytest.fail("chromium and chromedriver are missing: `make test` installs them (apt-get)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")


@contextmanager
def chromium(*extra_args):
    "A headless Chromium driven through chromedriver, quit when the block ends."
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2400", *extra_args):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try: yield driver
    finally: driver.quit()


@pytest.fixture
def browser():
    with chromium() as driver: yield driver


@pytest.fixture
def offline_browser():
    "Chromium that can reach this machine only: every other host name fails to resolve, as on a machine with no network."
    with chromium("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1") as driver: yield driver


# ---- the curator's page, as a person drives it ----
def current_text(browser):
    return browser.execute_script("const t = document.querySelector('#card .text'); return t && t.textContent")


def explained(browser):
    "Whether the card shows its decision's explanation (words marked, or why none are): the page has heard back from the service."
    note = browser.execute_script("const n = document.querySelector('#card .evidence-note'); return n && n.textContent")
    return note and not note.startswith("marking the words")


def press(browser, keys):
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(browser).send_keys(keys).perform()


def sign_in(browser, url, token, name="ana"):
    from selenium.webdriver.common.by import By
    browser.get(f"{url}/curate")
    wait_for(lambda: browser.find_elements(By.NAME, "token"), 20, "the sign-in page")
    form = browser.find_element(By.TAG_NAME, "form")
    form.find_element(By.NAME, "curator").clear()
    form.find_element(By.NAME, "curator").send_keys(name)
    form.find_element(By.NAME, "token").send_keys(token)
    form.submit()


def other_hosts(browser, url):
    "Every resource the page loaded from anywhere but the service."
    names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.startswith(url + "/")]
