"The technical-debt audit: each kind of debt planted in a copy of the project is named; the project itself audits clean."
import json, shutil, subprocess
import pytest
from conftest import ROOT, cli


@pytest.fixture
def project(tmp_path):
    "A copy of this checkout (what git would commit, plus new files not ignored), as its own git repository."
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for f in files:
        if (ROOT / f).is_file():
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, tmp_path / f)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def audit_json(root, check):
    return json.loads(cli("--root", str(root), "audit", "--json", check=check).stdout)


def edit_notebook(path, change):
    "Load a notebook's JSON, let `change` edit it, write it back."
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb, indent=1))


def code_cell(source):
    return {"cell_type": "code", "execution_count": None, "id": "planted0", "metadata": {}, "outputs": [], "source": source}


def stray_notebook(root):
    (root / "nbs/old_idea.ipynb").write_text(json.dumps({"cells": [code_cell("x = 1")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    shutil.copy(root / "nbs/old_idea.ipynb", root / "nbs/_scratch.ipynb")       # scratch by the convention: allowed


def unregistered_experiment(root):
    shutil.copy(root / "nbs/experiments/train.ipynb", root / "nbs/experiments/train_v2.ipynb")


def deleted_notebook(root):
    (root / "nbs/08_explain.ipynb").unlink()


def two_notebooks_one_module(root):
    shutil.copy(root / "nbs/04_evaluate.ipynb", root / "nbs/04b_evaluate.ipynb")


def hand_edit(root):
    with open(root / "agileml/models.py", "a") as f: f.write("\nQUICK_FIX = 1\n")


def notebook_with_outputs(root):
    def add_output(nb):
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "test_eq" in "".join(c["source"]))
        cell.update(execution_count=3, outputs=[{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}])
    edit_notebook(root / "nbs/03_models.ipynb", add_output)


def declare_in_train(root, line):
    "Append one declaration to the train notebook's parameters cell."
    def add(nb):
        cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        cell["source"] = [*cell["source"][:-1], cell["source"][-1].rstrip("\n") + "\n", line]
    edit_notebook(root / "nbs/experiments/train.ipynb", add)


def unread_parameter(root):
    declare_in_train(root, "unused_knob: int = 3  # nothing reads it")


def undeclared_smoke_parameter(root):
    with open(root / "nbs/experiments/train.smoke.yaml", "a") as f: f.write("bogus_param: 1\n")


def wrongly_declared_parameter(root):
    declare_in_train(root, "knob: int = 9  # [1, 5] a default outside its own range")


def reads_another_notebooks_parameters(root):
    path = root / "nbs/experiments/train.ipynb"
    path.write_text(path.read_text().replace('parameters(globals(), \\"train.ipynb\\")', 'parameters(globals(), \\"other.ipynb\\")'))


def function_in_experiment(root):
    edit_notebook(root / "nbs/experiments/train.ipynb", lambda nb: nb["cells"].append(code_cell("def helper(x):\n    return x")))


PLANTED = [  # (defect, kind, file, words of the problem)
    (stray_notebook, "dead-experiment-code", "nbs/old_idea.ipynb", "not a library notebook"),
    (unregistered_experiment, "dead-experiment-code", "nbs/experiments/train_v2.ipynb", "no train_v2.smoke.yaml"),
    (deleted_notebook, "orphan-module", "agileml/explain.py", "no notebook exports this module"),
    (two_notebooks_one_module, "orphan-module", "agileml/evaluate.py", "nbs/04_evaluate.ipynb and nbs/04b_evaluate.ipynb"),
    (hand_edit, "out-of-sync", "agileml/models.py", "edited by hand"),
    (notebook_with_outputs, "out-of-sync", "nbs/03_models.ipynb", "outputs"),
    (unread_parameter, "configuration-debt", "nbs/experiments/train.ipynb", "'unused_knob'"),
    (undeclared_smoke_parameter, "configuration-debt", "nbs/experiments/train.smoke.yaml", "'bogus_param'"),
    (wrongly_declared_parameter, "configuration-debt", "nbs/experiments/train.ipynb", "the default of knob is not accepted"),
    (reads_another_notebooks_parameters, "configuration-debt", "nbs/experiments/train.ipynb", "reads its parameters as 'other.ipynb'"),
    (function_in_experiment, "glue-in-notebook", "nbs/experiments/train.ipynb", "helper"),
]


@pytest.mark.parametrize("plant,kind,file,words", PLANTED, ids=[p[0].__name__ for p in PLANTED])
def test_the_audit_names_each_planted_defect(project, plant, kind, file, words):
    plant(project)
    found = audit_json(project, check=1)["findings"]
    assert any(f["kind"] == kind and f["file"] == file and words in f["problem"] and f["fix"] for f in found), found


def test_scratch_notebooks_are_allowed_only_when_ignored(project):
    stray_notebook(project)
    files = {f["file"] for f in audit_json(project, check=1)["findings"]}
    assert "nbs/_scratch.ipynb" not in files
    ignore = project / ".gitignore"
    ignore.write_text("".join(l for l in ignore.read_text().splitlines(True) if "_*.ipynb" not in l))
    files = {f["file"] for f in audit_json(project, check=1)["findings"]}
    assert "nbs/_scratch.ipynb" in files


def test_findings_for_people_say_where_what_and_how_to_fix(project):
    deleted_notebook(project)
    out = cli("--root", str(project), "audit", check=1).stdout
    assert "Orphan modules:\n  agileml/explain.py: no notebook exports this module" in out and "fix: delete it" in out


def test_the_project_audits_clean_with_its_ml_test_score():
    out = cli("audit", "--json", check=0).stdout
    report = json.loads(out)
    assert report["findings"] == []
    score = report["ml_test_score"]
    assert len(score["tests"]) == 28 and set(score["sections"]) == {"Data", "Model", "Infrastructure", "Monitoring"}
    assert score["overall"] == min(score["sections"].values()) >= 4
    automatic = [r for r in score["tests"] if r["status"] == "automatic"]
    assert automatic and all(any(e.startswith("tests/") and "::test_" in e for e in r["evidence"]) for r in automatic)
    text = cli("audit", check=0).stdout
    assert "ML Test Score" in text and f"overall (the minimum): {score['overall']:g}" in text


def test_missing_evidence_scores_nothing(project):
    (project / "tests/test_lifecycle.py").unlink()
    rows = {r["test"]: r for r in audit_json(project, check=0)["ml_test_score"]["tests"]}
    assert rows["Serving models can be rolled back"]["status"] == "none"
    assert "evidence missing: tests/test_lifecycle.py" in rows["Serving models can be rolled back"]["how"]


def test_a_notebook_that_is_not_json_is_one_message(project):
    (project / "nbs/broken.ipynb").write_text("{ not json")
    out = cli("--root", str(project), "audit", check=2)
    assert "nbs/broken.ipynb is not a readable notebook" in out.stderr and "Traceback" not in out.stderr
