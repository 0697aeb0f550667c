"A newcomer's first hour: the project you stand in, experiments as files, any corpus layout, no run left RUNNING."
import json, os, shutil, signal, subprocess, sys, tarfile, time
from pathlib import Path
import nbformat
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from conftest import ROOT, in_folder, require_dataset, runs, start_long_training, train_warm

PAPERMILL = str(Path(sys.executable).parent / "papermill")


def test_the_audit_audits_the_project_you_stand_in(copy):
    (copy / "nbs" / "stray.ipynb").write_text((copy / "nbs/experiments/train.ipynb").read_text())
    (copy / "agileml" / "orphan.py").write_text("x = 1\n")
    out = in_folder(copy / "nbs", "audit", check=1)
    assert f"audit of {copy}" in out.stdout
    assert "nbs/stray.ipynb" in out.stdout and "agileml/orphan.py" in out.stdout
    elsewhere = in_folder(copy.parent, "--root", str(copy), "audit", check=1)   # --root from outside any project
    assert "agileml/orphan.py" in elsewhere.stdout
    assert f"working on the project in {ROOT} (installed checkout), not the current folder" in in_folder("/", "params", check=0).stderr


def test_a_new_experiment_passes_the_audit_and_runs_and_needs_its_smoke_file(copy, store):
    out = in_folder(copy, "new", "experiment", "probe", check=0)
    nb, smoke = copy / "nbs/experiments/probe.ipynb", copy / "nbs/experiments/probe.smoke.yaml"
    assert str(nb) in out.stdout and smoke.is_file()
    assert "no findings" in in_folder(copy, "audit", check=0).stdout
    params = {r["name"]: r for r in json.loads(in_folder(copy, "params", "probe", "--json", check=0).stdout)}
    assert params["test_size"]["accepted"] == "> 0, < 1"
    assert "test_size=1.5 is out of range" in in_folder(copy, "run", "probe", "-p", "test_size=1.5", check=2).stderr
    result = json.loads(in_folder(copy, "run", "probe", "--params-file", str(smoke), "--json", check=0).stdout)
    assert result["status"] == "FINISHED" and result["metrics"]["test_rows"] == 1115
    run = MlflowClient(store).get_run(result["run_id"])
    assert run.data.tags["mlflow.source.name"] == "nbs/experiments/probe.ipynb" and run.data.params["dataset"] == "sms_spam"
    helped = subprocess.run([PAPERMILL, "--help-notebook", str(nb)], capture_output=True, text=True, cwd=copy).stdout
    assert "test_size: float (default 0.2)" in helped and "(0, 1) held-out share" in helped
    smoke.unlink()
    failed = in_folder(copy, "audit", check=1).stdout
    assert "nbs/experiments/probe.ipynb" in failed and "no probe.smoke.yaml beside it" in failed


def news_corpus(folder, groups, per_group=120):
    "One subfolder of posts per newsgroup, taken from the shared 20 Newsgroups archive; {group: [(subject, body)]}."
    from agileml.catalog import REGISTRY, fetch
    taken = {g: [] for g in groups}
    with tarfile.open(fetch(REGISTRY["20newsgroups"])) as tar:
        for m in tar:
            parts = Path(m.name).parts
            if not m.isfile() or len(parts) != 3 or parts[1] not in groups or len(taken[parts[1]]) >= per_group: continue
            text = tar.extractfile(m).read().decode("latin-1")
            (folder / parts[1]).mkdir(parents=True, exist_ok=True)
            (folder / parts[1] / parts[2]).write_text(text, "utf-8")
            head, _, body = text.partition("\n\n")
            subject = next((l[8:].strip() for l in head.splitlines() if l.startswith("Subject:")), "")
            taken[parts[1]].append((subject, " ".join(body.split())))
    return taken


GROUPS = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.politics.mideast", "soc.religion.christian"]


def test_a_folder_per_class_corpus_and_a_headerless_csv_train(store, tmp_path):
    require_dataset("20newsgroups")
    posts = news_corpus(tmp_path / "corpus", GROUPS)
    result = train_warm(f"dataset={tmp_path / 'corpus'}")
    assert result["metrics"]["accuracy"] >= 0.95, result["metrics"]
    import csv
    with open(tmp_path / "news.csv", "w", newline="") as f:
        csv.writer(f).writerows((g, subject, body) for g, items in posts.items() for subject, body in items)
    refused = in_folder(ROOT, "train", "-p", f"dataset={tmp_path / 'news.csv'}", check=2).stderr
    assert "first row looks like data" in refused and "header=false" in refused and "Traceback" not in refused
    result = train_warm(f"dataset={tmp_path / 'news.csv'}", "header=false", "text_column=2,3", "label_column=1")
    assert result["metrics"]["accuracy"] >= 0.9, result["metrics"]
    assert len(runs(store)) == 2      # the refused one recorded nothing


def test_a_wrong_column_is_refused_before_any_run(store, tmp_path):
    data = tmp_path / "sms.csv"
    data.write_text("text,label\nWin a prize now,spam\nSee you at 5,ham\nFree entry,spam\nOn my way,ham\n")
    out = in_folder(ROOT, "train", "-p", f"dataset={data}", "-p", "text_column=nope", check=2)
    assert "has no column 'nope'; its columns are: text, label" in out.stderr and "Traceback" not in out.stderr
    assert runs(store) == []


def test_a_run_whose_process_was_killed_is_marked_lost(store, tmp_path):
    proc = start_long_training(tmp_path, start_new_session=True)
    os.killpg(proc.pid, signal.SIGKILL)               # what an out-of-memory kill does: no handler runs
    proc.wait(timeout=60)
    time.sleep(1)
    (run,) = runs(store)
    assert run.info.status == "RUNNING"                # nothing ended it
    listed = json.loads(in_folder(ROOT, "runs", "--json", check=0).stdout)
    assert [r["status"] for r in listed] == ["KILLED"]
    assert MlflowClient(store).get_run(run.info.run_id).data.tags["agileml.error"].startswith("lost: its process is gone")


def test_error_analysis_of_a_run_is_recorded_and_linked_to_it(store):
    trained = train_warm()                                               # the default run, as `agileml train` records it
    result = json.loads(in_folder(ROOT, "run", "error_analysis", "-p", f"run={trained['run_id'][:8]}", "--json", check=0).stdout)
    assert result["status"] == "FINISHED"
    run = MlflowClient(store).get_run(result["run_id"])
    assert run.data.tags["agileml.analyses"] == trained["run_id"]
    assert run.data.metrics["accuracy"] == trained["metrics"]["accuracy"]          # the same model on the same test rows
    assert run.data.metrics["misclassified"] == round((1 - trained["metrics"]["accuracy"]) * 1115)
    files = {f.path for f in MlflowClient(store).list_artifacts(result["run_id"], "analysis")}
    assert files == {"analysis/misclassified.csv", "analysis/confused.csv", "analysis/slices.csv", "analysis/confusion.png"}
    assert "no run 'nope'" in in_folder(ROOT, "run", "error_analysis", "-p", "run=nope", check=1).stdout


def test_error_analysis_of_a_tag_run_shows_tags_worst_first_errors_and_thresholds(store, tmp_path):
    require_dataset("reuters21578")
    from agileml.catalog import load_registry
    reuters, keep = load_registry("reuters21578"), {"earn", "acq", "crude", "grain", "wheat", "trade", "money-fx", "interest"}
    rows = [(t, sorted(set(ls) & keep)) for t, ls in zip(reuters.texts, reuters.labels) if set(ls) & keep][:800]
    (tmp_path / "stories.jsonl").write_text("".join(json.dumps({"text": t, "tags": ls}) + "\n" for t, ls in rows))
    trained = train_warm(f"dataset={tmp_path / 'stories.jsonl'}", "ngram_max=1")
    result = json.loads(in_folder(ROOT, "run", "error_analysis", "-p", f"run={trained['run_id']}", "--json", check=0).stdout)
    assert result["status"] == "FINISHED", result["error"]
    run = MlflowClient(store).get_run(result["run_id"])
    assert run.data.tags["agileml.analyses"] == trained["run_id"] and run.data.metrics["micro_f1"] == trained["metrics"]["micro_f1"]
    files = {f.path for f in MlflowClient(store).list_artifacts(result["run_id"], "analysis")}
    assert files == {f"analysis/{n}" for n in ("per_tag.csv", "tag_errors.csv", "confused.csv", "slices.csv", "thresholds.csv", "thresholds.png")}
    per_tag = pd.read_csv(MlflowClient(store).download_artifacts(result["run_id"], "analysis/per_tag.csv", str(tmp_path)))
    assert list(per_tag.f1) == sorted(per_tag.f1) and set(per_tag.tag) <= keep          # worst first
    executed = nbformat.read(result["notebook"], as_version=4)
    assert any("suggested for:" in str(o.get("data", {})) or "missed for:" in str(o.get("data", {})) for c in executed.cells for o in c.get("outputs", []))
