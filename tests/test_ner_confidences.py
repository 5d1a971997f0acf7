"""``dice_ner``'s entity confidences: ``doc.spans[scores_key]`` with ``attrs["scores"]``.

The same spans as ``doc.ents``, one marginal probability per entity (the lattice computation is
checked against brute force in ``tests/test_marginals.py``), consistent with the ``label_bias``;
``scores_key = null`` writes and computes nothing; the spans and their scores survive ``DocBin``,
bytes and disk round trips and a fresh process that never imports spacy_dice.
"""
import json

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import fix_random_seed

import spacy_dice.pipeline.ner as ner_module
from fresh_python import fresh_python
from conftest import blank_nlp, train
from spacy_dice.pipeline.biluo import spans_from_tags
from spacy_dice.pipeline.marginals import entity_marginals
from synthetic import SMALL_TAGGER_MODEL, ner_examples

TEXTS = [
    "Alice met Bob in Paris", "the Acme Corp of Oslo", "", "green box ran quickly", "a",
    "Eve and Carol went to Lima with Globex Corp", "Dmitri \n in Quito",
]


@pytest.fixture(scope="module")
def nlp():
    fix_random_seed(0)
    nlp = blank_nlp("dice_ner", model=SMALL_TAGGER_MODEL)
    return train(nlp, ner_examples(nlp), 8, seed=None)  # seeded before the pipeline was built


def confidences(doc, key="ents"):
    group = doc.spans[key]
    return [(s.start, s.end, s.label_) for s in group], [float(v) for v in group.attrs["scores"]]


def test_spans_are_the_entities_with_their_marginals(nlp):
    ner = nlp.get_pipe("dice_ner")
    assert ner.cfg["scores_key"] == "ents"
    docs = list(nlp.pipe(TEXTS))
    assert sum(len(d.ents) for d in docs) >= 3, "the model should predict some entities"
    lps = ner.predict([nlp.make_doc(t) for t in TEXTS])
    for doc, lp in zip(docs, lps):
        spans, scores = confidences(doc)
        assert spans == [(e.start, e.end, e.label_) for e in doc.ents]
        assert len(scores) == len(doc.ents)
        assert all(0.0 <= v <= 1.0 for v in scores)
        want = entity_marginals([lp], [spans], ner.class_names)[0]
        numpy.testing.assert_allclose(scores, want, rtol=1e-12)
    # a decoded (Viterbi) entity of a confident model is usually likely
    all_scores = [v for d in docs for v in confidences(d)[1]]
    assert numpy.mean(all_scores) > 0.3


def test_bias_moves_confidences_consistently(nlp):
    ner = nlp.get_pipe("dice_ner")
    docs = [nlp.make_doc(t) for t in TEXTS]
    lps = ner.predict(docs)
    label = ner.labels[0]
    cols = [ner.class_names.index(f"{p}-{label}") for p in "BILU"]
    try:
        for bias in (-1.0, 2.0):
            ner.set_decisions({label: bias})
            ner.set_annotations(docs, lps)
            biased = [lp.copy() for lp in lps]
            for lp in biased:
                lp[:, cols] += bias
            for doc, lp in zip(docs, biased):
                spans, scores = confidences(doc)
                numpy.testing.assert_allclose(scores, entity_marginals([lp], [spans], ner.class_names)[0], rtol=1e-6)
    finally:
        ner.set_decisions({})


def test_scores_key_null_writes_and_computes_nothing(nlp, monkeypatch):
    ner = nlp.get_pipe("dice_ner")
    want = [[(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(TEXTS)]

    def no_marginals(*args, **kwargs):
        raise AssertionError("marginals computed with scores_key = null")

    monkeypatch.setattr(ner_module, "entity_marginals", no_marginals)
    monkeypatch.setitem(ner.cfg, "scores_key", None)
    docs = list(nlp.pipe(TEXTS))
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in docs] == want
    assert all("ents" not in d.spans for d in docs)


def test_other_key_and_bad_key(nlp):
    fresh = spacy.blank("en")
    fresh.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL, "scores_key": "ner_scores"})
    assert fresh.get_pipe("dice_ner").cfg["scores_key"] == "ner_scores"
    with pytest.raises(ValueError, match="scores_key=''"):
        spacy.blank("en").add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL, "scores_key": ""})


def test_confidences_survive_docbin_bytes_and_disk(nlp, tmp_path):
    docs = list(nlp.pipe(TEXTS))
    want = [confidences(d) for d in docs]
    for store_user_data in (False, True):
        restored = list(DocBin(docs=docs, store_user_data=store_user_data).from_bytes(
            DocBin(docs=docs, store_user_data=store_user_data).to_bytes()
        ).get_docs(nlp.vocab))
        assert [confidences(d) for d in restored] == want  # spans and attrs["scores"] are kept
        assert [[(e.start, e.end, e.label_) for e in d.ents] for d in restored] == [w[0] for w in want]
    other = spacy.blank("en")
    other.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    other.from_bytes(nlp.to_bytes())
    assert [confidences(d) for d in other.pipe(TEXTS)] == want
    nlp.to_disk(tmp_path / "model")
    assert [confidences(d) for d in spacy.load(tmp_path / "model").pipe(TEXTS)] == want


@pytest.mark.slow
def test_confidences_survive_a_fresh_process_that_never_imports_spacy_dice(nlp, tmp_path):
    want = [confidences(d) for d in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "model")
    program = (
        "import json, sys, spacy\n"
        "assert 'spacy_dice' not in sys.modules\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        f"out = [[[s.start, s.end, s.label_] for s in d.spans['ents']] for d in nlp.pipe({TEXTS!r})]\n"
        f"scores = [[float(v) for v in d.spans['ents'].attrs['scores']] for d in nlp.pipe({TEXTS!r})]\n"
        "print(json.dumps([out, scores]))\n"
    )
    result = fresh_python(["-c", program], check=True, cwd=tmp_path)
    spans, scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert [[tuple(s) for s in doc] for doc in spans] == [w[0] for w in want]
    numpy.testing.assert_allclose(sum(scores, []), sum((w[1] for w in want), []), rtol=1e-12)


def test_whitespace_tokens_are_never_in_a_scored_entity(nlp):
    ner = nlp.get_pipe("dice_ner")
    doc = nlp("Dmitri \n in Quito")
    lp = ner.predict([nlp.make_doc("Dmitri \n in Quito")])[0]
    space = [t.i for t in doc if t.is_space]
    assert space
    # the marginal of any entity over the whitespace token is 0
    names = ner.class_names
    ents = [(s, e, lab) for lab in ner.labels for s in range(len(doc)) for e in range(s + 1, len(doc) + 1)
            if s <= space[0] < e]
    assert (entity_marginals([lp], [ents], names)[0] < 1e-12).all()
    assert spans_from_tags(ner.decode([lp])[0], names) == confidences(doc)[0]
