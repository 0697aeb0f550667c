"The production service under uvicorn on loopback: predictions, explanations, bad input, fuzzing, hot reload."
import json, os, subprocess, threading, time
from pathlib import Path
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from conftest import HTTP, AGILEML, ROOT, cli, free_port, module_store, post, start_server, stop, train_warm

LIMITS = ["--max-texts", "5", "--max-chars", "200", "--reload-seconds", "1"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    "A store whose champion is a tf-idf model, two more runs to promote later, and the service over it."
    with module_store(tmp_path_factory, "serve") as uri:
        small = "dataset=pang_lee_polarity"
        made = [train_warm(small, "model=linear_svc"), train_warm(small, "model=logreg"),
                train_warm(small, "features=word2vec", "w2v_dim=16", "w2v_min_count=1")]
        runs = dict(zip(("tfidf", "logreg", "w2v"), made))
        cli("promote", runs["tfidf"]["run_id"], check=0)
        proc, url = start_server(*LIMITS)
        try: yield dict(uri=uri, url=url, runs={k: v["run_id"] for k, v in runs.items()})
        finally: stop(proc)


def test_predict_scores_every_text_with_every_class(service, monkeypatch):
    texts = ["a dull, tedious film", "a gorgeous and moving film"]
    r = post(service["url"], "/v1/predict", json={"texts": texts})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == {"run_id": service["runs"]["tfidf"], "version": "1"}
    assert len(body["predictions"]) == 2            # one per text, never one per request
    for p in body["predictions"]:
        assert set(p["scores"]) == {"neg", "pos"} and p["label"] == max(p["scores"], key=p["scores"].get)
    assert body["score_type"] == "decision_function"
    from agileml.model_file import load_model# no training/serving skew: the logged pipeline gives the same numbers
    monkeypatch.setenv("MLFLOW_TRACKING_URI", service["uri"])
    model = load_model(service["runs"]["tfidf"])
    assert [p["label"] for p in body["predictions"]] == list(model.predict(texts))
    assert [p["scores"]["pos"] for p in body["predictions"]] == pytest.approx(list(model.decision_function(texts)), abs=1e-6)   # sent rounded to 6 places


def test_explain_names_the_words_behind_each_label(service):
    r = post(service["url"], "/v1/explain", json={"texts": ["a dull, tedious and silly film"]})
    (e,) = r.json()["explanations"]
    assert r.status_code == 200 and e["label"] == "neg"
    assert e["towards"] and all(t["weight"] > 0 for t in e["towards"])
    assert all(t["weight"] < 0 for t in e["against"])


def test_health_ready_model_and_docs(service):
    url = service["url"]
    health = HTTP.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["decision_log"]["dropped"] == 0
    assert HTTP.get(f"{url}/ready").json()["status"] == "ready"
    m = HTTP.get(f"{url}/v1/model").json()
    assert m["run_id"] == service["runs"]["tfidf"] and m["dataset"] == "pang_lee_polarity"
    assert len(m["data_fingerprint"]) == 64 and set(m["metrics"]) == {"accuracy", "macro_f1", "mcc"} and m["trained_at"]
    assert HTTP.get(f"{url}/docs").status_code == 200
    assert "/v1/predict" in HTTP.get(f"{url}/openapi.json").json()["paths"]


BAD = [
    ("empty list", dict(json={"texts": []}), 422, "texts is empty: send 1 to 5 texts"),
    ("blank text", dict(json={"texts": ["ok", "   "]}), 422, "texts[1] is only whitespace"),
    ("empty text", dict(json={"texts": [""]}), 422, "texts[0] is empty"),
    ("long text", dict(json={"texts": ["x" * 201]}), 422, "texts[0] is longer than 200 characters"),
    ("too many", dict(json={"texts": ["a"] * 6}), 422, "more than 5 texts: send at most 5"),
    ("not strings", dict(json={"texts": ["a", 7, None]}), 422, "texts[1] must be a string"),
    ("not a list", dict(json={"texts": "hello"}), 422, "texts must be a list of strings"),
    ("no texts", dict(json={"text": ["hello"]}), 422, "texts is missing"),
    ("malformed JSON", dict(content=b'{"texts": [', headers={"content-type": "application/json"}), 400, "not valid JSON"),
    ("wrong content type", dict(content=b"texts=hello", headers={"content-type": "application/x-www-form-urlencoded"}),
     415, "send application/json"),
    ("huge body", dict(content=b'{"texts": ["' + b"x" * 5_000_000 + b'"]}', headers={"content-type": "application/json"}),
     413, "larger than 4000000 bytes"),
]


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/explain"])
@pytest.mark.parametrize("case,kw,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_4xx_that_says_what_is_accepted(service, path, case, kw, status, message):
    r = post(service["url"], path, **kw)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert HTTP.get(f"{service['url']}/health").status_code == 200


def test_fuzzing_from_the_openapi_schema_finds_no_server_error(service):
    "Schemathesis generates valid and invalid requests from the service's own OpenAPI schema (40 per operation)."
    from hypothesis import given
    schema = schemathesis.openapi.from_url(f"{service['url']}/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {o.path for o in operations} >= {"/v1/predict", "/v1/explain", "/v1/model", "/health", "/ready"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(timeout=30)
        check()
    assert HTTP.get(f"{service['url']}/health").status_code == 200


def test_a_new_champion_is_picked_up_without_restart_or_failed_requests(service):
    url, stop_flag, statuses = service["url"], threading.Event(), []
    def hammer():
        with httpx.Client(timeout=30) as c:
            while not stop_flag.is_set():
                statuses.append(c.post(f"{url}/v1/predict", json={"texts": ["a moving film"]}).status_code)
    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers: w.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", service["uri"])
            cli("promote", service["runs"]["w2v"], "--force", "--reason", "hot reload test", check=0)
        deadline = time.time() + 60
        while time.time() < deadline and HTTP.get(f"{url}/v1/model").json()["run_id"] != service["runs"]["w2v"]:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        stop_flag.set()
        for w in workers: w.join()
    assert HTTP.get(f"{url}/v1/model").json()["version"] == "2"
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert post(url, "/v1/predict", json={"texts": ["x y"]}).json()["model"]["run_id"] == service["runs"]["w2v"]


def test_predict_command_scores_a_file(service, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", service["uri"])
    src = tmp_path / "reviews.csv"
    src.write_text('id,text\n1,"a dull, tedious film"\n2,a gorgeous and moving film\n3,an ordinary film\n')
    out = tmp_path / "scored.jsonl"
    cli("predict", str(src), "-o", str(out), "--model", service["runs"]["logreg"], "--batch-size", "2", check=0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"]        # input columns pass through unchanged
    for r in rows: assert r["label"] in ("neg", "pos") and abs(sum(r["scores"].values()) - 1) < 1e-5 and set(r["scores"]) == {"neg", "pos"}
    assert "has no column 'body'" in cli("predict", str(src), "--text-column", "body", check=2).stderr


def scraped(url, name, **labels):
    "The value of one series on /metrics (0 when it has not appeared yet)."
    from prometheus_client.parser import text_string_to_metric_families
    for family in text_string_to_metric_families(HTTP.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()): return sample.value
    return 0.0


def bounded_load(url, requests, texts, threads=8):
    "Exactly `requests` POSTs to /v1/predict from `threads` threads; the status of each."
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda i: post(url, "/v1/predict", json={"texts": texts}).status_code, range(requests)))


def test_metrics_count_exactly_the_requests_sent(service):
    url, texts = service["url"], ["a dull, tedious film", "a gorgeous and moving film"]
    ok = dict(method="POST", route="/v1/predict", status="200")
    counted, timed = scraped(url, "agileml_http_requests_total", **ok), scraped(url, "agileml_http_request_duration_seconds_count", route="/v1/predict")
    labels = sum(scraped(url, "agileml_predictions_total", label=l) for l in ("neg", "pos"))
    assert bounded_load(url, 137, texts) == [200] * 137
    assert post(url, "/v1/predict", json={"texts": []}).status_code == 422
    assert scraped(url, "agileml_http_requests_total", **ok) - counted == 137
    assert scraped(url, "agileml_http_request_duration_seconds_count", route="/v1/predict") - timed == 137 + 1
    assert sum(scraped(url, "agileml_predictions_total", label=l) for l in ("neg", "pos")) - labels == 137 * 2
    assert scraped(url, "agileml_http_requests_total", method="POST", route="/v1/predict", status="422") >= 1
    assert scraped(url, "agileml_http_requests_total", method="GET", route="unmatched", status="404") == 0
    HTTP.get(f"{url}/no/such/page")
    assert scraped(url, "agileml_http_requests_total", method="GET", route="unmatched", status="404") == 1


def test_metrics_add_up_over_worker_processes(service):
    proc, url = start_server("--model", service["runs"]["tfidf"], "--workers", "2", "--decision-log", "off",
                             env={**os.environ, "MLFLOW_TRACKING_URI": service["uri"]})
    try:
        assert bounded_load(url, 60, ["a dull film"]) == [200] * 60
        for _ in range(6):             # whichever worker answers the scrape, it reports both workers' requests
            assert scraped(url, "agileml_http_requests_total", method="POST", route="/v1/predict", status="200") == 60
    finally:
        stop(proc)


def test_serve_refuses_what_it_cannot_serve(store):
    out = subprocess.run([AGILEML, "serve", "--port", str(free_port())], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and "there is no champion to serve" in out.stderr
    out = subprocess.run([AGILEML, "serve", "--model", "/nonexistent/model"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 2 and "no run '/nonexistent/model'" in out.stderr


def test_a_numerically_unstable_model_is_refused_with_the_reason(store, tmp_path):
    "ML Test Score, 'the model is numerically stable': naive Bayes with C=1e-306 (smoothing 1e306) scores every text NaN."
    from agileml.catalog import load_registry
    from agileml.config import experiment_config
    from agileml.model_file import MODEL_FILE, model_example, save_model_file, write_mlflow_model
    from agileml.models import build_pipeline
    sms = load_registry("sms_spam")
    pipeline = build_pipeline(experiment_config(model="nb", C=1e-306)).fit(sms.texts[:500], sms.labels[:500])
    folder = tmp_path / "unstable"
    folder.mkdir()
    save_model_file(pipeline, folder / MODEL_FILE)
    write_mlflow_model(folder, model_example(pipeline, sms.texts[:2]))
    out = subprocess.run([AGILEML, "serve", "--port", str(free_port()), "--model", str(folder)], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "the model scores 1 of 1 text(s) as NaN or infinite: it is numerically unstable" in out.stderr
    trained = cli("train", "-p", "model=nb", "-p", "C=1e-306", "-p", "dataset=pang_lee_polarity", check=1).stdout
    assert "FAILED" in trained and "as NaN or infinite" in trained       # nor is such a run recorded as trained
