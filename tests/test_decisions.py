"The curation loop against real services on loopback: every prediction logged (SQLite and PostgreSQL), curated, counted, exported and trained on."
import json, os, subprocess, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import httpx
import pytest
import sqlalchemy as sa
from conftest import HTTP, agileml, cli, module_store, post, require_dataset, start_server, stop, train_warm

TOKEN = "curators-only"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sms(tmp_path_factory):
    "A 600-row SMS Spam dataset file to train on, and 1,000 other SMS texts (with their true labels) to serve."
    require_dataset("sms_spam")
    from agileml.catalog import load_registry
    ds = load_registry("sms_spam")
    base = tmp_path_factory.mktemp("sms") / "sms_600.jsonl"
    base.write_text("".join(json.dumps(dict(text=t, label=l)) + "\n" for t, l in zip(ds.texts[:600], ds.labels[:600])))
    return dict(base=base, texts=ds.texts[600:1600], labels=ds.labels[600:1600])


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory):
    "A real PostgreSQL server (pgserver's binaries), on a Unix socket in a temporary folder: no TCP port at all."
    import pgserver
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try: yield server.get_uri()
    finally: server.cleanup()


@pytest.fixture(scope="module")
def served(tmp_path_factory, sms):
    "A champion trained on the 600 SMS rows, served with a token and the decision log in a SQLite file."
    with module_store(tmp_path_factory, "decisions") as uri:
        run = train_warm(f"dataset={sms['base']}")
        cli("promote", run["run_id"], check=0)
        log = f"sqlite:///{Path(uri[len('sqlite:///'):]).parent / 'decisions.db'}"
        proc, url = start_server("--token", TOKEN)          # the log's default place: beside the tracking store
        try: yield dict(url=url, log=log, run_id=run["run_id"], uri=uri)
        finally: stop(proc)


def predict(url, texts, per_request=10):
    "Every text's prediction, `per_request` texts a request; each prediction with its decision id."
    out = []
    for i in range(0, len(texts), per_request):
        r = post(url, "/v1/predict", json={"texts": texts[i:i + per_request]})
        assert r.status_code == 200, r.text
        out += r.json()["predictions"]
    return out


def drained(url, timeout=30):
    "/health once the decision log has nothing left to write."
    deadline = time.time() + timeout
    while (h := HTTP.get(f"{url}/health").json())["decision_log"]["pending"] and time.time() < deadline: time.sleep(0.1)
    return h


def expected_stats(predictions, truth):
    "What `decisions stats` must say of these predictions when curators give the true label of each one in `truth`."
    labels = {}
    def tally(label, key): labels.setdefault(label, dict(suggested=0, curated=0, accepted=0, rejected=0, added=0))[key] += 1
    for p in predictions: tally(p["label"], "suggested")
    for p, right in zip(predictions, truth):
        tally(p["label"], "curated")
        if right == p["label"]: tally(right, "accepted")
        else: tally(p["label"], "rejected"); tally(right, "added")
    return dict(decisions=len(predictions), curated=len(truth), accepted_as_is=sum(p["label"] == t for p, t in zip(predictions, truth)),
                labels=labels)


def curate(url, predictions, truth):
    "Send the true label of each prediction as the curator's verdict (the first one wrong, then corrected)."
    first = predictions[0]
    wrong = "spam" if truth[0] == "ham" else "ham"
    assert post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=first["decision_id"], curator="bo", label=wrong)).status_code == 200
    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(lambda pt: post(url, "/v1/feedback", headers=CURATOR, json=dict(
            decision_id=pt[0]["decision_id"], curator="ana", label=pt[1])), zip(predictions, truth)))
    assert [r.status_code for r in sent] == [200] * len(truth), [r.text for r in sent if r.status_code != 200][:3]


def test_feedback_needs_the_token_a_known_decision_and_a_fitting_verdict(served):
    url = served["url"]
    (p,) = predict(url, ["WINNER! Claim your free prize now"])
    verdict = dict(decision_id=p["decision_id"], curator="ana", label="spam")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = post(url, "/v1/feedback", json=verdict, headers=headers)
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
    assert HTTP.get(f"{url}/v1/decisions/{p['decision_id']}").status_code == 401
    r = post(url, "/v1/feedback", json={**verdict, "decision_id": "0" * 32}, headers=CURATOR)
    assert r.status_code == 404 and "no decision has the id" in r.json()["detail"]
    assert HTTP.get(f"{url}/v1/decisions/{'0' * 32}", headers=CURATOR).status_code == 404
    r = post(url, "/v1/feedback", json={**verdict, "label": None, "accepted": ["spam"]}, headers=CURATOR)
    assert r.status_code == 422 and 'send "label"' in r.json()["detail"]
    r = post(url, "/v1/feedback", json={"curator": "ana"}, headers=CURATOR)
    assert r.status_code == 422 and "decision_id is missing" in r.json()["detail"]
    assert post(url, "/v1/feedback", json=verdict, headers=CURATOR).json()["curation"]["label"] == "spam"
    paths = HTTP.get(f"{url}/openapi.json").json()["paths"]
    assert {"/v1/feedback", "/v1/decisions/{decision_id}"} <= set(paths)
    assert {"401", "404", "422"} <= set(paths["/v1/feedback"]["post"]["responses"])


def test_fuzzing_the_curation_endpoints_with_the_token_finds_no_server_error(served):
    "Schemathesis sends valid and invalid verdicts, ids, queue parameters and names from the OpenAPI schema, with the curators' token."
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    schema = schemathesis.openapi.from_url(f"{served['url']}/openapi.json")
    curation = ("/v1/feedback", "/v1/decisions/{decision_id}", "/v1/decisions", "/v1/labels", "/v1/tally", "/v1/decisions/{decision_id}/undo")
    operations = [op.ok() for op in schema.get_all_operations() if op.ok().path in curation]
    assert len(operations) == len(curation)
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=CURATOR, timeout=30)
        check()
    assert HTTP.get(f"{served['url']}/health").json()["status"] == "ok"


def test_a_past_decision_is_explained_as_it_was(served):
    url = served["url"]
    texts = ["URGENT! You have won a 1 week FREE membership", "Ok lar, see you at home later"]
    said = post(url, "/v1/explain", json={"texts": texts}).json()["explanations"]
    for e in said:
        back = HTTP.get(f"{url}/v1/decisions/{e['decision_id']}", headers=CURATOR).json()
        assert back["explanation"] == {k: v for k, v in e.items() if k != "decision_id"}
        assert back["text"] in texts and back["model"]["run_id"] == served["run_id"]
    shown = json.loads(cli("decisions", "show", said[0]["decision_id"], "--json", "--decision-log", served["log"], check=0).stdout)
    assert shown["explanation"] == {k: v for k, v in said[0].items() if k != "decision_id"}
    assert f"why {said[0]['label']}: " in cli("decisions", "show", said[0]["decision_id"], "--decision-log", served["log"], check=0).stdout


def test_under_load_every_answered_prediction_is_logged(served):
    "32 connections for 5 s (a bounded loop): the decisions in the database are exactly the 200 responses sent."
    url, ids, lock, stop_at = served["url"], [], threading.Lock(), time.time() + 5
    def client(i):
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.time() < stop_at:
                r = c.post("/v1/predict", json={"texts": [f"load test message {i} free prize call now"]})
                if r.status_code == 200:
                    with lock: ids.extend(p["decision_id"] for p in r.json()["predictions"])
    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert len(ids) > 100 and drained(url)["decision_log"]["dropped"] == 0
    engine = sa.create_engine(served["log"])
    from agileml.decisions import DECISIONS
    with engine.connect() as con:
        logged = {r[0] for r in con.execute(sa.select(DECISIONS.c.id).where(DECISIONS.c.id.in_(ids)))}
    engine.dispose()
    assert logged == set(ids)


def test_a_read_only_decision_log_costs_decisions_not_predictions(served, sms, tmp_path):
    db = tmp_path / "decisions.db"
    proc, url = start_server("--model", served["run_id"], "--decision-log", f"sqlite:///{db}")
    try:
        predict(url, sms["texts"][:5])
        assert drained(url)["decision_log"]["written"] == 5
        db.chmod(0o444)
        if os.geteuid() == 0: subprocess.run(["chattr", "+i", str(db)], check=True)    # root writes through mode bits
        assert all(p["decision_id"] for p in predict(url, sms["texts"][:30]))         # every prediction still 200
        health = drained(url)
        assert health["decision_log"]["dropped"] == 30 and health["decision_log"]["written"] == 5
        assert health["status"].startswith("degraded") and health["decision_log"]["last_error"]
        metrics = HTTP.get(f"{url}/metrics").text
        assert 'agileml_decisions_total{outcome="dropped"} 30.0' in metrics and 'agileml_decisions_total{outcome="written"} 5.0' in metrics
    finally:
        if os.geteuid() == 0: subprocess.run(["chattr", "-i", str(db)])
        db.chmod(0o644)
        stop(proc)


def test_a_service_that_logs_no_texts_keeps_only_their_sha256(served, tmp_path):
    import hashlib
    log = f"sqlite:///{tmp_path / 'decisions.db'}"
    proc, url = start_server("--model", served["run_id"], "--decision-log", log, "--log-text=false", "--token", TOKEN)
    try:
        text = "Call 09061701461 to claim your prize"
        (p,) = predict(url, [text])
        post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=p["decision_id"], curator="ana", label="spam"))
        d = HTTP.get(f"{url}/v1/decisions/{p['decision_id']}", headers=CURATOR).json()
        assert d["text"] is None and d["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
        assert d["explanation"] is None and "--log-text=false" in d["explanation_missing"]
        out = cli("feedback", "export", "-o", str(tmp_path / "f.jsonl"), "--decision-log", log)
        assert out.returncode == 2 and "none of the 1 curated decisions keeps its text" in out.stderr
    finally:
        stop(proc)


def test_the_decisions_commands_refuse_what_they_cannot_do(served, tmp_path):
    out = cli("decisions", "--decision-log", f"sqlite:///{tmp_path / 'none.db'}")
    assert out.returncode == 2 and "there is no decision log at" in out.stderr
    out = cli("decisions", "stats", "--since", "yesterday", "--decision-log", served["log"])
    assert out.returncode == 2 and "give an ISO date or time" in out.stderr
    out = cli("feedback", "export", "-o", str(tmp_path / "f.jsonl"), "--since", "2999-01-01", "--decision-log", served["log"])
    assert out.returncode == 2 and "no curated decisions match" in out.stderr and not (tmp_path / "f.jsonl").exists()
    out = cli("serve", "--model", served["run_id"], "--log-text", "maybe")
    assert out.returncode == 2 and "--log-text=maybe: give true or false" in out.stderr
    out = agileml("serve", "--model", served["run_id"], "--decision-log", "nosuchdb://x", timeout=120)   # would serve, if it did not refuse
    assert out.returncode == 2 and "cannot open the decision log nosuchdb://x" in out.stderr and "Traceback" not in out.stderr


# Last in this file: it promotes a new champion, which the `served` service then picks up.
def test_the_curation_loop_on_sqlite_and_postgresql(served, sms, postgresql, tmp_path):
    """Serve the champion with the log in SQLite and in PostgreSQL; 1,000 predictions and 300 verdicts each; stats
    report exactly that; the export trains a new run that is promoted; later decisions are attributed to it."""
    champion = dict(run_id=served["run_id"])
    logs = {"sqlite": f"sqlite:///{tmp_path / 'decisions.db'}", "postgresql": postgresql}
    servers = {name: start_server("--token", TOKEN, "--reload-seconds", "1", "--decision-log", log) for name, log in logs.items()}
    try:
        exports = {}
        for name, (_, url) in servers.items():
            predictions = predict(url, sms["texts"])
            assert len({p["decision_id"] for p in predictions}) == 1000
            curate(url, predictions[:300], sms["labels"][:300])
            assert drained(url)["decision_log"]["dropped"] == 0
            (stats,) = json.loads(cli("decisions", "stats", "--json", "--decision-log", logs[name], check=0).stdout)
            want = expected_stats(predictions, sms["labels"][:300])
            assert {k: stats[k] for k in want if k != "labels"} == {k: v for k, v in want.items() if k != "labels"}, name
            assert {l: {k: c[k] for k in want["labels"][l]} for l, c in stats["labels"].items()} == want["labels"], name
            assert stats["model_version"] == "1" and stats["run_id"] == champion["run_id"]
            shown = json.loads(cli("decisions", "show", predictions[0]["decision_id"], "--json", "--decision-log", logs[name], check=0).stdout)
            assert [v["curator"] for v in shown["history"]] == ["bo", "ana"] and shown["curation"]["label"] == sms["labels"][0]
            exports[name] = json.loads(cli("feedback", "export", "-o", str(tmp_path / f"{name}.jsonl"), "--json",
                                           "--decision-log", logs[name], check=0).stdout)
            assert exports[name]["rows"] == 300
        assert exports["sqlite"]["fingerprint"] == exports["postgresql"]["fingerprint"]     # the same verdicts, the same data

        retrained = train_warm(f"dataset={sms['base']}", f"extra_data={exports['sqlite']['path']}")
        from agileml.tracking import get_run
        tags = get_run(retrained["run_id"]).data.tags
        assert tags["agileml.extra_data_fingerprints"] == exports["sqlite"]["fingerprint"]
        assert sum(int(tags[f"agileml.{k}"]) for k in ("extra_rows", "extra_rows_left_out", "extra_rows_on_training_texts")) == 300
        assert tags["agileml.test_fingerprint"] == get_run(champion["run_id"]).data.tags["agileml.test_fingerprint"]
        promoted = json.loads(cli("promote", retrained["run_id"], "--json", check=0).stdout)
        assert promoted["version"] == "2"

        for name, (_, url) in servers.items():
            deadline = time.time() + 60
            while HTTP.get(f"{url}/ready").json()["version"] != "2" and time.time() < deadline: time.sleep(0.5)
            after = predict(url, sms["texts"][:20])
            assert {p["decision_id"] for p in after} and drained(url)["decision_log"]["dropped"] == 0
            (v2,) = json.loads(cli("decisions", "stats", "--model", "2", "--json", "--decision-log", logs[name], check=0).stdout)
            assert (v2["decisions"], v2["run_id"]) == (20, retrained["run_id"]), name
            got = HTTP.get(f"{url}/v1/decisions/{after[0]['decision_id']}", headers=CURATOR).json()
            assert got["model"] == {"version": "2", "run_id": retrained["run_id"]}
    finally:
        for proc, _ in servers.values(): stop(proc)
