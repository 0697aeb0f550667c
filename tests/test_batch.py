"What agileml writes, it reads back: a label column found by its usual name, and predictions in the input's own format."
import json
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from conftest import agileml, cli, module_store, require_dataset, train_warm

# texts a CSV/TSV writer must quote or escape, and that must come back as they were
HARD = ['she said "oil | rates"; fine', "a tab\there, and a\nline break", "café, naïve — 東京, ünïcode"]


@pytest.fixture(scope="module")
def comments(tmp_path_factory):
    "600 Reuters stories as the README's JSONL tag form, `{\"text\": ..., \"tags\": [...]}`, with the hard texts added."
    require_dataset("reuters21578")
    from agileml.catalog import load_registry
    ds = load_registry("reuters21578")
    keep = {"earn", "acq", "crude", "trade", "money-fx", "interest", "grain"}
    rows = [(t, sorted(set(ts) & keep)) for t, ts in zip(ds.texts, ds.labels) if set(ts) & keep][:600]
    rows += [(t, ["crude"]) for t in HARD]
    path = tmp_path_factory.mktemp("comments") / "comments.jsonl"
    path.write_text("".join(json.dumps({"text": t, "tags": ts, "id": i}, ensure_ascii=False) + "\n"
                            for i, (t, ts) in enumerate(rows)), "utf-8")
    return path


def test_a_jsonl_tag_file_trains_with_no_label_column_and_the_run_says_and_records_it(store, comments):
    out = agileml("train", "-p", f"dataset={comments}", "-p", "ngram_max=1", check=0)
    first = out.stdout.splitlines()[0]
    assert first == "comments.jsonl: labels from column 'tags' (a usual name for labels); task multi (tags)", out.stdout
    run_id = out.stdout.splitlines()[1].split()[1]
    assert MlflowClient(store).get_run(run_id).data.params["label_column"] == "tags"      # reproduces with the same choice
    assert "micro_f1" in MlflowClient(store).get_run(run_id).data.metrics


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory, comments):
    "A tag model trained on `comments`, in a store of its own that stays the tracking store for the module's tests."
    with module_store(tmp_path_factory, "tag-store"):
        yield train_warm(f"dataset={comments}", "ngram_max=1")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv", ".parquet"])
def test_what_predict_writes_from_a_tag_model_trains_again_with_no_flags(tag_run, comments, tmp_path, suffix):
    run = tag_run
    scored = tmp_path / f"scored{suffix}"
    cli("predict", str(comments), "-o", str(scored), "--model", run["run_id"], check=0)
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in scored.read_text("utf-8").splitlines()]
        assert {type(r["tags"]) for r in rows} == {list} and {type(r["scores"]) for r in rows} == {dict}
        assert {type(r["id"]) for r in rows} == {int}                # the input's other fields keep their types
    elif suffix == ".parquet":
        assert str(pq.read_table(scored).schema.field("tags").type) == "list<element: string>"
    else:
        table = pd.read_csv(scored, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        assert any("|" in t for t in table["tags"]) and "score_earn" in table.columns     # joined by the run's separator
    from agileml.data import load_file
    back = load_file(scored)
    assert back.chosen["label_column"] == "tags" and back.texts[-3:] == HARD
    again = train_warm(f"dataset={scored}", "ngram_max=1")
    assert "micro_f1" in again["metrics"]
    assert train_warm(f"dataset={comments}", "ngram_max=1", f"extra_data={scored}")["status"] == "FINISHED"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_what_predict_writes_from_a_label_model_trains_again_with_no_flags(store, tmp_path, suffix):
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    source = tmp_path / "sms.csv"
    pd.DataFrame({"text": sms.texts[:800] + HARD, "label": sms.labels[:800] + ["ham"] * 3}).to_csv(source, index=False)
    run = train_warm(f"dataset={source}")
    scored = tmp_path / f"scored{suffix}"
    cli("predict", str(source), "-o", str(scored), "--model", run["run_id"], check=0)
    from agileml.data import load_file
    back = load_file(scored)
    assert back.texts == sms.texts[:800] + HARD and set(back.labels) <= {"ham", "spam"}
    assert train_warm(f"dataset={scored}")["status"] == "FINISHED"


def test_two_possible_label_columns_are_refused_by_name_and_blank_texts_by_line(store, tmp_path):
    two = tmp_path / "two.jsonl"
    two.write_text('{"text": "a", "tags": ["x"], "category": "c"}\n{"text": "b", "tags": ["y"], "category": "d"}\n')
    said = agileml("train", "-p", f"dataset={two}", check=2).stderr
    assert "2 columns could hold the labels: tags, category. Say which with -p label_column=tags" in said
    assert "Traceback" not in said
    ok = tmp_path / "ok.csv"
    ok.write_text("text,label\n" + "".join(f"message {i} {'win cash' if i % 2 else 'see you'},{'spam' if i % 2 else 'ham'}\n"
                                            for i in range(40)))
    run = train_warm(f"dataset={ok}")
    gaps = tmp_path / "gaps.csv"
    gaps.write_text('text,label\nfine,a\n,b\n"two\nlines",a\n   ,b\n')
    said = cli("predict", str(gaps), "-o", str(tmp_path / "out.jsonl"), "--model", run["run_id"], check=2).stderr
    assert "2 row(s) have no text in column 'text' (lines 3, 6)" in said
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.glob(".out.jsonl*"))      # nothing half-written


def test_a_local_dask_cluster_scores_in_input_order_and_the_answers_can_be_logged(store, tmp_path):
    """2,000 SMS texts scored in one process and on a real LocalCluster of 2 workers (small tasks, so many are in flight):
    the same file; with --log every row's decision is in the decision log under the id written beside it."""
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    source = tmp_path / "sms.csv"
    pd.DataFrame({"id": range(2000), "text": sms.texts[:2000]}).to_csv(source, index=False)
    run = train_warm("dataset=sms_spam")
    cli("predict", str(source), "-o", str(tmp_path / "one.csv"), "--model", run["run_id"], check=0)
    from agileml.batch import Cluster, predict_file
    from agileml.serve import load_served
    cluster = Cluster(workers=2, rows=150)
    assert predict_file(load_served(run["run_id"]), source, tmp_path / "two.csv", cluster=cluster) == 2000
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()
    log = f"sqlite:///{tmp_path / 'decisions.db'}"
    out = cli("predict", str(source), "-o", str(tmp_path / "logged.jsonl"), "--model", run["run_id"], "--log", "--decision-log", log,
              check=0)
    assert "logged 2000 decisions" in out.stderr, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "logged.jsonl").read_text().splitlines()]
    import sqlalchemy as sa
    engine = sa.create_engine(log)
    with engine.connect() as con: logged = dict(con.execute(sa.text("SELECT id, text FROM decisions")).all())
    engine.dispose()
    assert {r["decision_id"]: r["text"] for r in rows} == logged and len(logged) == 2000


def test_predict_refuses_an_unreachable_scheduler_and_a_missing_column_with_the_columns_it_has(store, tmp_path):
    from conftest import free_port
    run = train_warm("dataset=sms_spam")
    source = tmp_path / "in.csv"
    source.write_text("id,body\n1,hello there\n")
    said = cli("predict", str(source), "-o", str(tmp_path / "o.csv"), "--model", run["run_id"], "--workers", "2", check=2).stderr
    assert "has no column 'text'; its columns are: id, body. Choose it with --text-column" in said      # before a cluster starts
    said = cli("predict", str(source), "--text-column", "body", "-o", str(tmp_path / "o.csv"), "--model", run["run_id"],
               "--dask", f"tcp://127.0.0.1:{free_port()}", check=2).stderr
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:" in said      # the socket check, with its 10 s timeout
    assert not list(tmp_path.glob("*o.csv*"))                    # nothing written
