"Every experiment notebook runs with its small CI parameters, through agileml and through plain papermill."
import json, subprocess, sys
from pathlib import Path
import pytest
import yaml
from conftest import ROOT, agileml, module_store, runs

# train first: the smoke runs share a store, and the others analyse the run it recorded
EXPERIMENTS = sorted((ROOT / "nbs" / "experiments").glob("*.ipynb"), key=lambda p: (p.stem != "train", p.stem))


def test_there_are_experiments():
    assert {"train", "error_analysis"} <= {p.stem for p in EXPERIMENTS}


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    with module_store(tmp_path_factory, "smoke") as uri: yield uri


@pytest.mark.parametrize("nb", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_smoke_run(nb, smoke_store):
    store, smoke = smoke_store, nb.with_suffix(".smoke.yaml")
    assert smoke.is_file(), f"{nb.name} has no small CI parameters next to it ({smoke.name})"
    if nb.stem != "train" and not any(r.data.params.get("dataset") for r in runs(store)):   # run alone: record a run to analyse
        agileml("run", "train", "--params-file", str(nb.with_name("train.smoke.yaml")), check=0)
    result = json.loads(agileml("run", str(nb), "--params-file", str(smoke), "--json", check=0).stdout)
    assert result["status"] == "FINISHED"
    recorded = next(r for r in runs(store) if r.info.run_id == result["run_id"]).data.params
    assert {k: recorded[k] for k in yaml.safe_load(smoke.read_text())} == {k: str(v) for k, v in yaml.safe_load(smoke.read_text()).items()}


def test_train_notebook_runs_with_plain_papermill(store, tmp_path):
    "No agileml in between: papermill alone, as CI or a colleague would run it; the notebook records its own run."
    nb = ROOT / "nbs/experiments/train.ipynb"
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(nb), str(tmp_path / "out.ipynb"),
                          "-f", str(nb.with_suffix(".smoke.yaml")), "-p", "seed", "3", "--cwd", str(nb.parent)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = runs(store)
    assert run.info.status == "FINISHED" and run.data.params["seed"] == "3"
    assert "agileml.model_sha256" in run.data.tags


def test_a_plain_papermill_run_that_fails_is_recorded_failed(store, tmp_path):
    nb = ROOT / "nbs/experiments/train.ipynb"
    one_class = tmp_path / "one_class.csv"
    one_class.write_text("text,label\nhello there,ham\nsee you soon,ham\n")
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), str(nb), str(tmp_path / "out.ipynb"),
                          "-p", "dataset", str(one_class), "--cwd", str(nb.parent)], capture_output=True, text=True, timeout=600)
    assert out.returncode != 0 and "at least two classes" in out.stderr
    (run,) = runs(store)
    assert run.info.status == "FAILED" and "agileml.model_sha256" not in run.data.tags
