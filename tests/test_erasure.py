"""The right to erasure against real parts: a served champion, a decision log in SQLite and in PostgreSQL, curated texts
exported, trained on, promoted and examined by the error-analysis notebook; then one curator's texts erased under load."""
import json, subprocess, threading, time
from pathlib import Path
import pytest
import sqlalchemy as sa
from conftest import AGILEML, ARTIFACTS, cli, module_store, post, require_dataset, start_server, stop, train_warm, warm_kernel
from test_decisions import drained, postgresql  # noqa: F401 (the PostgreSQL server fixture)

TOKEN = "curators-only"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}
# Alice's own posts: long enough to be searched for anywhere, spam-like, so that the model gets them wrong and the
# error-analysis notebook prints them; each carries a marker no public dataset has.
ALICE = [f"Alice's lake-house draft no. {i}: WINNER!! Claim your FREE prize now, call 0800 555 {i:03d} txt CLAIM to 80082"
         for i in range(20)]


def texts_in_log(url):
    "The decision log's (id, text, sha256) rows."
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as con: return con.execute(sa.text("SELECT id, text, text_sha256 FROM decisions")).all()
    finally: engine.dispose()


def where_found(folder: Path, texts) -> list[str]:
    "Every file under `folder` (binary ones too: databases, models) holding a text or the start of one, as bytes."
    needles = {t.encode() for t in texts} | {t[:40].encode() for t in texts}
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles))


def curate(url, decision_ids, curator, label):
    for i in decision_ids:
        r = post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=i, curator=curator, label=label))
        assert r.status_code == 200, r.text


class Load:
    "Clients predicting without pause, from a thread, while something else happens; every answer kept."
    def __init__(self, url, texts):
        self.url, self.texts, self.answers, self.halt = url, texts, [], threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        i = 0
        while not self.halt.is_set():
            r = post(self.url, "/v1/predict", json={"texts": self.texts[i % 50 * 10:i % 50 * 10 + 10]})
            self.answers.append((r.status_code, [p["decision_id"] for p in r.json().get("predictions", [])]))
            i += 1

    def __enter__(self): self.thread.start(); return self
    def __exit__(self, *exc): self.halt.set(); self.thread.join(60)


def analyse(run_id, data):
    "The error-analysis notebook on run `run_id`'s model over the rows of `data`, on this process's warm kernel; its run id."
    from agileml.runner import run_notebook
    result = run_notebook("error_analysis", dict(run=run_id, data=str(data)), kernel=warm_kernel())
    assert result.status == "FINISHED", result.error
    return result.run_id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def project(request, tmp_path_factory):
    """A store with run A (600 SMS rows) served by a service logging into SQLite or PostgreSQL: 1,000 decisions, 20 of them
    Alice's texts with her verdicts (ham: her own posts), 10 with Bo's; the verdicts exported, trained on as extra_data in run
    B, which is promoted; the error-analysis notebook run on A over the exported file, twice, the second run then deleted."""
    require_dataset("sms_spam")
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    with module_store(tmp_path_factory, f"erasure-{request.param}") as uri, pytest.MonkeyPatch.context() as mp:
        tmp_path = Path(uri.removeprefix("sqlite:///")).parent
        log = request.getfixturevalue("postgresql") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'decisions.db'}"
        mp.setenv("AGILEML_DECISIONS_URL", log)
        yield from _served_and_curated(request.param, sms, tmp_path, log)


def _served_and_curated(backend, sms, tmp_path, log):
    from agileml.tracking import client
    base = tmp_path / "sms_600.jsonl"
    base.write_text("".join(json.dumps(dict(text=t, label=l)) + "\n" for t, l in zip(sms.texts[:600], sms.labels[:600])))
    run_a = train_warm(f"dataset={base}")["run_id"]
    proc, url = start_server("--model", run_a, "--token", TOKEN)
    try:
        others = sms.texts[600:1580]
        ids = [p["decision_id"] for i in range(0, 1000, 50)
               for p in post(url, "/v1/predict", json={"texts": (ALICE + others)[i:i + 50]}).json()["predictions"]]
        assert len(set(ids)) == 1000
        curate(url, ids[:20], "alice", "ham"); curate(url, ids[20:30], "bo", "ham")
        drained(url)
        feedback = tmp_path / "feedback.jsonl"
        cli("feedback", "export", "-o", str(feedback), check=0)
        run_b = train_warm(f"dataset={base}", f"extra_data={feedback}")["run_id"]
        cli("promote", run_b, check=0)
        analyses = [analyse(run_a, feedback) for _ in range(2)]     # how the served model did on what curators said
        client().delete_run(analyses[1])
        yield dict(url=url, log=log, folder=tmp_path, feedback=feedback, run_a=run_a, run_b=run_b, analyses=analyses, ids=ids,
                   others=others, backend=backend)
    finally: stop(proc)


def test_erasure_refuses_what_it_cannot_do_and_changes_nothing(project):
    p = project
    before, feedback = texts_in_log(p["log"]), p["feedback"].read_text()
    for args, said in ((["--curator", "mallory"], "no curator named 'mallory' gave a verdict"),
                       (["--decision", "0" * 32], f"no decision has the id {'0' * 32}"),
                       (["--sha256", "abc"], "is not a sha256"),
                       (["--text", "Alice's text on the command line"], "--text takes '-'"),
                       ([], "say what to erase")):
        out = cli("erase", *args)
        assert out.returncode == 2 and said in out.stderr and "Traceback" not in out.stderr, out.stderr
    if p["backend"] == "postgresql":      # a store that cannot be written stops the erasure before anything changed
        read_only = p["log"] + ("&" if "?" in p["log"] else "?") + "options=-c%20default_transaction_read_only%3Don"
        out = cli("erase", "--curator", "alice", "--decision-log", read_only)
        assert out.returncode == 2 and "cannot be changed" in out.stderr and "read-only transaction" in out.stderr, out.stderr
    assert texts_in_log(p["log"]) == before and p["feedback"].read_text() == feedback
    from agileml.erasure import RETRAIN_TAG
    from agileml.tracking import get_run
    assert RETRAIN_TAG not in get_run(p["run_b"]).data.tags


def test_erasing_a_curator_leaves_her_texts_nowhere_and_the_champion_retrained(project):
    p = project
    found = where_found(p["folder"], ALICE)
    assert any(f.endswith("feedback.jsonl") for f in found) and any(f.endswith("error_analysis.ipynb") for f in found), found
    before = texts_in_log(p["log"])

    with Load(p["url"], p["others"]) as load:      # the service goes on answering while the texts are erased
        time.sleep(0.5)
        receipt = json.loads(cli("erase", "--curator", "alice", "--json", check=0).stdout)
        time.sleep(0.5)
    assert load.answers and {status for status, _ in load.answers} == {200}
    drained(p["url"])
    after = texts_in_log(p["log"])
    answered = {i for _, ids in load.answers for i in ids}
    assert answered | {r.id for r in before} == {r.id for r in after}            # no decision lost, the erased ones kept
    assert [r for r in after if r.text in ALICE] == [] and len([r for r in after if r.id in p["ids"][:20] and r.text is None]) == 20
    assert [r.text for r in after if r.id in p["ids"][20:30]] == [r.text for r in before if r.id in p["ids"][20:30]]   # Bo's stay

    assert where_found(p["folder"], ALICE) == []
    assert (receipt["texts"], receipt["decision_log"]["decisions"], receipt["decision_log"]["texts_removed"]) == (20, 20, 20)
    runs = {r["run_id"]: r for r in receipt["runs"]}
    assert runs[p["run_b"]]["trained_on"] == [str(p["feedback"])] and p["run_a"] not in runs
    assert "notebook/error_analysis.ipynb" in runs[p["analyses"][0]]["artifacts"]
    assert runs[p["analyses"][1]]["deleted"] and receipt["purged"] == dict(runs=[p["analyses"][1]], done=True)
    assert receipt["champion"] == dict(version="1", run_id=p["run_b"])
    assert not any(t in json.dumps(receipt) for t in ALICE)
    from agileml.tracking import client, get_run
    from mlflow.entities import ViewType
    exp = [e.experiment_id for e in client().search_experiments(view_type=ViewType.ALL)]
    assert p["analyses"][1] not in {r.info.run_id for r in client().search_runs(exp, run_view_type=ViewType.ALL)}   # purged
    assert len(p["feedback"].read_text().splitlines()) == 10          # Bo's rows stay

    alert = cli("monitor")
    assert alert.returncode == 1 and "ALERT" in alert.stdout and "erased_training_texts" in alert.stdout, alert.stdout

    again = json.loads(cli("erase", "--curator", "alice", "--json", check=0).stdout)
    assert again == receipt                                               # a no-op, the same receipt
    shown = cli("erase", "--curator", "alice", check=0).stdout            # as a person reads it
    ARTIFACTS.mkdir(exist_ok=True); (ARTIFACTS / f"erase-receipt-{p['backend']}.txt").write_text(shown)
    assert f"erasure {receipt['receipt']}" in shown and f"run {p['run_b'][:12]} (" in shown and "[the champion, version 1]" in shown
    assert "next: the champion was trained on them; agileml erase --retrain" in shown

    retrained = json.loads(cli("erase", "--retrain", "--json", check=0).stdout)["retrain"]
    assert retrained["retrained"] and retrained["version"] == "2" and retrained["replaced"]["run_id"] == p["run_b"]
    tags = get_run(retrained["run_id"]).data.tags
    assert tags["agileml.retrains"] == p["run_b"] and tags["agileml.extra_rows"] == "10" and "agileml.needs_retrain" not in tags
    assert cli("champion", "--json", check=0).stdout.count(retrained["run_id"]) >= 1


def test_retention_purges_older_texts_and_keeps_younger_ones(project):
    p = project
    engine = sa.create_engine(p["log"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as con:       # half of Bo's decisions made 40 days ago
        con.execute(sa.text("UPDATE decisions SET at = at - 40 * 86400 WHERE id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True)), dict(ids=p["ids"][20:25]))
    engine.dispose()
    if p["backend"] == "sqlite":      # the service purges at start, then hourly
        proc, _ = start_server("--model", p["run_a"], "--retain-texts", "30d")
        try:
            deadline = time.time() + 30
            while time.time() < deadline and any(r.text for r in texts_in_log(p["log"]) if r.id in p["ids"][20:25]): time.sleep(0.2)
        finally: stop(proc)
    else: assert json.loads(cli("decisions", "purge", "--older-than", "30d", "--json", check=0).stdout)["purged"] == 5
    rows = {r.id: r.text for r in texts_in_log(p["log"])}
    assert [rows[i] for i in p["ids"][20:25]] == [None] * 5 and all(rows[i] for i in p["ids"][25:1000])
    shown = cli("decisions", "show", p["ids"][20], check=0).stdout
    assert "not kept: not logged, purged or erased" in shown and "cannot be recomputed" in shown
    out = cli("decisions", "purge", "--older-than", "soon")
    assert out.returncode == 2 and "give an age such as 30d" in out.stderr
    out = cli("serve", "--model", p["run_a"], "--retain-texts", "a month")
    assert out.returncode == 2 and "--retain-texts 'a month': give an age" in out.stderr


def test_a_text_given_on_standard_input_or_by_decision_id_is_erased(project):
    p = project
    bo = {r.id: r.text for r in texts_in_log(p["log"])}
    text = bo[p["ids"][26]]
    assert text in p["feedback"].read_text()
    out = subprocess.run([AGILEML, "erase", "--text", "-", "--json"], input=text + "\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and json.loads(out.stdout)["decision_log"]["texts_removed"] >= 1, out.stderr
    assert json.loads(cli("erase", "--decision", p["ids"][27], "--json", check=0).stdout)["texts"] == 1
    rows = {r.id: r.text for r in texts_in_log(p["log"])}
    assert (rows[p["ids"][26]], rows[p["ids"][27]], rows[p["ids"][28]]) == (None, None, bo[p["ids"][28]])
    assert text not in p["feedback"].read_text() and bo[p["ids"][27]] not in p["feedback"].read_text()
