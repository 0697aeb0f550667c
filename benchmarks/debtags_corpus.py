"""A second public multi-label corpus, built from Debian's package index: each package's English description (its
synopsis and long description) is a text, its Debtags (https://wiki.debian.org/Debtags: `use::editing`,
`implemented-in::perl`, `interface::x11`, ...) are its tags. Tag suggestion for content, curated by people, as agileml's.

    .venv/bin/python benchmarks/debtags_corpus.py      # writes ~/.cache/agileml/debtags/debtags.jsonl, prints its sha256

Source: the package lists apt downloads for Debian 12 "bookworm" main (amd64), with English descriptions:
`apt-get update -o Acquire::Languages=en` (Debian's package index is reachable from these machines); read with apt's own
`apt-helper cat-file`, whatever compression apt chose. Kept: packages that have Debtags and a description; one package per
distinct description (a -dev/-doc family shares one, which would put the same text in the training and the test part);
tags outside `special::` carried by at least 50 of them. The corpus depends on the index of the day (a point release
changes it): its sha256 and the index files' are printed and written beside it.
"""
import collections, glob, hashlib, json, re, subprocess
from pathlib import Path

LISTS = "/var/lib/apt/lists/"
PACKAGES = LISTS + "*debian_dists_bookworm_main_binary-amd64_Packages*"
TRANSLATIONS = LISTS + "*debian_dists_bookworm_main_i18n_Translation-en*"
OUT = Path.home() / ".cache" / "agileml" / "debtags"
MIN_TEXTS = 50


def _stanzas(path: str):
    "The fields of each stanza of an apt list (a continuation line joins its field with a newline)."
    raw = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True, text=True, check=True).stdout
    for block in raw.split("\n\n"):
        fields, key = {}, None
        for line in block.splitlines():
            if line.startswith(" ") and key: fields[key] += "\n" + line[1:]
            elif ":" in line: key, _, value = line.partition(":"); fields[key] = value.strip()
        if "Package" in fields: yield fields


def _one(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    if not found: raise SystemExit(f"no {pattern} here: run `apt-get update -o Acquire::Languages=en` first")
    return found[0]


def build() -> Path:
    "Write the corpus as agileml's JSONL tag form ({'text': ..., 'tags': [...]}) and return its path."
    packages, translations = _one(PACKAGES), _one(TRANSLATIONS)
    described = {(s["Package"], s["Description-md5"]): s["Description-en"] for s in _stanzas(translations)}
    rows, seen = [], set()
    for s in _stanzas(packages):
        text = described.get((s["Package"], s.get("Description-md5")))
        if "Tag" not in s or not text: continue
        text = " ".join(re.sub(r"^\.$", "", text, flags=re.M).split())    # a lone "." is a paragraph break
        if text in seen: continue
        seen.add(text)
        rows.append((text, [t.strip() for t in s["Tag"].split(",") if t.strip() and not t.strip().startswith("special::")]))
    counts = collections.Counter(t for _, tags in rows for t in tags)
    rows = [(text, sorted(t for t in tags if counts[t] >= MIN_TEXTS)) for text, tags in rows]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "debtags.jsonl"
    path.write_text("".join(json.dumps({"text": t, "tags": tags}) + "\n" for t, tags in rows if tags), encoding="utf-8")
    source = {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (packages, translations)}
    source["debtags.jsonl"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (OUT / "source.json").write_text(json.dumps(source, indent=2))
    return path


if __name__ == "__main__":
    corpus = build()
    texts = corpus.read_text(encoding="utf-8").splitlines()
    tags = collections.Counter(t for line in texts for t in json.loads(line)["tags"])
    print(f"{corpus}: {len(texts)} texts, {len(tags)} tags, {sum(tags.values()) / len(texts):.2f} tags a text")
    print(json.dumps(json.loads((OUT / "source.json").read_text()), indent=2))
