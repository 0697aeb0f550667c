"""The curator's workbench as a person uses it: a real Chromium signs in on the page `agileml serve` serves, judges SMS and
Reuters decisions by keyboard, and every verdict is checked in the decision log; the API refuses what does not fit."""
import json, os, stat
from pathlib import Path
from urllib.parse import quote
import pytest
from mlflow.tracking import MlflowClient
from conftest import (ARTIFACTS, HTTP, cli, current_text, explained, module_store, other_hosts, post, press, require_dataset,
                      sign_in, start_server, stop, train_warm, wait_for)

TOKEN, TAG_TOKEN = "curators-only", "tag-curators"
CURATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sms_service(tmp_path_factory):
    """A champion trained on 600 SMS texts, served with the token from a file readable by its owner only, and 40 other SMS
    texts it has decided (each with its true label)."""
    require_dataset("sms_spam")
    from agileml.catalog import load_registry
    ds = load_registry("sms_spam")
    folder = tmp_path_factory.mktemp("workbench")
    base = folder / "sms_600.jsonl"
    base.write_text("".join(json.dumps(dict(text=t, label=l)) + "\n" for t, l in zip(ds.texts[:600], ds.labels[:600])))
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n"); token_file.chmod(0o600)
    with module_store(tmp_path_factory, "workbench-store") as uri:
        run = train_warm(f"dataset={base}")
        cli("promote", run["run_id"], check=0)
        proc, url = start_server("--token-file", str(token_file), "--reload-seconds", "0.5")
        try:
            served = {}
            for t, l in zip(ds.texts[600:], ds.labels[600:]):
                if len(served) < 40 and t not in served: served[t] = l
            said = post(url, "/v1/predict", json={"texts": list(served)}).json()["predictions"]
            decided = {t: dict(id=p["decision_id"], truth=served[t], suggested=p["label"]) for t, p in zip(served, said)}
            yield dict(url=url, proc=proc, uri=uri, base=base, run_id=run["run_id"], decided=decided, folder=folder)
        finally: stop(proc)


def test_serve_says_where_it_listens_what_it_serves_and_where_curation_is(sms_service):
    line = sms_service["proc"].stdout.readline()
    url = sms_service["url"]
    assert line.startswith(f"agileml serve: ready at {url} | model: run {sms_service['run_id']} (version 1) | decision log: sqlite:///")
    assert line.rstrip().endswith(f"| curation: open at {url}/curate (sign in with the token)")
    assert TOKEN not in line


def test_a_token_file_others_can_read_is_refused_with_the_reason(sms_service):
    loose = sms_service["folder"] / "loose-token"
    loose.write_text(TOKEN); loose.chmod(0o644)
    said = cli("serve", "--token-file", str(loose), check=2).stderr
    assert f"can be read by others (mode 644): make it its owner's only with chmod 600 {loose}" in said
    assert "Traceback" not in said
    assert oct(stat.S_IMODE(loose.stat().st_mode)) == "0o644"          # told, not changed


from selenium.webdriver.common.keys import Keys


def test_thirty_verdicts_by_keyboard_are_each_in_the_log(sms_service, browser):
    url, decided = sms_service["url"], sms_service["decided"]
    sign_in(browser, url, "not the token")
    wait_for(lambda: "That is not this service's token" in browser.page_source, 20, "the sign-in page saying the token is wrong")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "curate-sign-in.png"))
    sign_in(browser, url, TOKEN)
    wait_for(lambda: current_text(browser), 30, "the first decision on the card")
    wait_for(lambda: explained(browser), 30, "the explanation shown")
    browser.save_screenshot(str(ARTIFACTS / "curate-sms.png"))
    assert "waiting for a verdict" in browser.find_element("id", "left").text
    first = current_text(browser)                  # a typo typed in: the service refuses it, and the decision comes back with why
    press(browser, "c"); press(browser, "Ham" + Keys.ENTER)
    wait_for(lambda: "did you mean 'ham'?" in browser.find_element("id", "error").text, 20, "the refusal shown on the page")
    assert current_text(browser) == first and browser.find_element("id", "error").text.startswith("Not recorded: 'Ham' is not a label")
    expected, undone = {}, None
    for i in range(30):
        text = current_text(browser)
        d = decided[text]
        names = browser.execute_script("return [...document.querySelectorAll('#card .choices .name')].map(n => n.textContent)")
        if i == 5: press(browser, "c"); press(browser, d["truth"] + Keys.ENTER)        # typed into the label box, with completion
        elif d["truth"] == d["suggested"]: press(browser, "a")
        else: press(browser, str(names.index(d["truth"]) + 1))
        expected[d["id"]] = d["truth"]
        wait_for(lambda: current_text(browser) != text, 20, f"the decision after verdict {i + 1}")
        if i == 10:                    # the curator takes the verdict back: the decision returns, and is judged again below
            undone = d["id"]
            press(browser, "u")
            wait_for(lambda: current_text(browser) == text, 20, "the undone decision coming back")
            press(browser, "a" if d["truth"] == d["suggested"] else str(names.index(d["truth"]) + 1))
            wait_for(lambda: current_text(browser) != text, 20, "the decision after the undone one")
    wait_for(lambda: "30 curated" in browser.find_element("id", "tally").text, 30, "the tally counting 30 verdicts")
    for decision_id, truth in expected.items():
        got = HTTP.get(f"{url}/v1/decisions/{decision_id}", headers=CURATOR).json()
        assert (got["curation"]["label"], got["curation"]["curator"]) == (truth, "ana"), decision_id
    assert len(HTTP.get(f"{url}/v1/decisions/{undone}", headers=CURATOR).json()["history"]) == 1      # undo removed the first
    assert HTTP.get(f"{url}/v1/decisions", params={"pending": "true"}, headers=CURATOR).json()["pending"] == 10
    assert other_hosts(browser, url) == []
    timings = browser.execute_script("return window.curateTimings")
    assert len(timings) == 32 and all(t >= 0 for t in timings)


def test_a_forged_form_from_another_page_is_refused_and_changes_nothing(sms_service, browser):
    url = sms_service["url"]
    sign_in(browser, url, TOKEN, "ana")
    wait_for(lambda: current_text(browser), 30, "the workbench")
    victim = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1}, headers=CURATOR).json()["decisions"][0]
    forged = (f"<form method=post action='{url}/v1/feedback'><input name=decision_id value={victim['decision_id']}>"
              "<input name=curator value=eve><input name=label value=spam></form><script>document.forms[0].submit()</script>")
    browser.get("data:text/html," + quote(forged))          # another origin: the SameSite=Strict session cookie stays home
    wait_for(lambda: "sign in at /curate" in browser.page_source, 20, "the service's refusal")
    assert HTTP.get(f"{url}/v1/decisions/{victim['decision_id']}", headers=CURATOR).json()["curation"] is None
    r = HTTP.post(f"{url}/v1/feedback", data=dict(decision_id=victim["decision_id"], curator="eve", label="spam"))
    assert r.status_code == 401


def test_a_typo_is_refused_a_new_label_is_counted_apart_and_the_curated_data_trains_two_classes(sms_service, tmp_path):
    url, uri = sms_service["url"], sms_service["uri"]
    d = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1}, headers=CURATOR).json()["decisions"][0]
    for typo, said in (("Ham", "'Ham' is not a label of model version 1; did you mean 'ham'?"),
                       ("eggs", "'eggs' is not a label of model version 1; the closest is")):
        r = post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=d["decision_id"], curator="bo", label=typo))
        assert r.status_code == 422 and said in r.json()["detail"], r.text
    assert HTTP.get(f"{url}/v1/decisions/{d['decision_id']}", headers=CURATOR).json()["history"] == []       # nothing written
    new = post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=d["decision_id"], curator="bo", label="promo", new=["promo"]))
    assert new.status_code == 200
    log = f"sqlite:///{Path(uri[len('sqlite:///'):]).parent / 'decisions.db'}"          # beside the store: serve's default
    stats = json.loads(cli("decisions", "stats", "--json", "--decision-log", log).stdout)[0]
    assert stats["new_labels"] == {"promo": 1} and "promo" not in stats["labels"]
    assert post(url, f"/v1/decisions/{d['decision_id']}/undo", headers=CURATOR, json={"curator": "bo"}).status_code == 200
    exported = json.loads(cli("feedback", "export", "-o", str(tmp_path / "curated.jsonl"), "--json", "--decision-log", log).stdout)
    assert exported["new_labels"] == {} and exported["rows"] >= 30
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        # the whole SMS training set beside the curated rows (macro F1 0.98 against the baseline's 0.82): beside the 600
        # texts (0.89 against 0.75 alone) they once brought the model down to the baseline (0.8627 both; which decisions
        # the tests judged varies with the queue's random draws), and the gate refused it
        retrained = train_warm("dataset=sms_spam", f"extra_data={exported['path']}")
        summary = json.loads(open(MlflowClient(uri).download_artifacts(retrained["run_id"], "data/summary.json", str(tmp_path))).read())
        assert sorted(summary["classes"]) == ["ham", "spam"]
        cli("promote", retrained["run_id"], "--force", "--reason", "trained on curated SMS", check=0)
    wait_for(lambda: HTTP.get(f"{url}/v1/model").json()["version"] == "2", 30, "the service picking up the new champion")
    # a decision of version 1, no longer served, is still judged and explained by its own model
    old = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1}, headers=CURATOR).json()["decisions"][0]
    assert old["model"]["version"] == "1"
    r = post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=old["decision_id"], curator="bo", label=old["suggested"][0]))
    assert r.status_code == 200
    back = HTTP.get(f"{url}/v1/decisions/{old['decision_id']}", headers=CURATOR).json()
    assert back["explanation"]["label"] == old["suggested"][0] and back["explanation_missing"] is None


def test_bad_requests_to_the_curation_api_get_4xx_that_say_what_is_accepted(sms_service):
    url = sms_service["url"]
    r = HTTP.get(f"{url}/v1/decisions/{'0' * 32}", headers=CURATOR)
    assert r.status_code == 404 and "no decision has the id" in r.json()["detail"]
    r = HTTP.get(f"{url}/v1/decisions/not-an-id", headers=CURATOR)
    assert r.status_code == 422 and "is not a decision id: 32 hexadecimal digits" in r.json()["detail"]
    d = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1}, headers=CURATOR).json()["decisions"][0]
    r = post(url, "/v1/feedback", headers=CURATOR, json=dict(decision_id=d["decision_id"], curator=" ", label="ham"))
    assert r.status_code == 422 and "curator is only whitespace" in r.json()["detail"]
    r = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "order": "loudest"}, headers=CURATOR)
    assert r.status_code == 422 and r.json()["detail"] == "order must be one of 'uncertainty', 'newest' or 'random'"
    assert HTTP.get(f"{url}/v1/labels", headers=CURATOR).json()["labels"] == ["ham", "spam"]
    unsure = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 8, "control_share": 0}, headers=CURATOR).json()
    margins = [abs(d["scores"]["spam"] - d["scores"]["ham"]) for d in unsure["decisions"]]
    assert unsure["order"] == "uncertainty" and margins == sorted(margins)          # the least sure first, by default
    assert "--control-share 1.5: give a share from 0" in cli("serve", "--control-share", "1.5", check=2).stderr
    assert HTTP.get(f"{url}/v1/labels").status_code == 401
    paths = HTTP.get(f"{url}/openapi.json").json()["paths"]
    assert {"/v1/decisions", "/v1/labels", "/v1/tally", "/v1/decisions/{decision_id}/undo"} <= set(paths)


@pytest.fixture(scope="module")
def tag_service(tmp_path_factory):
    "A tag model trained on 800 Reuters stories, served by run id with a token of its own, and 6 stories it has decided."
    require_dataset("reuters21578")
    from agileml.catalog import load_registry
    ds = load_registry("reuters21578")
    folder = tmp_path_factory.mktemp("workbench-tags")
    keep = {"earn", "acq", "crude", "trade", "money-fx", "interest", "grain", "wheat", "ship", "corn"}
    rows = [(t, sorted(set(ts) & keep)) for t, ts in zip(ds.texts, ds.labels) if set(ts) & keep]
    path = folder / "stories.jsonl"
    path.write_text("".join(json.dumps({"text": t, "tags": ts}) + "\n" for t, ts in rows[:800]))
    with module_store(tmp_path_factory, "workbench-tag-store"):
        run = train_warm(f"dataset={path}", "ngram_max=1")
        proc, url = start_server("--model", run["run_id"], "--decision-log", f"sqlite:///{folder / 'decisions.db'}",
                                 env={**os.environ, "AGILEML_SERVE_TOKEN": TAG_TOKEN})
        try:
            texts = [t for t, _ in rows[800:806]]
            said = post(url, "/v1/predict", json={"texts": texts}).json()["predictions"]
            yield dict(url=url, classes=sorted(keep), decided={t: p for t, p in zip(texts, said)}, run_id=run["run_id"],
                       log=f"sqlite:///{folder / 'decisions.db'}", given=dict(rows[:800]))
        finally: stop(proc)


def test_tags_are_kept_rejected_and_added_by_keyboard(tag_service, browser):
    url, decided = tag_service["url"], tag_service["decided"]
    browser.get(f"{url}/curate")                          # no session for this service's token yet: sign in
    sign_in(browser, url, TAG_TOKEN, "ben")
    wait_for(lambda: current_text(browser), 30, "the first tag decision")
    wait_for(lambda: explained(browser), 30, "the explanation shown")
    browser.save_screenshot(str(ARTIFACTS / "curate-tags.png"))
    verdicts = {}
    for step in ("reject the first, add one", "accept as suggested", "reject all"):
        text = current_text(browser)
        suggested = [t["tag"] for t in decided[text]["tags"]]
        if step == "reject the first, add one":
            extra = next(c for c in tag_service["classes"] if c not in suggested)
            if suggested: press(browser, "1")
            press(browser, "t"); press(browser, extra + Keys.ENTER); press(browser, Keys.ENTER)
            verdicts[decided[text]["decision_id"]] = (suggested[1:], suggested[:1], [extra])
        elif step == "accept as suggested":
            press(browser, "a"); verdicts[decided[text]["decision_id"]] = (suggested, [], [])
        else:
            press(browser, "r"); press(browser, "a"); verdicts[decided[text]["decision_id"]] = ([], suggested, [])
        wait_for(lambda: current_text(browser) != text, 20, f"the decision after '{step}'")
    headers = {"Authorization": f"Bearer {TAG_TOKEN}"}
    wait_for(lambda: HTTP.get(f"{url}/v1/decisions", params={"pending": "true"}, headers=headers).json()["pending"] == 3, 20,
             "three verdicts recorded")
    for decision_id, (accepted, rejected, added) in verdicts.items():
        c = HTTP.get(f"{url}/v1/decisions/{decision_id}", headers=headers).json()["curation"]
        assert (c["accepted"], c["rejected"], c["added"], c["curator"]) == (accepted, rejected, added, "ben")
    assert other_hosts(browser, url) == []


def test_a_tag_label_check_shows_the_given_tags_and_keeps_them_on_a(tag_service, browser, monkeypatch):
    "A training story whose tags cleanlab doubts, queued by `review labels --queue`: the page shows its given tags to keep or reject."
    url, headers = tag_service["url"], {"Authorization": f"Bearer {TAG_TOKEN}"}
    monkeypatch.setenv("AGILEML_DECISIONS_URL", tag_service["log"])
    review = json.loads(cli("review", "labels", tag_service["run_id"], "-p", "folds=3", "--queue", "--json", check=0).stdout)
    assert review["metrics"]["queued"] > 0
    first = HTTP.get(f"{url}/v1/decisions", params={"pending": "true", "limit": 1}, headers=headers).json()["decisions"][0]
    assert first["kind"] == "label_check" and first["suggested"] == sorted(tag_service["given"][first["text"]])
    sign_in(browser, url, TAG_TOKEN, "ben")
    wait_for(lambda: current_text(browser) == first["text"], 30, "the label check on the card")
    card = browser.find_element("id", "card").text
    assert "is this label right?" in card and "The training data says" in card
    browser.save_screenshot(str(ARTIFACTS / "curate-tag-label-check.png"))
    press(browser, "a")
    wait_for(lambda: HTTP.get(f"{url}/v1/decisions/{first['decision_id']}", headers=headers).json()["curation"], 20, "the verdict")
    c = HTTP.get(f"{url}/v1/decisions/{first['decision_id']}", headers=headers).json()["curation"]
    assert (c["accepted"], c["rejected"], c["added"]) == (first["suggested"], [], [])


def test_the_api_docs_render_with_no_other_host_reachable(sms_service, offline_browser):
    url, page = sms_service["url"], offline_browser
    page.get(f"{url}/docs")
    wait_for(lambda: page.execute_script("return document.querySelectorAll('.opblock').length") >= 10, 30,
             "Swagger UI listing the operations")
    ARTIFACTS.mkdir(exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "docs.png"))
    assert "/v1/predict" in page.find_element("tag name", "body").text and other_hosts(page, url) == []
    assert HTTP.get(f"{url}/redoc").status_code == 404         # ReDoc's bundle fetches its logo from a CDN: not served
