"Sweeps: every point a recorded papermill run under one parent run, locally and on a real Dask cluster."
import json, os, signal, subprocess, sys, time
from contextlib import contextmanager
from pathlib import Path
import pytest
from mlflow.tracking import MlflowClient
from conftest import AGILEML, ROOT, agileml, cli, free_port, module_store, runs, sigint_as_in_a_terminal, wait_for

SMALL = ["-p", "dataset=pang_lee_polarity", "-p", "w2v_dim=16", "-p", "w2v_epochs=2"]
GRID = ["-p", "features=tfidf,word2vec", "-p", "model=logreg,sgd", *SMALL]


def sweep_json(*args, check=0):
    "`agileml sweep ... --json`, which must exit with `check`; its JSON result."
    return json.loads(agileml("sweep", *args, "--json", check=check).stdout)


def by_point(result):
    "Point (features, model) -> (status, scores), for comparing two sweeps."
    return {(p["params"]["features"], p["params"]["model"]): (p["status"], {m: p["metrics"][m] for m in ("accuracy", "macro_f1", "mcc")})
            for p in result["points"]}


def _written_address(path: str) -> str | None:
    "The address in a scheduler file, or None while the scheduler has not written it whole."
    try: return json.loads(Path(path).read_text())["address"]
    except (FileNotFoundError, ValueError, KeyError): return None


@contextmanager
def dask_cluster(n_workers=2):
    """A Dask scheduler and `n_workers` workers, each its own process on 127.0.0.1; all stopped on exit. The scheduler picks
    its own port and writes its address to a file: a port chosen here could be taken, before the scheduler binds it, by
    another test's processes (a LocalCluster's workers bind ports as they start), and the client would talk to them."""
    import shutil, tempfile
    bin_dir, folder = Path(sys.executable).parent, Path(tempfile.mkdtemp())
    where = str(folder / "scheduler.json")
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", where], **quiet)]
    try:
        address = wait_for(lambda: _written_address(where), 60, "the Dask scheduler writing its address")
        procs += [subprocess.Popen([bin_dir / "dask", "worker", "--scheduler-file", where, "--host", "127.0.0.1", "--nworkers", "1",
                                    "--nthreads", "1", "--no-dashboard"], **quiet) for _ in range(n_workers)]
        from distributed import Client
        with Client(address, timeout=60) as client: client.wait_for_workers(n_workers, timeout=120)
        yield address
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    "A 4-point sweep with two local workers, its best run promoted; (store, JSON result, report folder)."
    with module_store(tmp_path_factory, "sweep") as uri:
        report = tmp_path_factory.mktemp("report")
        yield uri, sweep_json(*GRID, "--workers", "2", "--promote-best", "--report", str(report)), report


def test_every_point_is_a_finished_run_nested_under_the_sweep(local_sweep):
    uri, result, report = local_sweep
    client = MlflowClient(uri)
    parent = client.get_run(result["sweep_run_id"])
    assert parent.info.status == "FINISHED" and result["status"] == "FINISHED"
    assert parent.data.params["features"] == "tfidf,word2vec" and parent.data.tags["agileml.sweep_pool"] == "local, 2 workers"
    points = [client.get_run(p["run_id"]) for p in result["points"]]
    assert len(points) == 4 and {r.info.status for r in points} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in points} == {parent.info.run_id}
    assert {(r.data.params["features"], r.data.params["model"]) for r in points} == set(by_point(result))
    assert all(r.data.tags.get("agileml.model_sha256") for r in points)
    artifacts = {f.path for f in client.list_artifacts(parent.info.run_id, "report")}
    assert artifacts == {"report/sweep.csv", "report/sweep.md", "report/sweep.png"}
    assert sorted(p.name for p in report.iterdir()) == ["sweep.csv", "sweep.md", "sweep.png"]


def test_the_table_is_sorted_by_the_metric_and_the_best_run_was_promoted(local_sweep):
    uri, result, _ = local_sweep
    scores = [row["macro_f1"] for row in result["table"]]
    assert scores == sorted(scores, reverse=True)
    best = max(result["points"], key=lambda p: p["metrics"]["macro_f1"])
    assert result["best"]["run_id"] == best["run_id"] and result["table"][0]["run"] == best["run_id"][:8]
    assert result["promotion"]["promoted"] and result["promotion"]["run_id"] == best["run_id"]
    assert MlflowClient(uri).get_model_version_by_alias("agileml", "champion").run_id == best["run_id"]
    assert MlflowClient(uri).get_run(result["sweep_run_id"]).data.metrics["best_macro_f1"] == best["metrics"]["macro_f1"]


def test_a_dask_cluster_gives_the_same_results_as_local_workers(local_sweep, tmp_path, monkeypatch):
    uri, local, _ = local_sweep
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    with dask_cluster(2) as address:        # two of the local sweep's four points, one per worker
        remote = sweep_json("-p", "features=tfidf,word2vec", "-p", "model=logreg", *SMALL, "--dask", address)
    assert remote["status"] == "FINISHED" and remote["pool"] == f"dask {address}, 2 workers"
    assert by_point(remote) == {k: v for k, v in by_point(local).items() if k[1] == "logreg"} and len(remote["points"]) == 2
    assert {r.info.status for r in runs(f"sqlite:///{tmp_path / 'mlruns.db'}")} == {"FINISHED"}


def test_fresh_kernels_give_the_same_results_as_warm_ones(local_sweep, tmp_path, monkeypatch):
    "`--fresh-kernels`: every point in a process and kernel of its own, scored as on the warm kernels of the local sweep."
    _, warm, _ = local_sweep
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    fresh = sweep_json("-p", "features=tfidf,word2vec", "-p", "model=sgd", *SMALL, "--workers", "2", "--fresh-kernels")
    assert fresh["status"] == "FINISHED" and fresh["pool"] == "local, 2 workers, fresh kernels"
    assert by_point(fresh) == {k: v for k, v in by_point(warm).items() if k[1] == "sgd"} and len(fresh["points"]) == 2


def test_a_failing_point_is_reported_with_its_notebook_and_the_others_finish(store, tmp_path):
    "A point that fails only inside its kernel: every row held out leaves nothing to train on."
    out = agileml("sweep", "-p", "dataset=pang_lee_polarity", "-p", "test_size=0.2,1.0", check=1).stdout
    recorded = {"sweep" if "agileml.sweep_points" in r.data.tags else r.data.params["test_size"]: r for r in runs(store)}
    assert recorded["sweep"].info.status == "FAILED" and recorded["0.2"].info.status == "FINISHED"
    failed = recorded["1.0"]
    assert failed.info.status == "FAILED" and "stratified split" in failed.data.tags["agileml.error"]
    assert f"FAILED: test_size=1.0 (run {failed.info.run_id}): " in out
    notebook = Path(out.split("executed notebook: ")[1].split()[0])
    assert "stratified split" in notebook.read_text() and failed.info.run_id in str(notebook)   # the failing cell, executed
    assert f"best: run {recorded['0.2'].info.run_id}" in out


def test_a_bad_value_anywhere_stops_the_sweep_before_anything_runs(store):
    out = cli("sweep", "-p", "model=logreg,svm", "-p", "C=1,2", check=2)
    assert "nothing was run" in out.stderr and "point 3 (model=svm C=1)" in out.stderr and "logreg" in out.stderr
    assert cli("sweep", "-p", "model=logreg", "--random", "3", check=2).stderr.count("the grid has 1 point;") == 1
    assert "--workers 0" in cli("sweep", "-p", "model=logreg", "--workers", "0", check=2).stderr
    assert "use one of accuracy" in cli("sweep", "-p", "model=logreg", "--metric", "auc", check=2).stderr
    assert runs(store) == []


def test_an_unreachable_dask_scheduler_is_one_message(store):
    out = cli("sweep", "-p", "model=logreg", "--dask", f"tcp://127.0.0.1:{free_port()}", check=2)
    assert "cannot reach a Dask scheduler" in out.stderr and "dask scheduler" in out.stderr
    assert "tcp://host:port" in cli("sweep", "-p", "model=logreg", "--dask", "nowhere", check=2).stderr
    assert runs(store) == []


def test_ctrl_c_stops_the_sweep_and_leaves_no_running_run(store):
    slow = ["-p", "features=word2vec", "-p", "w2v_epochs=1000"]       # points still running when Ctrl-C comes
    proc = subprocess.Popen([AGILEML, "sweep", *slow, "-p", "model=logreg,sgd", "-p", "C=0.5,1,2", "--workers", "2", "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=sigint_as_in_a_terminal)
    try:
        wait_for(lambda: sum(r.info.status == "RUNNING" for r in runs(store)) >= 3, 120, "the sweep and two points running")
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGINT)                # what Ctrl-C in a terminal does
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)   # a sweep that did not stop is not left running
    assert proc.returncode == 130, err[-2000:]
    result, recorded = json.loads(out), runs(store)
    assert result["status"] == "KILLED" and "RUNNING" not in {r.info.status for r in recorded}
    killed = [p for p in result["points"] if p["status"] == "KILLED"]
    assert killed and all(Path(p["notebook"]).is_file() for p in killed)
    assert {p["status"] for p in result["points"]} <= {"KILLED", "CANCELLED", "FINISHED"}
    assert len(recorded) == 1 + sum(p["run_id"] != "" for p in result["points"])
