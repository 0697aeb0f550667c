"Suspected label errors: the label_review notebook through `agileml review labels`, on real SMS Spam rows with labels flipped."
import json
import random
import pytest
from conftest import cli, require_dataset, train_warm


@pytest.fixture
def noisy(store, tmp_path):
    "1,500 SMS Spam rows, 5% of their labels flipped at random (seeded), and a run trained on them."
    require_dataset("sms_spam")
    from agileml.catalog import load_registry
    sms = load_registry("sms_spam")
    flipped = set(random.Random(7).sample(range(1500), 75))
    rows = [dict(text=t, label=("ham" if l == "spam" else "spam") if i in flipped else l)
            for i, (t, l) in enumerate(zip(sms.texts[:1500], sms.labels[:1500]))]
    path = tmp_path / "noisy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dict(path=path, rows=rows, flipped={rows[i]["text"] for i in flipped}, run=train_warm(f"dataset={path}")["run_id"])


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


def test_a_review_of_a_run_whose_data_is_gone_says_which_data_and_where(noisy):
    noisy["path"].unlink()
    out = cli("review", "labels", noisy["run"])
    assert out.returncode == 1 and str(noisy["path"]) in out.stdout + out.stderr, out.stdout + out.stderr
