"""Suspected label errors: the label_review notebook through `agileml review labels`, on real SMS Spam rows with labels
flipped; the flags in the curator's queue, judged on the page, and the corrections training the next run."""
import json
import random
import pytest
from conftest import (ARTIFACTS, HTTP, cli, current_text, explained, module_store, press, require_dataset, runs, sign_in,
                      start_server, stop, train_warm, wait_for)

TOKEN = "label-checkers"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    "1,500 SMS Spam rows, 5% of their labels flipped at random (seeded), and a run trained on them, in a store of their own."
    require_dataset("sms_spam")
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    flipped = set(random.Random(7).sample(range(1500), 75))
    truth = dict(zip(sms.texts[:1500], sms.labels[:1500]))
    rows = [dict(text=t, label=("ham" if l == "spam" else "spam") if i in flipped else l)
            for i, (t, l) in enumerate(zip(sms.texts[:1500], sms.labels[:1500]))]
    folder = tmp_path_factory.mktemp("noisy")
    path = folder / "noisy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with module_store(tmp_path_factory, "review-store") as uri:
        yield dict(path=path, folder=folder, uri=uri, rows=rows, truth=truth, flipped={rows[i]["text"] for i in flipped},
                   run=train_warm(f"dataset={path}")["run_id"])


def test_review_labels_flags_the_flipped_rows_and_records_them(noisy):
    out = cli("review", "labels", noisy["run"], "--json", check=0)
    review = json.loads(out.stdout)
    from agileml.tracking import client, get_run
    run = get_run(review["run_id"])
    assert run.data.tags["agileml.reviews"] == noisy["run"]
    import pandas as pd
    flags = pd.read_csv(client().download_artifacts(run.info.run_id, "review/label_issues.csv"))
    hits = flags.text.isin(noisy["flipped"]).sum()
    trained = run.data.metrics["training_rows"]
    assert 0 < len(flags) < trained and hits / len(flags) >= 0.6           # the floor for precision
    assert (flags.given != flags.suggested).mean() > 0.9 and flags.label_quality.is_monotonic_increasing
    assert "queued" not in run.data.metrics                                   # the queue only when asked
    listed = {r["run_id"]: r["experiment"] for r in json.loads(cli("runs", "--json", check=0).stdout)}
    assert (listed[run.info.run_id], listed[noisy["run"]]) == ("label_review", "train")     # what each run is, in the list


def test_flags_queued_are_judged_on_the_page_and_the_corrections_retrain(noisy, browser, tmp_path, monkeypatch):
    review = json.loads(cli("review", "labels", noisy["run"], "--queue", "--json", check=0).stdout)
    flagged, queued = int(review["metrics"]["flagged"]), int(review["metrics"]["queued"])
    assert 0 < queued <= flagged                                              # a text twice in the data is one check
    again = json.loads(cli("review", "labels", noisy["run"], "--queue", "--json", check=0).stdout)
    assert again["metrics"]["queued"] == 0                                    # the same flags are not queued twice
    proc, url = start_server("--model", noisy["run"], "--token", TOKEN)
    judged = {}
    try:
        said = HTTP.post(f"{url}/v1/predict", json={"texts": ["Free entry to win a prize now", "See you at lunch"]}).json()
        pending = lambda: HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 500},
                                   headers={"Authorization": f"Bearer {TOKEN}"}).json()
        queue = wait_for(lambda: (q := pending())["pending"] == queued + 2 and q, 20, "the two decisions logged")
        kinds = [d["kind"] for d in queue["decisions"]]
        assert kinds == ["label_check"] * queued + ["suggestion"] * 2       # the checks first
        assert said["predictions"][0]["decision_id"] in [d["decision_id"] for d in queue["decisions"]]
        sign_in(browser, url, TOKEN)
        wait_for(lambda: current_text(browser), 30, "the first label check on the card")
        wait_for(lambda: explained(browser), 30, "the explanation shown")
        card = browser.find_element("id", "card").text
        assert "is this label right?" in card and "The training data says" in card and "a suggestion only" in card
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "curate-label-check.png"))
        for i in range(10):                     # the curator knows each text's true label
            text = current_text(browser)
            given = next(r["label"] for r in noisy["rows"] if r["text"] == text)
            names = browser.execute_script("return [...document.querySelectorAll('#card .choices .name')].map(n => n.textContent)")
            press(browser, "a" if noisy["truth"][text] == given else str(names.index(noisy["truth"][text]) + 1))
            judged[text] = noisy["truth"][text]
            wait_for(lambda: current_text(browser) != text, 20, f"the card after verdict {i + 1}")
        wait_for(lambda: "10 curated" in browser.find_element("id", "tally").text, 30, "the tally counting 10 verdicts")
    finally:
        stop(proc)
    stats = json.loads(cli("decisions", "stats", "--json", check=0).stdout)
    assert [m["decisions"] for m in stats] == [2]              # label checks are no decisions of the service's
    export = json.loads(cli("feedback", "export", "-o", str(tmp_path / "checked.jsonl"), "--json", check=0).stdout)
    assert export["rows"] == 10
    corrected = sum(judged[t] != next(r["label"] for r in noisy["rows"] if r["text"] == t) for t in judged)
    assert corrected >= 6                                      # most flags were flipped rows
    from agileml.tracking import get_run
    monkeypatch.chdir(tmp_path)                                # the export named as a person would, from its folder
    retrained = get_run(train_warm(f"dataset={noisy['path']}", "extra_data=checked.jsonl")["run_id"])
    assert retrained.data.params["extra_data"] == str((tmp_path / "checked.jsonl").resolve())
    tags = retrained.data.tags
    assert (tags["agileml.training_rows_relabelled"], tags["agileml.extra_rows"]) == (str(corrected), "0")


def test_a_review_of_a_run_whose_data_is_gone_says_which_data_and_where_before_any_run(noisy):
    gone = noisy["folder"] / "gone.jsonl"
    gone.write_text(noisy["path"].read_text())
    run = train_warm(f"dataset={gone}")["run_id"]
    gone.unlink()
    before = len(runs(noisy["uri"]))
    out = cli("review", "labels", run[:8], check=2)                        # an id's start, as `agileml runs` shows it
    assert f"run {run} was trained on data that is gone: no such file or folder: {gone}" in out.stderr, out.stderr
    out = cli("review", "labels", "0123456789abcdef", check=2)           # a mistyped run id
    assert "no run '0123456789abcdef' in the tracking store" in out.stderr and "Traceback" not in out.stderr
    assert len(runs(noisy["uri"])) == before                              # nothing recorded: no FAILED review run
