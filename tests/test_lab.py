"""JupyterLab as a person uses it: a real Chromium runs the train notebook; a kernel no papermill started records its
notebook; a Lab save through Jupyter's contents API leaves the project clean."""
import json, os, platform, secrets, shutil, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from mlflow.tracking import MlflowClient
from conftest import ARTIFACTS, ROOT, agileml, free_port, in_folder, require_chromium, runs, wait_for
from agileml.data import sha256_file

JUPYTER = str(Path(sys.executable).parent / "jupyter")


ERRORS_IN_NOTEBOOK = """
const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
let errors = 0;
for (let i = 0; i < cells.length; i++) {
  const cell = cells.get(i);
  if (cell.type !== 'code') continue;
  for (let j = 0; j < cell.outputs.length; j++) if (cell.outputs.get(j).type === 'error') errors++;
}
return errors;"""


STDERR_IN_NOTEBOOK = ERRORS_IN_NOTEBOOK.replace(
    "cell.outputs.get(j).type === 'error'",
    "cell.outputs.get(j).type === 'stream' && cell.outputs.get(j).toJSON().name === 'stderr'")    # Lab's pink output

ADD_AND_RUN_A_FAILING_CELL = """
const notebook = window.jupyterapp.shell.currentWidget.content;
const n = notebook.model.cells.length;
notebook.model.sharedModel.insertCell(n, {cell_type: 'code', source: 'raise ValueError("a later mistake")'});
notebook.activeCellIndex = n;
window.jupyterapp.commands.execute('notebook:run-cell');"""


READY = ("return window.jupyterapp && window.jupyterapp.shell.currentWidget && window.jupyterapp.shell.currentWidget.sessionContext "
         "&& window.jupyterapp.shell.currentWidget.sessionContext.isReady")


def answers(url):
    try: return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError: return False


@pytest.fixture
def lab(tmp_path, store):
    "JupyterLab on 127.0.0.1 over a copy of the train notebook (so the checkout's notebook is never saved over)."
    require_chromium()
    (tmp_path / "experiments").mkdir()
    shutil.copy(ROOT / "nbs/experiments/train.ipynb", tmp_path / "experiments/train.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen([str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={token}", f"--notebook-dir={tmp_path}",
                               "--LabApp.expose_app_in_browser=True", "--allow-root"],
                              cwd=tmp_path, env={**os.environ, "AGILEML_PROJECT": str(ROOT)}, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "lab.log", "w"), start_new_session=True)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/api/status?token={token}"), 120, "JupyterLab answering")
        yield f"http://127.0.0.1:{port}/lab/tree/experiments/train.ipynb?token={token}"
    finally:
        server.terminate(); server.wait(timeout=60)


def test_run_all_in_jupyterlab_records_a_finished_run_and_shows_its_metrics(lab, browser, store, tmp_path):
    from selenium.webdriver.common.by import By
    browser.get(lab)
    wait_for(lambda: browser.execute_script(READY), 120, "the notebook opening with a ready kernel")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_for(lambda: any(r.info.status != "RUNNING" for r in runs(store)), 300, "the notebook's run ending")
    wait_for(lambda: "open in MLflow's UI" in browser.find_element(By.TAG_NAME, "body").text, 60, "the summary showing")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-train.png"))                 # the top: data, fit, metrics
    browser.execute_script("const cells = document.querySelectorAll('.jp-Notebook .jp-Cell'); cells[cells.length - 1].scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab-train-end.png"))             # the end: the run's summary
    (run,) = runs(store)
    assert run.info.status == "FINISHED" and "agileml.model_sha256" in run.data.tags
    assert run.data.tags["agileml.notebook_path"] == str(tmp_path / "experiments/train.ipynb")     # Lab told the kernel
    page = browser.find_element(By.TAG_NAME, "body").text
    assert browser.execute_script(ERRORS_IN_NOTEBOOK) == 0 and "Traceback" not in page, page[-3000:]
    assert "accuracy" in page and run.info.run_id in page            # the metrics table and the run's id and address
    assert browser.execute_script(STDERR_IN_NOTEBOOK) == 0                # no pink warning
    saved, before = tmp_path / "experiments/train.ipynb", (tmp_path / "experiments/train.ipynb").stat().st_mtime_ns
    browser.execute_script("window.jupyterapp.commands.execute('docmanager:save')")       # as Ctrl-S, or the autosave
    wait_for(lambda: saved.stat().st_mtime_ns != before, 60, "Lab saving the notebook")
    cells = json.loads(saved.read_text())["cells"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")   # as git keeps it
    assert any("parameters" in c["metadata"].get("tags", []) for c in cells)                                   # tags kept
    browser.refresh()                                                                    # reopened
    wait_for(lambda: browser.execute_script(READY), 120, "the notebook opening again with a ready kernel")
    time.sleep(2)
    assert browser.execute_script("return window.jupyterapp.shell.currentWidget.context.model.dirty") is False   # not marked changed
    assert browser.execute_script(ERRORS_IN_NOTEBOOK) == 0
    browser.execute_script(ADD_AND_RUN_A_FAILING_CELL)
    wait_for(lambda: browser.execute_script(ERRORS_IN_NOTEBOOK) == 1, 60, "the new cell's error showing")
    assert browser.execute_script("return window.jupyterapp.shell.currentWidget.context.model.dirty") is True    # a real change
    assert [r.info.status for r in runs(store)] == ["FINISHED"]          # a later mistake does not touch the ended run
    server_errors = [line for line in (tmp_path / "lab.log").read_text().splitlines() if " 500 " in line or "Traceback" in line]
    assert not server_errors, server_errors


SHOWN_WARNING_IS_AN_ERROR = """import warnings
def shown_warning_is_an_error(message, category, *args, **kwargs):
    raise AssertionError(f"a warning was shown: {category.__name__}: {message}")
warnings.showwarning = shown_warning_is_an_error"""


def run_in_a_jupyter_kernel(notebook: Path, before_last: str = "", last: str = ""):
    """Execute `notebook` top to bottom in a kernel as Jupyter's server starts one (JPY_SESSION_NAME names the notebook),
    with every warning that would be shown raised instead, `before_last` as a cell before the last, `last` after it."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SHOWN_WARNING_IS_AN_ERROR))
    if before_last: nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(before_last))
    if last: nb.cells.append(nbformat.v4.new_code_cell(last))
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(notebook.parent)}}).execute(
        env={**os.environ, "JPY_SESSION_NAME": str(notebook), "AGILEML_PROJECT": str(ROOT)})
    errors = [(i, o.ename) for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.output_type == "error"]
    stderr = [o.text for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]
    return nb, errors, stderr


def test_a_run_outside_papermill_records_its_notebook_and_stays_finished_after_a_later_error(store, tmp_path):
    notebook = tmp_path / "train.ipynb"
    shutil.copy(ROOT / "nbs/experiments/train.ipynb", notebook)
    nb, errors, stderr = run_in_a_jupyter_kernel(notebook, last='raise ValueError("a later mistake")')
    assert errors == [(len(nb.cells) - 1, "ValueError")] and stderr == []        # no warning, no error but the last
    (run,) = runs(store)
    assert run.info.status == "FINISHED" and "agileml.model_sha256" in run.data.tags
    tags = run.data.tags
    assert tags["agileml.notebook_path"] == str(notebook) and tags["agileml.notebook_sha256"] == sha256_file(notebook)
    cells = MlflowClient(store).download_artifacts(run.info.run_id, "notebook/executed_cells.py", str(tmp_path))
    assert 'parameters(globals(), "train.ipynb")' in Path(cells).read_text()
    shown = json.loads(agileml("runs", "show", run.info.run_id, "--json", check=0).stdout)
    assert shown["notebook"] == str(notebook) and shown["executed_notebook"] is None     # no executed copy: none named
    assert "executed_notebook: not recorded" in agileml("runs", "show", run.info.run_id, check=0).stdout


def test_a_failing_cell_of_a_run_outside_papermill_ends_it_failed_with_the_error(store, tmp_path):
    notebook = tmp_path / "train.ipynb"
    shutil.copy(ROOT / "nbs/experiments/train.ipynb", notebook)
    nb, errors, _ = run_in_a_jupyter_kernel(notebook, before_last='raise RuntimeError("disk full")')
    assert [e for _, e in errors] == ["RuntimeError", "UserError"]        # the cell after it refuses to log a model
    (run,) = runs(store)
    assert run.info.status == "FAILED" and run.data.tags["agileml.error"] == "RuntimeError: disk full"
    assert "agileml.model_sha256" not in run.data.tags


def _with_outputs(nb: dict) -> dict:
    "`nb` as Run All leaves it: every code cell with an execution count and an output."
    for i, c in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        c["execution_count"], c["outputs"] = i + 1, [{"output_type": "stream", "name": "stdout", "text": f"cell {i}\n"}]
    return nb


def test_a_lab_save_after_run_all_keeps_git_and_the_audit_clean(copy):
    "Saved back through Jupyter's contents API as Lab saves it after Run All: outputs, and the kernel's language_info."
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen([JUPYTER, "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                               f"--IdentityProvider.token={token}", "--allow-root"], cwd=copy / "nbs",   # as `make lab`
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/api/status?token={token}"), 120, "Jupyter answering")
        url = f"http://127.0.0.1:{port}/api/contents/experiments/train.ipynb?token={token}"
        model = json.load(urllib.request.urlopen(url, timeout=30))
        content = _with_outputs(model["content"])
        content["metadata"]["language_info"] = {
            "name": "python", "version": platform.python_version(), "mimetype": "text/x-python", "file_extension": ".py",
            "codemirror_mode": {"name": "ipython", "version": 3}, "pygments_lexer": "ipython3", "nbconvert_exporter": "python"}
        body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
        request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=30).status == 200
    finally:
        server.terminate(); server.wait(timeout=60)
    assert subprocess.run(["git", "status", "--porcelain", "nbs"], cwd=copy, capture_output=True, text=True).stdout == ""
    assert "no findings" in in_folder(copy, "audit", check=0).stdout


def test_the_audit_names_a_fix_that_fixes_a_notebook_with_outputs(copy):
    "Outputs written into an experiment notebook: the audit says `run agileml clean`, which removes them and keeps the tags."
    path = copy / "nbs/experiments/train.ipynb"
    path.write_text(json.dumps(_with_outputs(json.loads(path.read_text())), indent=1))
    found = in_folder(copy, "audit", check=1).stdout
    assert "experiments/train.ipynb" in found and "run agileml clean" in found
    assert "outputs removed: " in in_folder(copy, "clean", check=0).stdout
    assert "no findings" in in_folder(copy, "audit", check=0).stdout
    assert subprocess.run(["git", "status", "--porcelain", "nbs"], cwd=copy, capture_output=True, text=True).stdout == ""
