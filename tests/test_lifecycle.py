"Run lifecycle against a real MLflow store: list, show, compare, reproduce, promote through the gate, roll back."
import json, os, signal, subprocess, time
from pathlib import Path
import mlflow, pytest
from mlflow.tracking import MlflowClient
from conftest import (AGILEML, ARTIFACTS, ROOT, cli, free_port, gone, module_store, require_dataset, runs, spare_pids,
                      start_long_training, train_json_all, wait_for)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A fresh store and four trainings started at once on it: tf-idf, word2vec and tf-idf on another split of the offline
    dataset, and tf-idf on the SMS Spam Collection (other data)."""
    require_dataset("sms_spam")
    with module_store(tmp_path_factory, "lab") as uri:
        small = "dataset=pang_lee_polarity"
        made = dict(zip(("tfidf", "w2v", "other_split", "other_data"),
                        train_json_all((small,), (small, "features=word2vec", "w2v_dim=16", "w2v_min_count=1"), (small, "seed=7"),
                                       ("dataset=sms_spam",))))
    return uri, {k: v["run_id"] for k, v in made.items()}


@pytest.fixture
def in_lab(lab, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab[0])
    return lab[1]


def cli_json(*args, check=0):
    return json.loads(cli(*args, "--json", check=check).stdout)


def test_runs_lists_filters_and_sorts(in_lab):
    assert {r["run_id"] for r in cli_json("runs")} == set(in_lab.values())
    rows = cli_json("runs", "--dataset", "pang_lee_polarity")
    assert {r["run_id"] for r in rows} == set(in_lab.values()) - {in_lab["other_data"]}
    assert all(r["status"] == "FINISHED" and r["dataset"] == "pang_lee_polarity" for r in rows)
    best = cli_json("runs", "--sort", "macro_f1")
    assert [r["macro_f1"] for r in best] == sorted((r["macro_f1"] for r in best), reverse=True) and len(best) == 4
    assert len(cli_json("runs", "--limit", "1")) == 1
    assert "no runs match" in cli("runs", "--status", "FAILED", check=1).stderr
    assert "status 'DONE' is not one of" in cli("runs", "--status", "DONE", check=2).stderr
    assert "cannot sort by 'speed'" in cli("runs", "--sort", "speed", check=2).stderr
    table = cli("runs", check=0).stdout
    assert in_lab["tfidf"][:8] in table and "macro_f1" in table


def test_runs_show_says_where_notebook_and_model_are(in_lab):
    d = cli_json("runs", "show", in_lab["w2v"][:10])
    assert d["run_id"] == in_lab["w2v"] and d["params"]["features"] == "word2vec"
    assert Path(d["executed_notebook"]).is_file() and Path(d["notebook_html"]).is_file()
    assert d["notebook"] == "nbs/experiments/train.ipynb"          # the notebook it ran, not "not recorded"
    assert (Path(d["model"]) / "model.skops").is_file()
    assert "no run 'feedface'" in cli("runs", "show", "feedface", check=2).stderr


def test_runs_compare_names_what_differs(in_lab):
    d = cli_json("runs", "compare", in_lab["tfidf"], in_lab["w2v"])
    assert d["params"]["features"] == ["tfidf", "word2vec"]
    assert d["metrics"]["accuracy"]["delta"] == pytest.approx(d["metrics"]["accuracy"]["b"] - d["metrics"]["accuracy"]["a"])
    assert d["same_data"] and d["same_test_split"] and d["same_commit"] and d["same_packages"]
    assert not cli_json("runs", "compare", in_lab["tfidf"], in_lab["other_split"])["same_test_split"]


@pytest.mark.parametrize("kind", ["tfidf", "w2v"])
def test_reproduce_gives_identical_scores(in_lab, kind):
    d = cli_json("reproduce", in_lab[kind])
    assert d["identical"] and d["metric_differences"] == {} and d["status"] == "FINISHED"
    new = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(d["reproduction"])
    assert new.data.tags["agileml.reproduces"] == in_lab[kind]


def champion_tagged():
    "The runs carrying the champion tag, which MLflow's run list shows."
    return [r.info.run_id for r in runs(os.environ["MLFLOW_TRACKING_URI"]) if r.data.tags.get("agileml.champion") == "true"]


def test_promotion_gate_champion_and_rollback(in_lab):
    assert "no champion yet" in cli("champion", check=2).stderr
    assert "no champion to roll back" in cli("rollback", check=2).stderr
    first = cli_json("promote", in_lab["tfidf"])
    assert first["version"] == "1" and first["previous"] is None
    refused = cli("promote", in_lab["other_split"], check=1).stderr
    assert "tested on other rows than the champion" in refused
    refused = cli("promote", in_lab["w2v"], "--min-gain", "1.0", check=1).stderr
    assert "does not beat the champion's" in refused and "by more than 1.0" in refused
    assert "--force needs --reason" in cli("promote", in_lab["w2v"], "--force", check=2).stderr
    forced = cli_json("promote", in_lab["w2v"], "--force", "--reason", "word2vec for the demo", "--min-gain", "1.0")
    assert forced["previous"] == "1" and forced["promotion"].startswith("forced: word2vec for the demo")
    champ = cli_json("champion")
    assert champ["run_id"] == in_lab["w2v"] and champ["version"] == "2"
    assert Path(champ["executed_notebook"]).is_file() and len(champ["git_commit"]) == 40
    assert [r["champion"] for r in cli_json("runs") if r["run_id"] == in_lab["w2v"]] == [True]
    assert champion_tagged() == [in_lab["w2v"]]
    back = cli_json("rollback")
    assert (back["version"], back["replaced"], back["run_id"]) == ("1", "2", in_lab["tfidf"])
    assert cli_json("champion")["run_id"] == in_lab["tfidf"] and champion_tagged() == [in_lab["tfidf"]]
    signature = mlflow.models.get_model_info("models:/agileml@champion").signature
    assert [(c.name, c.type.name) for c in signature.inputs.inputs] == [("text", "string")]
    assert "nothing to roll back to" in cli("rollback", check=2).stderr


def test_a_run_on_other_data_is_refused(in_lab):
    if not any(r["champion"] for r in cli_json("runs")): cli_json("promote", in_lab["tfidf"])   # when run alone
    refused = cli("promote", in_lab["other_data"], check=1).stderr
    assert "evaluated on data" in refused and "(sms_spam)" in refused and "(pang_lee_polarity)" in refused


def test_a_tampered_model_is_refused_by_promote_and_load_and_nothing_else_changes(in_lab):
    from agileml.model_file import ModelError, load_model
    model_file = Path(cli_json("runs", "show", in_lab["other_split"])["model"]) / "model.skops"
    with open(model_file, "ab") as f: f.write(b"tampered")
    before = cli("champion", "--json").stdout
    refused = cli("promote", in_lab["other_split"], "--force", "--reason", "try anyway", check=1).stderr
    assert "cannot be promoted, even with --force" in refused and "altered afterwards" in refused
    with pytest.raises(ModelError, match="altered afterwards"):
        load_model(in_lab["other_split"])
    assert cli("champion", "--json").stdout == before
    assert load_model(in_lab["tfidf"]).predict(["a gorgeous, moving film"])[0] in ("pos", "neg")


def test_four_trainings_at_once_on_a_fresh_sqlite_store(lab):
    "The lab's four runs were started at once on a store nobody had opened (train_json_all: each exits 0, says nothing of locks)."
    started = [r for r in runs(lab[0]) if r.info.run_id in lab[1].values()]      # other tests add reproductions later
    assert len(started) == 4 and {r.info.status for r in started} == {"FINISHED"}


@pytest.mark.parametrize("sig,spare", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["ctrl-c", "sigterm", "ctrl-c-on-a-spare-kernel"])
def test_an_interrupted_run_ends_killed_with_its_partial_notebook(store, sig, spare, tmp_path):
    "Stopped in a cell: the run ends KILLED, and its kernel with it, also a spare kernel it claimed; it leaves none behind."
    env = {"AGILEML_SPARE_KERNEL": "120", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")} if spare else {}
    if spare:      # a short run leaves a spare kernel, which the long one claims
        subprocess.run([AGILEML, "train", "-p", "model=nb"], cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path), **env},
                       check=True, capture_output=True)
        (left,) = spare_pids(tmp_path / "runtime")
    proc = start_long_training(tmp_path, env)
    try:
        time.sleep(2)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None: proc.kill()          # a command that did not stop is not left training
    assert proc.returncode == 130, err[-2000:]
    if spare: assert gone(left) and spare_pids(tmp_path / "runtime") == []      # the spare kernel stopped with the run, none left
    (run, *earlier) = runs(store)       # newest first
    assert len(earlier) == int(spare)   # with a spare kernel, the short run that left it
    assert run.info.status == "KILLED" and json.loads(out)["status"] == "KILLED"
    assert run.data.params["features"] == "word2vec" and "agileml.model_sha256" not in run.data.tags   # what it recorded before
    assert {f.path for f in MlflowClient(store).list_artifacts(run.info.run_id, "notebook")} >= {"notebook/train.ipynb"}


def test_make_ui_opens_on_the_runs_with_their_scores(lab, offline_browser):
    "MLflow's own UI over the same store, as `make ui` starts it: the address it prints shows the runs' scores; the test stops it."
    import urllib.request
    from selenium.webdriver.common.by import By
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": lab[0], "PORT": str(port)}
    ui = subprocess.Popen(["make", "--no-print-directory", "ui"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        said = [ui.stdout.readline() for _ in range(2)]        # make's echo of the command, then the address
        address = next(line for line in said if line.startswith("MLflow UI: ")).split()[2]
        assert address.startswith(f"http://127.0.0.1:{port}/#/experiments/") and address.endswith("/runs?viewStateShareKey=agileml")
        body, deadline = None, time.time() + 120
        while body is None and time.time() < deadline:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                                             data=b'{"max_results": 10}', headers={"Content-Type": "application/json"})
                body = json.load(urllib.request.urlopen(req, timeout=5))
            except OSError: time.sleep(1)
        assert body is not None, "the UI did not answer within 120 s"
        (agileml,) = [e for e in body["experiments"] if e["name"] == "agileml"]
        kind = {t["key"]: t["value"] for t in agileml.get("tags", [])}.get("mlflow.experimentKind")
        assert kind == "custom_model_development"       # the UI opens it on its runs, not on GenAI traces
        offline_browser.set_window_size(1400, 900)
        offline_browser.get(address)
        headers = lambda: offline_browser.find_element(By.TAG_NAME, "body").text
        wait_for(lambda: all(f"\n{m}" in headers() for m in ("accuracy", "macro_f1", "mcc")), 60, "the score columns showing")
        assert "Sort: macro_f1" in headers() and "0.9" in headers()           # best first; the SMS runs' scores
        ARTIFACTS.mkdir(exist_ok=True)
        offline_browser.save_screenshot(str(ARTIFACTS / "mlflow-ui-runs.png"))
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
