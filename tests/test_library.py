"The exported library used as production code uses it: plain imports, real datasets, checked downloads."
import hashlib, os, subprocess, sys, zipfile
from pathlib import Path
import pytest
from conftest import require_dataset
from agileml.catalog import REGISTRY, RegistryEntry, Source, fetch, load_registry
from agileml.data import DataError, sha256_file

W2V_IN_A_PIPELINE = """
from sklearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from agileml.features import Word2VecVectorizer
texts = ["free prize call now", "win cash now", "see you at lunch", "lunch at home later"] * 25
labels = ["spam", "spam", "ham", "ham"] * 25
pipe = make_pipeline(Word2VecVectorizer(vector_size=16, epochs=5, min_count=1), LogisticRegression())
pipe.fit(texts, labels)
print(pipe.predict(["win a free prize", "lunch later?"]).tolist())
print(pipe[0].transform(["free lunch"])[0][:4].round(6).tolist())
"""


def python(code, hashseed):
    env = {**os.environ, "PYTHONHASHSEED": str(hashseed)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_word2vec_vectorizer_in_a_plain_python_pipeline_is_the_same_in_every_process():
    first, second = python(W2V_IN_A_PIPELINE, 1), python(W2V_IN_A_PIPELINE, 2)
    assert first[0] == "['spam', 'ham']"
    assert first == second     # different string hashing per process, same vectors


@pytest.mark.parametrize("name,train,test,classes", [("sms_spam", None, None, 2), ("20newsgroups", 11314, 7532, 20),
                                                     ("imdb", 25000, 25000, 2)])
def test_registry_datasets_read_their_published_form(name, train, test, classes):
    require_dataset(name)
    ds = load_registry(name)
    assert len(ds.classes) == classes
    if train is None: assert ds.split is None and len(ds) == 5574 and ds.labels.count("spam") == 747
    else: assert (ds.split.count("train"), ds.split.count("test")) == (train, test)


def test_a_missing_dataset_is_downloaded_checked_and_kept(tmp_path):
    require_dataset("sms_spam")
    published = REGISTRY["sms_spam"].sources[0]
    home = tmp_path / "home"
    archive = tmp_path / "sms.zip"          # the dataset's home, served from this machine
    with zipfile.ZipFile(archive, "w") as z: z.write(load_registry("sms_spam").source, "SMSSpamCollection")
    entry = RegistryEntry("sms_spam", (Source(published.path, published.sha256, archive.as_uri(), "SMSSpamCollection"),),
                          "_read_sms_spam", "")
    path = fetch(entry, home)
    assert path == home / published.path and sha256_file(path) == published.sha256


def test_a_download_with_the_wrong_checksum_leaves_nothing_behind(tmp_path):
    served = tmp_path / "served.txt"
    served.write_text("ham\thello\nspam\twin\n")
    entry = RegistryEntry("x", (Source("x/data.tsv", "0" * 64, served.as_uri()),), "_read_sms_spam", "")
    with pytest.raises(DataError, match="not the published"):
        fetch(entry, tmp_path / "home")
    assert not any(p.is_file() for p in (tmp_path / "home").rglob("*"))


def test_a_damaged_local_copy_is_refused(tmp_path):
    (tmp_path / "sms_spam").mkdir()
    (tmp_path / "sms_spam" / "SMSSpamCollection").write_text("ham\thello\nspam\twin\n")
    with pytest.raises(DataError, match="damaged or not the published one"):
        load_registry("sms_spam", home=tmp_path)
