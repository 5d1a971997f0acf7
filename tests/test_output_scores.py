"""Prediction reads the model's outputs as what they are: logits or probabilities.

``spacy.Tagger.v2`` with ``normalize = false`` (dice_ner's configs) returns raw logits from
``model.predict``; the decoder must maximise the sum of log-softmax over valid BILUO sequences,
which these tests check against brute force on normalised and unnormalised outputs, random and from
a trained model.
"""

import numpy
import pytest
import spacy
from spacy.tokens import Doc
from spacy.util import fix_random_seed
from thinc.api import Adam, Linear, Softmax_v2, chain

from spacy_dice.pipeline.biluo import biluo_constraints, is_valid_sequence, make_tag_names
from spacy_dice.pipeline.decoder import NEG_FLOOR, decode_log_probs_batch
from spacy_dice.pipeline.token_classifier import TokenClassifier
from spacy_dice.layers.outputs import (
    log_probs, log_softmax, looks_normalized, output_normalizes, probabilities,
)
from conftest import blank_nlp, train
from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, ner_examples, tagger_examples, textcat_examples


def brute_force(log_p: numpy.ndarray, tag_names) -> numpy.ndarray:
    """The valid BILUO sequence with the highest sum of ``log_p`` (every sequence enumerated, in
    ``itertools.product`` order as one array; the first best one on ties)."""
    allowed, start, end = biluo_constraints(tag_names)
    n = log_p.shape[0]
    seqs = numpy.indices((len(tag_names),) * n, dtype=numpy.int8).reshape(n, -1).T
    valid = start[seqs[:, 0]] & end[seqs[:, -1]] & allowed[seqs[:, :-1], seqs[:, 1:]].all(axis=1)
    seqs = seqs[valid]
    assert all(is_valid_sequence(seq, allowed, start, end) for seq in seqs[:: max(1, len(seqs) // 50)])
    scores = log_p[numpy.arange(n), seqs].sum(axis=1)
    return seqs[int(numpy.argmax(scores))].astype(numpy.int32)


def softmax(z: numpy.ndarray) -> numpy.ndarray:
    e = numpy.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ner_nlp(normalize: bool, **component_cfg):
    nlp = spacy.blank("en")
    model = dict(SMALL_TAGGER_MODEL, normalize=normalize)
    nlp.add_pipe("dice_ner", config={"model": model, **component_cfg})
    return nlp


# --- reading the output layer -------------------------------------------------------------------
@pytest.mark.parametrize("normalize", [False, True])
def test_tagger_v2_output_layer_is_read_not_assumed(normalize):
    nlp = ner_nlp(normalize)
    assert output_normalizes(nlp.get_pipe("dice_ner").model) is normalize


def test_textcat_reduce_output_normalizes():
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL})
    assert output_normalizes(nlp.get_pipe("dice_textcat").model) is True


def test_unknown_output_layer_is_decided_by_values():
    assert output_normalizes(chain(Linear(4, 3), Linear(3, 2))) is None
    probs = numpy.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype="f")
    logits = numpy.array([[0.2, 0.3, 0.5], [1.0, -1.0, 0.0]], dtype="f")
    assert looks_normalized(probs) and not looks_normalized(logits)
    numpy.testing.assert_allclose(log_probs(probs, None), numpy.log(numpy.fmax(probs, numpy.finfo("f").tiny)), rtol=1e-6)
    numpy.testing.assert_allclose(log_probs(logits, None), numpy.log(softmax(logits)), rtol=1e-5, atol=1e-6)
    assert output_normalizes(Softmax_v2(3, 2, normalize_outputs=False)) is False


def test_log_softmax_is_stable_and_probabilities_match():
    z = numpy.array([[1000.0, 0.0, -1000.0], [0.5, 1.0, -0.1]], dtype="f")
    lp = log_softmax(z)
    assert numpy.isfinite(lp).all()
    numpy.testing.assert_allclose(numpy.exp(lp).sum(axis=1), 1.0, rtol=1e-6)
    numpy.testing.assert_allclose(probabilities(z, False), softmax(z.astype("d")), rtol=1e-5, atol=1e-7)
    p = softmax(z.astype("d")).astype("f")
    assert probabilities(p, True) is p


# --- decoding ---------------------------------------------------------------------------------------
def test_issue_example_logits_decode_like_their_softmax():
    """Issue 11: O 0.5 / B-PER 1.0, then O 0.2 / L-PER -0.1 read as probabilities gave [O, O]."""
    names = make_tag_names(["PER"])  # O, B-PER, I-PER, L-PER, U-PER
    logits = numpy.full((2, len(names)), -5.0, dtype="f")
    logits[0, names.index("O")], logits[0, names.index("B-PER")] = 0.5, 1.0
    logits[1, names.index("O")], logits[1, names.index("L-PER")] = 0.2, -0.1
    decoded = decode_log_probs_batch([log_probs(logits, False)], names)[0]
    assert [names[i] for i in decoded] == ["B-PER", "L-PER"]
    numpy.testing.assert_array_equal(decoded, brute_force(numpy.log(softmax(logits)), names))


@pytest.mark.parametrize("seed", range(6))
def test_decoder_equals_brute_force_on_logits_and_probs(seed):
    rng = numpy.random.default_rng(seed)
    names = make_tag_names(["LOC", "PER"])
    docs = [rng.normal(0.0, 3.0, size=(n, len(names))).astype("f") for n in (1, 3, 4, 5)]
    expected = [brute_force(numpy.log(softmax(z.astype("d"))), names) for z in docs]
    from_logits = decode_log_probs_batch([log_probs(z, False) for z in docs], names)
    from_probs = decode_log_probs_batch([log_probs(softmax(z).astype("f"), True) for z in docs], names)
    for want, got_l, got_p in zip(expected, from_logits, from_probs):
        numpy.testing.assert_array_equal(got_l, want)
        numpy.testing.assert_array_equal(got_p, want)


@pytest.fixture(scope="module")
def trained_ner():
    """dice_ner (normalize = false) after 3 CE updates on the synthetic NER task: unsure enough that
    the per-token argmax is an invalid sequence for some docs, so the Viterbi DP runs."""
    fix_random_seed(0)
    nlp = ner_nlp(False)
    return train(nlp, ner_examples(nlp, n_docs=30), 3, seed=None)  # seeded before the pipeline was built


def test_trained_model_decodes_brute_force_best_normalised_or_not(trained_ner):
    ner = trained_ner.get_pipe("dice_ner")
    names = ner.class_names
    # 4-token windows of unseen synthetic docs (short enough to enumerate every tag sequence)
    docs = [eg.x[i : i + 4].as_doc() for eg in ner_examples(trained_ner, n_docs=12, seed=1)
            for i in range(0, len(eg.x) - 3, 4)]
    raw = ner.model.predict(docs)
    assert not looks_normalized(raw[0]), "Tagger.v2 with normalize=false returns logits"
    allowed, start, end = biluo_constraints(names)
    assert not all(is_valid_sequence(numpy.asarray(z).argmax(axis=1), allowed, start, end) for z in raw)
    expected = [brute_force(numpy.log(softmax(numpy.asarray(z, dtype="d"))), names) for z in raw]
    got = ner.decode(ner.predict(docs))
    layer = ner.model.get_ref("softmax") if ner.model.has_ref("softmax") else None
    softmax_layer = layer or [node for node in ner.model.walk() if "softmax_normalize" in node.attrs][0]
    softmax_layer.attrs["softmax_normalize"] = True
    try:
        assert looks_normalized(ner.model.predict(docs[:1])[0])
        got_normalized = ner.decode(ner.predict(docs))
    finally:
        softmax_layer.attrs["softmax_normalize"] = False
    assert any(len(e) and (e != 0).any() for e in expected), "the model should predict some entity"
    for want, a, b in zip(expected, got, got_normalized):
        numpy.testing.assert_array_equal(a, want)
        numpy.testing.assert_array_equal(b, want)


def test_component_decodes_logits_as_log_softmax(trained_ner, monkeypatch):
    """The component's own predict on random logits (the old code read them as probabilities)."""
    ner = trained_ner.get_pipe("dice_ner")
    names = ner.class_names
    rng = numpy.random.default_rng(7)
    docs = [trained_ner.make_doc("a b c d"), trained_ner.make_doc("a b c")] * 3
    logits = [rng.normal(0.0, 3.0, size=(len(d), len(names))).astype("f") for d in docs]
    # the scores TokenClassifier.predict hands to dice_ner (what model.predict returns)
    monkeypatch.setattr(TokenClassifier, "predict", lambda self, _docs: list(logits))
    for got, z in zip(ner.decode(ner.predict(docs)), logits):
        numpy.testing.assert_array_equal(got, brute_force(numpy.log(softmax(z.astype("d"))), names))


def test_whitespace_rows_are_o_in_log_space(trained_ner):
    ner = trained_ner.get_pipe("dice_ner")
    names = ner.class_names
    doc = Doc(trained_ner.vocab, words=["Alice", "\n", "Paris", " ", "Acme", "Corp"],
              spaces=[True, False, True, False, True, False])
    lp = ner.log_probs([doc], ner.model.predict([doc]))[0]
    for row in (1, 3):
        assert lp[row, names.index("O")] == 0.0
        assert (numpy.delete(lp[row], names.index("O")) == NEG_FLOOR).all()
    decoded = ner.decode(ner.predict([doc]))[0]
    assert decoded[1] == names.index("O") and decoded[3] == names.index("O")
    numpy.testing.assert_array_equal(decoded, brute_force(numpy.asarray(lp, dtype="d"), names))


def test_tagger_and_textcat_read_scores_as_probabilities():
    """dice_tagger's argmax is the same for logits and probabilities; dice_textcat's cats are probabilities."""
    fix_random_seed(0)
    nlp = blank_nlp("dice_tagger", model=dict(SMALL_TAGGER_MODEL, normalize=False))
    examples = tagger_examples(nlp)
    train(nlp, examples, 5, seed=None)
    tagger = nlp.get_pipe("dice_tagger")
    docs = [eg.x for eg in examples[:5]]
    assert output_normalizes(tagger.model) is False
    tags = [[t.tag_ for t in d] for d in tagger.pipe([Doc(nlp.vocab, words=[t.text for t in d]) for d in docs])]
    raw = tagger.model.predict(docs)
    want = [[tagger.labels[i] for i in numpy.asarray(z).argmax(axis=1)] for z in raw]
    assert tags == want
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL})
    examples = textcat_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.01))
    for doc in nlp.pipe(["the superb of", "a and the"]):
        assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(0.0 <= v <= 1.0 for v in doc.cats.values())


def test_textcat_with_unnormalised_output_layer_still_gives_probabilities():
    """A TextCatReduce whose Softmax_v2 returns logits at prediction: doc.cats are its softmax."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL})
    examples = textcat_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.05))
    textcat = nlp.get_pipe("dice_textcat")
    layer = [node for node in textcat.model.walk() if "softmax_normalize" in node.attrs][0]
    texts = ["the superb of", "a and the", "wonderful wonderful"]
    want = [dict(doc.cats) for doc in nlp.pipe(texts)]
    layer.attrs["softmax_normalize"] = False
    raw = textcat.model.predict([nlp.make_doc(t) for t in texts])
    assert not looks_normalized(raw)
    for doc, expected in zip(nlp.pipe(texts), want):
        assert doc.cats == pytest.approx(expected, abs=1e-5)
