"""The readers on the real corpora in ../shared/data: the published counts, exactly.

Skipped (with the reason) where that folder is absent, e.g. outside this workplace; the
folder can be set with SPACY_DICE_DATA (see tests/realdata.py).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from spacy_dice.corpus import (
    PAIR_SEPARATOR,
    SOURCE_DOC,
    convert_file,
    read_conll2003,
    read_conllu,
    read_mrpc,
    read_sst2,
    read_uner,
)

from realdata import DATA, skip_reason

pytestmark = pytest.mark.realdata  # the whole training splits (seconds each) are also marked slow


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(skip_reason(path))
    return path


@pytest.mark.slow
def test_conll2003_train_counts(tmp_path):
    stats = convert_file("conll2003", data_file("conll2003/eng.train"), tmp_path / "train.spacy")
    assert stats["sentences"] == stats["documents"] == 14_041
    assert stats["tokens"] == 203_621
    assert stats["entities"] == {"LOC": 7140, "PER": 6600, "ORG": 6321, "MISC": 3438}
    assert len(stats["tag"]) == 45  # distinct POS tags, stored in token.tag_


def test_conll2003_dev_test_sentences_and_grouping():
    assert sum(1 for _ in read_conll2003(data_file("conll2003/eng.testa"))) == 3250
    assert sum(1 for _ in read_conll2003(data_file("conll2003/eng.testb"))) == 3453
    grouped = list(read_conll2003(data_file("conll2003/eng.testb"), n_sents=10))
    assert sum(len(list(doc.sents)) for doc in grouped) == 3453
    assert sum(len(doc.ents) for doc in grouped) == 5648


@pytest.mark.slow
def test_ewt_train_counts():
    sentences = words = 0
    upos: Counter = Counter()
    xpos: Counter = Counter()
    for doc in read_conllu(data_file("ud_english_ewt/en_ewt-ud-train.conllu")):
        sentences += 1
        words += len(doc)
        upos.update(t.pos_ for t in doc)
        xpos.update(t.tag_ for t in doc)
    assert (sentences, words) == (12_544, 204_577)
    assert len(upos) == 17
    assert len(xpos) == 49


def test_ewt_dev_test_counts():
    for name, expected in [("dev", (2001, 25_147)), ("test", (2077, 25_094))]:
        docs = list(read_conllu(data_file(f"ud_english_ewt/en_ewt-ud-{name}.conllu")))
        assert (len(docs), sum(len(d) for d in docs)) == expected


def test_uner_dev_counts():
    # What the file has (checked against en_ewt-ud-dev.stats and the README).
    docs = list(read_uner(data_file("uner_english_ewt/en_ewt-ud-dev.iob2")))
    assert len(docs) == 2001
    assert sum(len(d) for d in docs) == 25_149
    assert Counter(e.label_ for d in docs for e in d.ents) == {"LOC": 399, "PER": 343, "ORG": 224}
    docs = list(read_uner(data_file("uner_english_ewt/en_ewt-ud-test.iob2")))
    assert (len(docs), sum(len(d) for d in docs)) == (2077, 25_097)


@pytest.mark.parametrize(
    "name,pairs,positives,share",
    [pytest.param("msr_paraphrase_train.txt", 4076, 2753, 67.5, marks=pytest.mark.slow),
     ("msr_paraphrase_test.txt", 1725, 1147, 66.5)],
)
def test_mrpc_counts(name, pairs, positives, share):
    docs = list(read_mrpc(data_file(f"mrpc/{name}")))
    assert len(docs) == pairs
    assert sum(d.cats["paraphrase"] for d in docs) == positives
    assert round(100 * positives / pairs, 1) == share
    assert all(d.cats["paraphrase"] + d.cats["not_paraphrase"] == 1.0 for d in docs)
    assert all(d.text.count(PAIR_SEPARATOR) >= 1 for d in docs)


def test_dev_source_documents():
    """Every dev sentence names its source document: EWT's 318 web documents, with the same
    sentences per document in UD and in UNER (whose file orders them otherwise), and CoNLL-2003's
    216 -DOCSTART- articles."""
    ud = [d.user_data[SOURCE_DOC] for d in read_conllu(data_file("ud_english_ewt/en_ewt-ud-dev.conllu"))]
    uner = [d.user_data[SOURCE_DOC] for d in read_uner(data_file("uner_english_ewt/en_ewt-ud-dev.iob2"))]
    assert Counter(ud) == Counter(uner) and len(set(ud)) == 318
    assert ud[0] == "weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713"
    conll = [d.user_data[SOURCE_DOC] for d in read_conll2003(data_file("conll2003/eng.testa"))]
    assert len(conll) == 3250 and conll[0] == "docstart-1" and conll[-1] == "docstart-216"


@pytest.mark.parametrize(
    "name,rows,positives",
    [pytest.param("train.tsv", 67_349, 37_569, marks=pytest.mark.slow), ("dev.tsv", 872, 444),
     ("test.tsv", 1821, 909)],
)
def test_sst2_counts(name, rows, positives):
    n = pos = 0
    for doc in read_sst2(data_file(f"sst2/{name}")):
        n += 1
        pos += doc.cats["positive"] == 1.0
    assert (n, pos) == (rows, positives)
    if name == "train.tsv":
        assert round(100 * pos / n, 1) == 55.8
