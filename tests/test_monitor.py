"`agileml monitor` against a real service, decision log and store: held-out texts pass; other texts, rejected suggestions and old data alert."
import json, time
from datetime import datetime, timezone
from pathlib import Path
import pytest
from mlflow.tracking import MlflowClient
from conftest import cli, module_store, post, require_dataset, start_server, stop, train_warm

TOKEN = "monitor-test"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}
DATA_AGE_DAYS = 200


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    "An SMS Spam champion trained on a file whose content the store first recorded 200 days ago, served with its decision log."
    require_dataset("sms_spam"); require_dataset("20newsgroups")
    from agileml.catalog import load_registry
    from agileml.data import split_dataset
    sms = load_registry("sms_spam")
    data = tmp_path_factory.mktemp("data") / "sms.jsonl"
    data.write_text("".join(json.dumps(dict(text=t, label=l)) + "\n" for t, l in zip(sms.texts, sms.labels)))
    with module_store(tmp_path_factory, "monitor") as uri:
        run = train_warm(f"dataset={data}")
        c = MlflowClient(uri)         # the same content, recorded by a run 200 days ago: its age, whatever the file's date
        trained = c.get_run(run["run_id"])
        c.create_run(trained.info.experiment_id, start_time=int((time.time() - DATA_AGE_DAYS * 86400) * 1000),
                     tags={"agileml.data_fingerprint": trained.data.tags["agileml.data_fingerprint"]})
        cli("promote", run["run_id"], check=0)
        split = split_dataset(sms)
        proc, url = start_server("--token", TOKEN)
        try: yield dict(url=url, split=split, folder=data.parent)
        finally: stop(proc)


def now() -> str:
    time.sleep(0.01)
    return datetime.now(timezone.utc).isoformat()


def served(url, texts):
    out = []
    for i in range(0, len(texts), 25):
        r = post(url, "/v1/predict", json={"texts": texts[i:i + 25]})
        assert r.status_code == 200, r.text
        out += r.json()["predictions"]
    time.sleep(1)                      # the decision log writes every 0.25 s
    return out


def monitored(*args, check):
    out = cli("monitor", "--json", *args, check=check)
    return json.loads(out.stdout)


def test_held_out_sms_texts_raise_no_alert(production, tmp_path):
    since = now()
    served(production["url"], production["split"].X_test[:300])
    d = monitored("--window", since, check=0)
    assert d["status"] == "ok" and d["alerts"] == [] and d["decisions"] == 300
    drift = {s["name"]: s for s in d["signals"]["input drift"] + d["signals"]["output drift"]}
    assert drift["oov_rate"]["effect"] < 0.05 and drift["token_distribution"]["value"] < 0.1, drift
    assert d["signals"]["staleness"][1]["value"] == pytest.approx(DATA_AGE_DAYS, abs=1)
    from mlflow.tracking import MlflowClient
    from agileml.tracking import tracking_uri
    c = MlflowClient(tracking_uri())
    recorded = c.get_run(d["monitoring_run"])
    assert c.get_experiment(recorded.info.experiment_id).name == "monitoring"
    assert recorded.data.tags["agileml.monitor_status"] == "ok" and recorded.data.metrics["decisions"] == 300
    page = Path(c.download_artifacts(d["monitoring_run"], "report.html", str(tmp_path))).read_text()
    assert "Model version 1: OK" in page and page.count("<img") == 1
    assert len(d["series"]) == 6 and sum(p["decisions"] for p in d["series"]) == 300


def test_newsgroup_posts_are_input_drift(production):
    from agileml.catalog import load_registry
    posts = [t[:2000] for t in load_registry("20newsgroups").texts[:300]]
    since = now()
    served(production["url"], posts)
    d = monitored("--window", since, check=1)
    moved = {a.split(": ")[1] for a in d["alerts"] if a.startswith("input drift")}
    assert {"oov_rate", "text_length", "token_distribution"} <= moved, d["alerts"]
    assert "ALERT oov_rate" in cli("monitor", "--window", since, check=1).stdout


def test_curators_rejecting_40_percent_of_spam_is_an_online_quality_alert(production, tmp_path):
    split = production["split"]
    spam = [t for t, y in zip(split.X_test, split.y_test) if y == "spam"]
    since = now()
    said_spam = [p for p in served(production["url"], spam) if p["label"] == "spam"][:100]
    assert len(said_spam) == 100
    for i, p in enumerate(said_spam):
        verdict = dict(decision_id=p["decision_id"], curator="ana", label="ham" if i % 5 < 2 else "spam")   # 40% rejected
        assert post(production["url"], "/v1/feedback", json=verdict, headers=CURATOR).status_code == 200
    d = monitored("--window", since, check=1)
    assert "online quality: online_precision[spam]" in d["alerts"]
    (spam_quality,) = [s for s in d["signals"]["online quality"] if s["name"] == "online_precision[spam]"]
    assert spam_quality["value"] == 0.6 and spam_quality["reference"] > 0.9


def test_a_window_too_small_to_judge_says_so_and_exits_3(production):
    since = now()
    served(production["url"], production["split"].X_test[:5])
    d = monitored("--window", since, check=3)
    assert d["status"] == "not enough data" and d["headline"].startswith("NOT ENOUGH DATA: 5 decisions in the window, under min_texts 200")
    assert cli("monitor", "--window", since, check=3).stdout.startswith("NOT ENOUGH DATA")


def test_a_latency_above_the_baseline_is_an_alert(production, tmp_path):
    "The service's logged latency against a baseline set below it (the benchmark's is 25 ms; loopback answers take ~1 ms)."
    since = now()
    served(production["url"], production["split"].X_test[:200])
    d = monitored("--window", since, check=0)
    (p99,) = d["signals"]["latency"]
    assert 0 < p99["value"] < 50 and not p99["alert"]
    (tmp_path / "t.yaml").write_text(f"latency_p99_ms: {p99['value'] / 4}\n")
    d = monitored("--window", since, "--thresholds", str(tmp_path / "t.yaml"), check=1)
    assert d["alerts"] == ["latency: latency_p99_ms"]


def test_training_data_older_than_the_threshold_is_stale(production, tmp_path):
    (tmp_path / "t.yaml").write_text(f"max_data_age_days: {DATA_AGE_DAYS - 20}\n")
    d = monitored("--thresholds", str(tmp_path / "t.yaml"), check=1)
    assert "staleness: data_age_days" in d["alerts"] and "staleness: model_age_days" not in d["alerts"]
    (tmp_path / "bad.yaml").write_text("max_data_age: 30\n")
    out = cli("monitor", "--thresholds", str(tmp_path / "bad.yaml"), check=2)
    assert "unknown threshold(s) max_data_age" in out.stderr


def test_a_champion_trained_with_another_minor_release_is_a_dependency_alert(production):
    "The champion's recorded scikit-learn version made one minor release older, in the real store: an alert naming it."
    from mlflow.tracking import MlflowClient
    from agileml.registry import champion_version
    from agileml.tracking import package_versions, tracking_uri
    c = MlflowClient(tracking_uri())
    run_id = champion_version(c).run_id
    here = package_versions()["scikit-learn"]
    major, minor = here.split(".")[:2]
    older = f"{major}.{int(minor) - 1}.0"
    assert monitored(check=None)["signals"]["dependencies"][0]["name"] == "versions"
    c.set_tag(run_id, "agileml.version.scikit-learn", older)
    try:
        d = monitored(check=1)
        assert "dependencies: version[scikit-learn]" in d["alerts"]
        (changed,) = d["signals"]["dependencies"]
        assert (changed["value"], changed["reference"]) == (here, older)
        assert f"trained with scikit-learn {older}; {here} here" in cli("monitor", check=1).stdout
    finally: c.set_tag(run_id, "agileml.version.scikit-learn", here)
