"Tag suggestion: multi-label files train with calibrated tags and tag metrics; every run beats a non-ML baseline or is not promoted."
import json, os, re
from pathlib import Path
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from conftest import HTTP, cli, module_store, post, require_dataset, start_server, stop, train_warm, wait_for

TAG_METRICS = {"micro_f1", "macro_f1", "samples_f1", "accuracy", "hamming_loss", "precision_at_1", "precision_at_3",
               "ece_top1", "coverage_at_precision"}


@pytest.fixture(scope="module")
def reuters_sample():
    "800 Reuters stories (real text, real topics) with their topics, from the registry's published archive."
    require_dataset("reuters21578")
    from agileml.catalog import load_registry
    ds = load_registry("reuters21578")
    frequent = {t for t, n in pd.Series([t for ts in ds.labels for t in ts]).value_counts().items() if n >= 150}
    rows = [(text, [t for t in tags if t in frequent]) for text, tags in zip(ds.texts, ds.labels)][:800]
    return rows


@pytest.fixture(scope="module")
def tagged(tmp_path_factory, reuters_sample):
    "The sample as a CSV with the topics joined by '|' and as a JSONL with lists, each trained in one store."
    folder = tmp_path_factory.mktemp("tags")
    csv, jsonl = folder / "stories.csv", folder / "stories.jsonl"
    pd.DataFrame({"text": [t for t, _ in reuters_sample], "topics": ["|".join(ts) for _, ts in reuters_sample]}).to_csv(csv, index=False)
    jsonl.write_text("".join(json.dumps({"text": t, "topics": ts}) + "\n" for t, ts in reuters_sample))
    with module_store(tmp_path_factory, "tags-store") as uri:
        made = [train_warm(f"dataset={csv}", "label_column=topics", "label_separator=|", "ngram_max=1"),
                train_warm(f"dataset={jsonl}", "label_column=topics", "ngram_max=1")]
        yield dict(uri=uri, csv=made[0], jsonl=made[1], csv_path=csv)


def test_a_multi_label_csv_and_jsonl_train_with_tag_metrics_and_the_same_fingerprint(tagged, tmp_path):
    from_csv, from_jsonl, store = tagged["csv"], tagged["jsonl"], tagged["uri"]
    for result in (from_csv, from_jsonl):
        m = result["metrics"]
        assert result["status"] == "FINISHED" and TAG_METRICS <= set(m)
        assert m["lift_micro_f1"] > 0 and m["micro_f1"] == pytest.approx(m["baseline_micro_f1"] + m["lift_micro_f1"])
        assert 0 <= m["ece_top1"] <= 1 and 0 <= m["coverage_at_precision"] <= 1
        assert 0 <= m["ece_tag_mean"] <= m["ece_tag_max"] <= 1
    client = MlflowClient(store)
    runs = [client.get_run(r["run_id"]) for r in (from_csv, from_jsonl)]
    assert (runs[0].data.params["ngram_max"], runs[0].data.params["min_df"]) == ("1", "2")     # given 1; min_df 0: the tags' 2
    assert runs[0].data.tags["agileml.calibration"].startswith("probabilities calibrated on out-of-fold scores")
    report = json.loads(Path(client.download_artifacts(runs[0].info.run_id, "evaluation/per_tag_report.json", str(tmp_path))).read_text())
    assert all(0 <= row["ece"] <= 1 for row in report.values())
    assert runs[0].data.tags["agileml.data_fingerprint"] == runs[1].data.tags["agileml.data_fingerprint"]   # same rows, same content
    assert from_csv["metrics"] == from_jsonl["metrics"] | {"fit_seconds": from_csv["metrics"]["fit_seconds"]}
    files = {f.path for f in client.list_artifacts(runs[0].info.run_id, "evaluation")}
    assert files == {"evaluation/per_tag_report.json", "evaluation/tags.png", "evaluation/baselines.csv"}
    summary = json.loads(Path(client.download_artifacts(runs[0].info.run_id, "data/summary.json", str(tmp_path))).read_text())
    assert summary["task"] == "multi" and set(summary["classes"]) >= {"earn", "acq"}


def test_a_file_with_one_label_per_row_still_trains_single_label(store, tmp_path):
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    path = tmp_path / "sms.csv"
    pd.DataFrame({"text": sms.texts, "label": sms.labels}).to_csv(path, index=False)
    m = train_warm(f"dataset={path}", "label_separator=|")["metrics"]
    assert {"accuracy", "macro_f1", "mcc", "baseline_mcc", "lift_mcc"} <= set(m) and "micro_f1" not in m
    assert m == train_warm("dataset=sms_spam")["metrics"] | {"fit_seconds": m["fit_seconds"]}    # as today, on the same rows


def test_a_model_no_better_than_a_keyword_rule_is_not_promoted_even_with_force(store, tmp_path):
    "SMS texts labelled by whether they say 'free': the keyword rule learnt from the training part is perfect."
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    path = tmp_path / "offers.csv"
    pd.DataFrame({"text": sms.texts,
                  "label": ["offer" if re.search(r"\bfree\b", t, re.I) else "other" for t in sms.texts]}).to_csv(path, index=False)
    run = train_warm(f"dataset={path}")
    m = run["metrics"]
    assert m["baseline_macro_f1"] >= m["macro_f1"] and m["lift_macro_f1"] <= 0
    refused = cli("promote", run["run_id"], "--force", "--reason", "ship it", check=1).stderr
    assert f"does not beat its non-ML baseline on macro_f1: {m['macro_f1']:.4f} against the baseline's " \
           f"{m['baseline_macro_f1']:.4f} (lift {m['lift_macro_f1']:+.4f})" in refused
    assert "no champion yet" in cli("champion", check=2).stderr


def test_the_service_suggests_tags_with_probabilities_and_explains_each(tagged, tmp_path):
    proc, url = start_server("--model", tagged["csv"]["run_id"], "--token", "t0ken",
                             env={**os.environ, "MLFLOW_TRACKING_URI": tagged["uri"]})
    try:
        texts = ["Oil prices rose as OPEC cut crude output", "The company reported quarterly net profit and a dividend"]
        got = post(url, "/v1/predict", json={"texts": texts}).json()["predictions"]
        for p in got:
            probabilities = [t["probability"] for t in p["tags"]]
            assert probabilities == sorted(probabilities, reverse=True) and all(0 <= v <= 1 for v in p["scores"].values())
        assert "crude" in [t["tag"] for t in got[0]["tags"]] and "earn" in [t["tag"] for t in got[1]["tags"]]
        explained = post(url, "/v1/explain", json={"texts": texts}).json()["explanations"]
        assert [[t["tag"] for t in e["tags"]] for e in explained] == [[t["tag"] for t in p["tags"]] for p in got]
        assert all(t["towards"] for e in explained for t in e["tags"])
        assert "crude" in {f["feature"] for e in explained[:1] for t in e["tags"] if t["tag"] == "crude" for f in t["towards"]}
        bad = post(url, "/v1/predict", json={"texts": "one string"})
        assert bad.status_code == 422 and "list" in bad.json()["detail"]
        # the curator keeps some tags, removes the rest and adds one; a tag the model did not suggest cannot be accepted
        curator, suggested = {"Authorization": "Bearer t0ken"}, [t["tag"] for t in got[0]["tags"]]
        verdict = dict(decision_id=got[0]["decision_id"], curator="ana", accepted=["crude"],
                       rejected=[t for t in suggested if t != "crude"], added=["energy"])
        unknown = post(url, "/v1/feedback", json=verdict, headers=curator)      # 'energy' is no tag of this model
        assert unknown.status_code == 422 and "'energy' is not a tag of the model of run" in unknown.json()["detail"]
        verdict["new"] = ["energy"]                                             # the curator means it as a new tag
        assert post(url, "/v1/feedback", json=verdict, headers=curator).json()["curation"]["added"] == ["energy"]
        wrong = post(url, "/v1/feedback", json={**verdict, "accepted": ["crude", "wheat"]}, headers=curator)
        assert wrong.status_code == 422 and "'wheat' was not suggested" in wrong.json()["detail"]
        back = HTTP.get(f"{url}/v1/decisions/{explained[0]['decision_id']}", headers=curator).json()
        assert back["explanation"] == {"tags": explained[0]["tags"]} and back["curation"] is None
    finally:
        stop(proc)
    # what the curator kept and added is exported as tags and trains with no flags as extra data
    log = f"sqlite:///{Path(tagged['uri'][len('sqlite:///'):]).parent / 'decisions.db'}"
    exported = json.loads(cli("feedback", "export", "-o", str(tmp_path / "curated.jsonl"), "--json", "--decision-log", log).stdout)
    assert exported["task"] == "multi" and exported["rows"] == 1 and exported["new_labels"] == {"energy": 1}
    row = json.loads((tmp_path / "curated.jsonl").read_text())
    assert row["text"] == texts[0] and row["label"] == ["crude", "energy"] and row["new"] == ["energy"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", tagged["uri"])
        retrained = train_warm(f"dataset={tagged['csv_path']}", "label_column=topics", "label_separator=|", "ngram_max=1",
                               f"extra_data={exported['path']}")
    tags = MlflowClient(tagged["uri"]).get_run(retrained["run_id"]).data.tags
    assert tags["agileml.extra_rows"] == "1" and tags["agileml.extra_new_labels"] == "energy"      # the run sees it as new


def test_a_simulated_curation_round_on_reuters_goes_from_the_queue_through_the_gate(tagged, tmp_path):
    """300 new Reuters stories served by the champion; a curator who knows their true topics judges the first 100 the queue
    gives (least sure first, a random control among them); the verdicts, exported, train a run the gate promotes."""
    from agileml.catalog import load_registry
    ds = load_registry("reuters21578")
    frequent = {t for ts in pd.read_csv(tagged["csv_path"]).topics.dropna() for t in ts.split("|")}
    seen = set(pd.read_csv(tagged["csv_path"]).text)
    pool = {t: [x for x in tags if x in frequent] for t, tags in zip(ds.texts[800:], ds.labels[800:]) if t not in seen}
    pool = dict(list(pool.items())[:300])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tagged["uri"]}
    log = f"sqlite:///{tmp_path / 'decisions.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", tagged["uri"])
        champion = json.loads(cli("promote", tagged["csv"]["run_id"], "--json", check=0).stdout)
        proc, url = start_server("--token", "t0ken", "--decision-log", log, env=env)
        curator = {"Authorization": "Bearer t0ken"}
        try:
            said = post(url, "/v1/predict", json={"texts": list(pool)}).json()["predictions"]
            assert len(said) == 300
            queue = lambda: HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 100}, headers=curator).json()
            first = wait_for(lambda: (q := queue())["pending"] == 300 and q, 20, "the 300 decisions logged")["decisions"]
            arms = [d["arm"] for d in first]
            assert 5 <= arms.count("control") <= 15 and arms.count("ordered") == 100 - arms.count("control")
            for d in first:
                truth, suggested, known = pool[d["text"]], d["suggested"], set(d["scores"])
                verdict = dict(decision_id=d["decision_id"], curator="ana", accepted=[t for t in suggested if t in truth],
                               rejected=[t for t in suggested if t not in truth], added=[t for t in truth if t not in suggested])
                if new := [t for t in verdict["added"] if t not in known]: verdict["new"] = new
                assert post(url, "/v1/feedback", json=verdict, headers=curator).status_code == 200
            assert queue()["pending"] == 200
        finally:
            stop(proc)
        exported = json.loads(cli("feedback", "export", "-o", str(tmp_path / "round.jsonl"), "--json", "--decision-log", log, check=0).stdout)
        assert (exported["rows"], exported["task"]) == (100, "multi")
        retrained = train_warm(f"dataset={tagged['csv_path']}", "label_column=topics", "label_separator=|", "ngram_max=1",
                               f"extra_data={exported['path']}")
        promoted = json.loads(cli("promote", retrained["run_id"], "--json", check=0).stdout)
    assert int(promoted["version"]) == int(champion["version"]) + 1 and promoted["promotion"].startswith("gate passed")
    tags = MlflowClient(tagged["uri"]).get_run(retrained["run_id"]).data.tags
    assert tags["agileml.extra_rows"] == "100" and tags["agileml.extra_data_fingerprints"] == exported["fingerprint"]
