"JupyterLab as a person uses it: a real Chromium opens the train notebook, runs every cell, and a FINISHED run is recorded."
import os, secrets, shutil, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT, free_port, runs

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = ROOT / "test-artifacts"      # git-ignored; CI keeps what is written here


def wait_for(check, seconds, what):
    "Poll `check` until it returns something true, or fail saying what never happened."
    deadline = time.time() + seconds
    while time.time() < deadline:
        if got := check(): return got
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {seconds} s")


ERRORS_IN_NOTEBOOK = """
const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
let errors = 0;
for (let i = 0; i < cells.length; i++) {
  const cell = cells.get(i);
  if (cell.type !== 'code') continue;
  for (let j = 0; j < cell.outputs.length; j++) if (cell.outputs.get(j).type === 'error') errors++;
}
return errors;"""


def answers(url):
    try: return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError: return False


@pytest.fixture
def lab(tmp_path, store):
    "JupyterLab on 127.0.0.1 over a copy of the train notebook (so the checkout's notebook is never saved over)."
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"): pytest.fail("chromium and chromedriver are missing: `make test` installs them (apt-get)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    (tmp_path / "experiments").mkdir()
    shutil.copy(ROOT / "nbs/experiments/train.ipynb", tmp_path / "experiments/train.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={token}", f"--notebook-dir={tmp_path}",
                               "--LabApp.expose_app_in_browser=True", "--allow-root"],
                              env={**os.environ, "AGILEML_PROJECT": str(ROOT)}, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "lab.log", "w"), start_new_session=True)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/api/status?token={token}"), 120, "JupyterLab answering")
        yield f"http://127.0.0.1:{port}/lab/tree/experiments/train.ipynb?token={token}"
    finally:
        server.terminate(); server.wait(timeout=60)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try: yield driver
    finally: driver.quit()


def test_run_all_in_jupyterlab_records_a_finished_run_and_shows_its_metrics(lab, browser, store):
    from selenium.webdriver.common.by import By
    browser.get(lab)
    wait_for(lambda: browser.execute_script("return window.jupyterapp && window.jupyterapp.shell.currentWidget "
                                            "&& window.jupyterapp.shell.currentWidget.sessionContext "
                                            "&& window.jupyterapp.shell.currentWidget.sessionContext.isReady"), 120,
             "the notebook opening with a ready kernel")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_for(lambda: any(r.info.status != "RUNNING" for r in runs(store)), 300, "the notebook's run ending")
    wait_for(lambda: "open in MLflow's UI" in browser.find_element(By.TAG_NAME, "body").text, 60, "the summary showing")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-train.png"))                 # the top: data, fit, metrics
    browser.execute_script("const cells = document.querySelectorAll('.jp-Notebook .jp-Cell'); cells[cells.length - 1].scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-train-end.png"))             # the end: the run's summary
    (run,) = runs(store)
    assert run.info.status == "FINISHED" and "agileml.model_sha256" in run.data.tags
    page = browser.find_element(By.TAG_NAME, "body").text
    assert browser.execute_script(ERRORS_IN_NOTEBOOK) == 0 and "Traceback" not in page, page[-3000:]
    assert "accuracy" in page and run.info.run_id in page            # the metrics table and the run's id and address
