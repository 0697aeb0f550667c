"`agileml train`: parameters checked before any kernel starts, runs executed by papermill and recorded in MLflow."
import json, os
from concurrent.futures import ThreadPoolExecutor
import nbformat
from agileml.runner import RunResult
import pytest
from mlflow.tracking import MlflowClient
from conftest import ROOT, agileml, cli, gone, module_store, require_dataset, runs, spare_pids, train_json, train_warm, warm_kernel
from agileml.catalog import load_registry
from agileml.data import sha256_file
SCORES = ("accuracy", "macro_f1", "mcc")        # what a single-label run is scored by


def test_misspelt_parameter_is_refused_before_any_run(store):
    out = agileml("train", "-p", "lerning_rate=0.1", check=2)
    assert "unknown parameter 'lerning_rate' (did you mean 'w2v_learning_rate'?)" in out.stderr
    assert "Valid parameters: dataset, text_column" in out.stderr
    assert "Traceback" not in out.stderr
    assert runs(store) == []          # nothing half-written: no run, not even a store


def test_ill_typed_and_out_of_range_values_are_refused_together(store):
    out = agileml("train", "-p", "test_size=abc", "-p", "ngram_max=9", "-p", "model=bert", check=2)
    assert "test_size='abc' is not a valid float" in out.stderr
    assert "ngram_max=9 is out of range" in out.stderr
    assert "model='bert' is not one of: logreg, linear_svc, sgd, nb, nbsvm" in out.stderr
    out = agileml("simulate", "-p", "orders=uncertainty,sideways", check=2)     # a list the declaration cannot check
    assert "no queue order 'sideways': accepted: uncertainty, newest, random" in out.stderr
    assert runs(store) == []


def test_extra_data_that_is_not_there_is_refused_before_any_run(store):
    out = agileml("train", "-p", "extra_data=curated.jsonl,nothere.csv", check=2)       # in the project's folder
    assert f"extra_data: no such file: curated.jsonl, nothere.csv (looked in {ROOT})" in out.stderr, out.stderr
    assert "csv/fasttext/jsonl/parquet/tsv files, comma-separated" in out.stderr and "Traceback" not in out.stderr
    assert runs(store) == []


def test_params_lists_every_parameter_with_type_default_and_help():
    rows = {r["name"]: r for r in json.loads(agileml("params", "train", "--json", check=0).stdout)}
    assert rows["test_size"] == dict(name="test_size", type="float", default="0.2", accepted="> 0, <= 1",
                                     help="held-out share when the dataset has no published split")
    assert rows["features"]["accepted"] == "tfidf | bow | binary | word2vec | tfidf+word2vec"
    assert "run_id" in rows
    assert "w2v_pooling" in agileml("params", check=0).stdout


@pytest.fixture(scope="module")
def sms_tfidf_runs(tmp_path_factory):
    """Two default runs (tf-idf + linear SVM on the SMS Spam Collection) at once: one offline, on the copy shipped in the
    package, as `make run` trains; one on the shared data set (AGILEML_DATA_HOME)."""
    require_dataset("sms_spam")
    empty = tmp_path_factory.mktemp("no_data_home")
    with module_store(tmp_path_factory, "sms") as uri:
        with ThreadPoolExecutor(2) as pool:
            offline = pool.submit(train_json, env={**os.environ, "AGILEML_DATA_HOME": str(empty)})
            shared = pool.submit(train_json, "dataset=sms_spam", "features=tfidf", "model=linear_svc")
            return uri, empty, (offline.result(), shared.result())


def test_default_run_works_offline_and_records_everything(sms_tfidf_runs):
    "What `make run` does: the SMS Spam Collection shipped in the package, no data home, recorded with notebook, model and provenance."
    store, empty, (result, _) = sms_tfidf_runs
    assert result["status"] == "FINISHED" and result["metrics"]["accuracy"] >= 0.98, result["metrics"]
    run = MlflowClient(store).get_run(result["run_id"])
    ds = load_registry("sms_spam", home=empty)
    assert (run.data.params["ngram_max"], run.data.params["min_df"]) == ("2", "1")        # 0 by default: the labels' defaults
    assert run.data.params["dataset"] == "sms_spam" and run.data.tags["agileml.data_source"].endswith("agileml/datasets/SMSSpamCollection.gz")
    assert run.data.tags["agileml.data_fingerprint"] == ds.fingerprint
    assert len(run.data.tags["agileml.git_commit"]) == 40 and run.data.tags["agileml.git_dirty"] in ("true", "false")
    assert run.data.tags["agileml.notebook_sha256"] == sha256_file(ROOT / "nbs/experiments/train.ipynb")
    for pkg in ("python", "scikit-learn", "gensim", "mlflow", "papermill"):
        assert run.data.tags[f"agileml.version.{pkg}"]
    assert {m: run.data.metrics[m] for m in SCORES} == {m: result["metrics"][m] for m in SCORES}
    files = {f.path for d in ("notebook", "model", "evaluation")
             for f in MlflowClient(store).list_artifacts(result["run_id"], d)}
    assert {"notebook/train.ipynb", "notebook/train.html", "model/model.skops", "model/MLmodel",
            "evaluation/confusion_matrix.png", "evaluation/per_class_report.json"} <= files
    executed = nbformat.read(result["notebook"], as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    said = RunResult(**result).report()            # what `make run` prints for it
    assert f"sms_spam, single-label: {int(result['metrics']['train_rows'])} rows to train" in said
    assert f"next:              agileml promote {result['run_id']}   then   agileml serve" in said and ".0000 " not in said


def test_a_failing_notebook_is_recorded_failed_with_its_notebook_and_no_model(store):
    "Every row held out: the split fails inside the kernel, after the run started."
    out = agileml("train", "-p", "dataset=pang_lee_polarity", "-p", "test_size=1.0", "--json", check=1)
    result = json.loads(out.stdout)
    assert result["status"] == "FAILED"
    assert "DataError" in result["error"] and "stratified split" in result["error"]
    run = MlflowClient(store).get_run(result["run_id"])
    assert run.info.status == "FAILED" and "agileml.model_sha256" not in run.data.tags
    assert MlflowClient(store).list_artifacts(result["run_id"], "model") == []
    executed = nbformat.read(result["notebook"], as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "DataError"


def test_a_kernel_that_does_not_start_fails_the_run_with_the_reason(store, tmp_path):
    "Jupyter's python3 kernel replaced by a program that exits at once: the run ends FAILED, saying the kernel did not start."
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["false", "{connection_file}"], "display_name": "gone", "language": "python"}))
    out = agileml("train", "--json", check=1, env={**os.environ, "JUPYTER_PATH": str(tmp_path)})
    result = json.loads(out.stdout)
    assert result["status"] == "FAILED" and result["error"].startswith("the kernel did not start"), result["error"]
    assert MlflowClient(store).get_run(result["run_id"]).info.status == "FAILED"


def test_the_kernel_records_through_the_runner_without_mlflow(store):
    "A whole run on a warm kernel: the notebook's records reach the run through the runner, and the kernel never imported MLflow."
    result = train_warm("features=bow", "model=nb")
    warm_kernel().run("import sys; assert 'mlflow' not in sys.modules, 'the kernel imported MLflow'")
    run = MlflowClient(store).get_run(result["run_id"])
    assert (run.data.params["features"], run.data.params["model"]) == ("bow", "nb") and run.data.tags["agileml.model_sha256"]
    assert run.data.metrics["accuracy"] == result["metrics"]["accuracy"] and "lift_macro_f1" in run.data.metrics


def test_sms_spam_tfidf_linear_svc_reaches_the_floor(sms_tfidf_runs):
    uri, _, (_, result) = sms_tfidf_runs
    assert result["metrics"]["accuracy"] >= 0.985, result["metrics"]
    run = MlflowClient(uri).get_run(result["run_id"])
    assert run.data.tags["agileml.data_split"] == "seeded"
    assert run.data.tags["agileml.data_fingerprint"] == load_registry("sms_spam").fingerprint
    assert {f.path for f in MlflowClient(uri).list_artifacts(result["run_id"], "model")} >= {"model/model.skops"}


def test_the_same_tfidf_run_twice_gives_identical_metrics(sms_tfidf_runs):
    "The same parameters on the same rows (the packaged copy and the shared data set have one fingerprint): the same scores."
    uri, _, (a, b) = sms_tfidf_runs
    assert a["run_id"] != b["run_id"]
    tags = [MlflowClient(uri).get_run(r["run_id"]).data.tags for r in (a, b)]
    assert tags[0]["agileml.data_fingerprint"] == tags[1]["agileml.data_fingerprint"]
    assert tags[0]["agileml.data_source"] != tags[1]["agileml.data_source"]
    assert {m: a["metrics"][m] for m in SCORES} == {m: b["metrics"][m] for m in SCORES}


def test_word2vec_runs_are_recorded_and_learn(store):
    "Repeatability of word2vec runs is test_lifecycle.py::test_reproduce_gives_identical_scores[w2v]."
    require_dataset("sms_spam")
    small = ("w2v_dim=32", "w2v_epochs=5")             # word2vec small enough to be quick, still well above the majority class
    alone = train_warm("dataset=sms_spam", "features=word2vec", "model=linear_svc", *small)
    assert alone["metrics"]["accuracy"] > 0.9
    both = train_warm("dataset=sms_spam", "features=tfidf+word2vec", "model=linear_svc", *small)
    recorded = {r.info.run_id: r for r in runs(store)}
    assert recorded[both["run_id"]].data.params["features"] == "tfidf+word2vec"
    assert all(r.info.status == "FINISHED" for r in recorded.values()) and len(recorded) == 2


def test_the_command_shows_flags_as_flags_says_its_version_and_has_one_root(tmp_path):
    from importlib.metadata import version
    assert cli("--version", check=0).stdout.startswith(f"agileml {version('agileml')} (mlflow ")
    helped = cli("train", "--help", check=0).stdout
    assert "  --json " in helped and "<bool>" not in helped
    assert "--root" not in cli("audit", "--help", check=0).stdout          # one --root: the command's, before the subcommand
    before = os.environ.get("AGILEML_PROJECT")
    assert "no findings" in cli("--root", str(ROOT), "audit", check=0).stdout
    assert os.environ.get("AGILEML_PROJECT") == before                    # --root lasts as long as its command


def test_a_run_leaves_a_spare_kernel_that_the_next_run_uses(store, tmp_path):
    """Spare kernels on (as outside the tests): a run leaves one; the next run (into another store: what a run sets in its
    kernel may differ) uses it and stops it, scores the same, leaves one; one that cannot be left is said, not failed."""
    runtime = tmp_path / "runtime"
    env = {**os.environ, "AGILEML_SPARE_KERNEL": "120", "JUPYTER_RUNTIME_DIR": str(runtime)}
    try:
        first = train_json("model=nb", env=env)
        (left,) = spare_pids(runtime)
        assert not gone(left)
        (listed,) = json.loads(agileml("kernels", "--json", check=0, env=env).stdout)       # `agileml kernels` shows it
        assert listed["pid"] == left and listed["used_by_the_next_run"] == "yes" and 0 < listed["stops_in_s"] <= 120
        other = f"sqlite:///{tmp_path / 'other.db'}"       # what the run sets in its kernel may differ: another store
        second = train_json("model=nb", env={**env, "MLFLOW_TRACKING_URI": other})
        (again,) = spare_pids(runtime)
        assert again != left and gone(left) and not gone(again)       # claimed, used, stopped with its run; a new one waits
        assert {m: first["metrics"][m] for m in SCORES} == {m: second["metrics"][m] for m in SCORES}
        assert [r.info.run_id for r in runs(other)] == [second["run_id"]]
        out = agileml("train", check=2, env={**env, "AGILEML_SPARE_KERNEL": "soon"})
        assert "AGILEML_SPARE_KERNEL='soon' is not a number of seconds" in out.stderr and "Traceback" not in out.stderr
        assert len(runs(store)) == 1 and spare_pids(runtime) == [again]
        (tmp_path / "file").write_text("not a folder")       # no spare kernel can be left there: the run is not failed for it
        out = agileml("train", "-p", "model=nb", "--json", check=0, env={**env, "JUPYTER_RUNTIME_DIR": str(tmp_path / "file")})
        assert json.loads(out.stdout)["status"] == "FINISHED" and "Traceback" not in out.stderr
        assert "no kernel was left ready for the next run" in out.stderr and "it will start its own" in out.stderr
    finally:
        out = agileml("kernels", "--stop", env=env)
    assert out.returncode == 0 and "1 spare kernel(s) stopped" in out.stdout and spare_pids(runtime) == [] and gone(again)
    assert "no spare kernel is waiting" in agileml("kernels", check=0, env=env).stdout
