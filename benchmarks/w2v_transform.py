"""Word2VecVectorizer.transform against the plain way: a Python loop over gensim's KeyedVectors.

Run alone: AGILEML_DATA_HOME=../shared/data .venv/bin/python benchmarks/w2v_transform.py
One process, one fitted vectorizer (word2vec trained on 5,000 IMDB training reviews, 100 dims,
5 epochs), the 25,000 IMDB test reviews. The loop does the same pooling with the same tokenizer
(idf-weighted mean of the known words' vectors, L2-normalised) from a `gensim.models.KeyedVectors`
holding the same vectors; the two outputs are checked equal. Best of 3 timings each.
Writes benchmarks/results/w2v_transform.json.
"""
import time
from collections import Counter
import numpy as np
from measure import machine, save


def keyed_vectors_loop(kv, idf: dict, analyzer, docs: list[str]) -> np.ndarray:
    "The plain way: for each document, look up each known word's vector in KeyedVectors and pool."
    out = np.zeros((len(docs), kv.vector_size), dtype=np.float32)
    for i, doc in enumerate(docs):
        counts = Counter(w for w in analyzer(doc) if w in kv.key_to_index)
        if not counts: continue
        v = sum(kv[w] * (n * idf[w]) for w, n in counts.items())
        out[i] = v / np.linalg.norm(v)
    return out


def best_seconds(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)


def main():
    from gensim.models import KeyedVectors
    from agileml.catalog import load_dataset
    from agileml.data import split_dataset
    from agileml.features import Word2VecVectorizer
    s = split_dataset(load_dataset("imdb"))
    vec = Word2VecVectorizer(epochs=5).fit(s.X_train[:5000])
    words = list(vec.vocabulary_)
    kv = KeyedVectors(vec.vector_size); kv.add_vectors(words, vec.vectors_)
    idf, analyzer, docs = dict(zip(words, vec.idf_)), vec.counter_.build_analyzer(), s.X_test
    ours, plain = vec.transform(docs), keyed_vectors_loop(kv, idf, analyzer, docs)
    assert np.allclose(ours, plain, atol=1e-5), "the loop and transform must pool the same way"
    t_ours, t_plain = best_seconds(lambda: vec.transform(docs)), best_seconds(lambda: keyed_vectors_loop(kv, idf, analyzer, docs))
    report = dict(machine=machine(), docs=len(docs), vocabulary=len(words), transform_docs_per_s=len(docs) / t_ours,
                  keyed_vectors_loop_docs_per_s=len(docs) / t_plain, ratio=t_plain / t_ours)
    save("w2v_transform", report)
    print("| method | documents/s |\n|---|---|")
    print(f"| `Word2VecVectorizer.transform` | {report['transform_docs_per_s']:,.0f} |")
    print(f"| loop over `KeyedVectors` (same pooling) | {report['keyed_vectors_loop_docs_per_s']:,.0f} |")
    print(f"transform / loop: {report['ratio']:.2f} (floor 0.8); vocabulary {len(words):,} words; {len(docs):,} documents")


if __name__ == "__main__":
    main()
