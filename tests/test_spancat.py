"""dice_spancat and dice_spancat_singlelabel: learning nested / overlapping spans, the gradient
through the whole model, masking of missing gold, class weights, bad input."""
import math
import warnings

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Adam, Logistic

from conftest import blank_nlp, numeric_gradients, train, train_until
from span_synthetic import (
    BCE,
    DSC_SET,
    KEY,
    SIG,
    SIZES,
    SMALL_SINGLELABEL_MODEL,
    SMALL_SPANCAT_MODEL,
    SPACY_SPANCAT_MODEL,
    span_examples,
)
from spacy_dice.training.config_rewrites import SPAN_LOSS_PRESETS, loss_block
from spacy_dice.pipeline.span_gold import candidate_gold_sigmoid, candidate_gold_softmax

SPAN_LOSSES = {
    "bce": BCE,
    "wbce": {"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "inverse_frequency", **SIG},
    "focal": {"@losses": "spacy-dice.FocalLoss.v1", "gamma": 2.0, **SIG},
    "dsc_set": DSC_SET,
    "tversky_set": {"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.3, "beta": 0.7,
                    "level": "set", **SIG},
    "bce_dsc": {"@losses": "spacy-dice.CombinedLoss.v1",
                "losses": {"ce": BCE, "dsc": DSC_SET}, "weights": {"ce": 1.0, "dsc": 1.0}},
    "logdice_set": SPAN_LOSS_PRESETS["logdice_set"],
    # the bce_then_dsc preset with its ramp moved into the few updates a test makes
    "bce_then_dsc": loss_block(
        "bce_then_dsc",
        weights={"ce": {"@schedules": "spacy-dice.LinearRamp.v1", "start": 1.0, "stop": 0.25,
                        "begin_step": 2, "end_step": 6},
                 "dsc": {"@schedules": "spacy-dice.LinearRamp.v1", "start": 0.0, "stop": 4.0,
                         "begin_step": 2, "end_step": 6}}),
}
NGRAMS = {"@misc": "spacy.ngram_suggester.v1", "sizes": SIZES}
F = "spans_sc_f"  # the score train_until trains to


def make_nlp(factory="dice_spancat", model=SMALL_SPANCAT_MODEL, **config):
    """A blank pipeline with ``factory`` named "spancat", the n-gram suggester and ``config``."""
    return blank_nlp(factory, name="spancat", **{"model": model, "suggester": NGRAMS, **config})



@pytest.mark.parametrize("loss", [  # every loss under --slow; BCE and set-level DSC in the fast tier
    pytest.param(name, marks=[] if name in ("bce", "dsc_set") else [pytest.mark.slow]) for name in sorted(SPAN_LOSSES)])
def test_dice_spancat_learns_nested_and_overlapping_spans(loss):
    nlp = make_nlp(loss=SPAN_LOSSES[loss])
    examples = span_examples(nlp, 30)
    assert train_until(nlp, examples, 80, key=F, target=0.95) >= 0.95
    # one doc with a BRANCH holding an ORG and a LOC that is also a GPE
    doc = nlp("the Acme Corp in Paris was")
    found = {(s.start, s.end, s.label_) for s in doc.spans[KEY]}
    assert {(1, 5, "BRANCH"), (1, 3, "ORG"), (4, 5, "LOC"), (4, 5, "GPE")} <= found


def test_dice_spancat_singlelabel_learns_nested_spans():
    nlp = make_nlp("dice_spancat_singlelabel", SMALL_SINGLELABEL_MODEL,
                   loss={"@losses": "spacy-dice.CrossEntropy.v1"})
    examples = span_examples(nlp, 30, multilabel=False)
    assert train_until(nlp, examples, 80, key=F, target=0.95) >= 0.95
    doc = nlp("the Acme Corp in Paris was")
    found = {(s.start, s.end, s.label_) for s in doc.spans[KEY]}
    assert {(1, 5, "BRANCH"), (1, 3, "ORG"), (4, 5, "LOC")} <= found


def test_spacy_linear_logistic_is_adapted_and_still_learns():
    nlp = make_nlp(model=SPACY_SPANCAT_MODEL, loss=BCE)
    assert nlp.get_pipe("spancat").adapted_layers == ["logistic -> sigmoid_logits"]
    assert train_until(nlp, span_examples(nlp, 30), 80, key=F, target=0.95) >= 0.95


# ------------------------------------------------------------------ gradient through the model
def _model_loss(component, examples, docs, spans):
    scores = component.model.predict((docs, spans))
    return component.get_loss(examples, (spans, scores))[0]


def _check_gradients(component, examples, expect_match=True):
    """Backprop of the component's d_scores vs central differences of its loss, for the output
    layer's bias and weights, the reducer and the tok2vec (the WHOLE model)."""
    model = component.model
    docs = [eg.predicted for eg in examples]
    spans = component.suggester(docs, ops=model.ops)
    scores, backprop = model.begin_update((docs, spans))
    _, d_scores = component.get_loss(examples, (spans, scores))
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    backprop(d_scores)
    scorer = model.get_ref("scorer")
    linear = scorer.layers[0] if scorer.layers else scorer  # Softmax_v2 holds W and b itself
    maxout = next(n for n in model.get_ref("reducer").walk() if n.name == "maxout")
    tok2vec_maxout = next(n for n in model.get_ref("tok2vec").walk() if n.name == "maxout")
    checked = mismatches = 0
    for node, name in ((linear, "b"), (linear, "W"), (maxout, "W"), (tok2vec_maxout, "b")):
        for analytic, numeric in numeric_gradients(
            node, name, 3, lambda: _model_loss(component, examples, docs, spans)
        ):
            checked += 1
            if not numpy.isclose(analytic, numeric, rtol=3e-2, atol=2e-4):
                mismatches += 1
    assert checked == 12
    if expect_match:
        assert mismatches == 0
    else:
        assert mismatches >= 6


@pytest.mark.parametrize("model", ["linear_logits", "adapted_linear_logistic"])
@pytest.mark.parametrize("loss", ["bce", "dsc_set", "bce_dsc", "logdice_set", "bce_then_dsc"])
def test_gradient_reaches_the_logits_exactly(model, loss):
    nlp = make_nlp(model=SMALL_SPANCAT_MODEL if model == "linear_logits" else SPACY_SPANCAT_MODEL,
                   loss=SPAN_LOSSES[loss], grad_scale=1.0)
    examples = span_examples(nlp, 6, seed=3)
    train(nlp, examples, 5)  # a few updates: probabilities away from 0.5, the sigmoid derivative matters
    _check_gradients(nlp.get_pipe("spancat"), examples)


def test_gradient_check_fails_with_spacy_logistic_backprop():
    """The check can fail: put spaCy's Logistic (backprop times P(1-P)) back in."""
    nlp = make_nlp(model=SPACY_SPANCAT_MODEL, loss=BCE, grad_scale=1.0)
    examples = span_examples(nlp, 6, seed=3)
    train(nlp, examples, 5)
    component = nlp.get_pipe("spancat")
    component.model.get_ref("scorer").layers[-1] = Logistic()
    _check_gradients(component, examples, expect_match=False)


def test_singlelabel_gradient_reaches_the_logits_exactly():
    nlp = make_nlp("dice_spancat_singlelabel", SMALL_SINGLELABEL_MODEL,
                   loss={"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01}, grad_scale=1.0)
    examples = span_examples(nlp, 6, seed=3, multilabel=False)
    train(nlp, examples, 5)
    _check_gradients(nlp.get_pipe("spancat"), examples)


# ------------------------------------------------------------------ missing gold
def _example(nlp, words, spans, ref_words=None, ref_spaces=None, key=KEY):
    doc = Doc(nlp.vocab, words=words)
    ref = Doc(nlp.vocab, words=ref_words or words, spaces=ref_spaces)
    if spans is not None:
        ref.spans[key] = [Span(ref, s, e, label=label) for s, e, label in spans]
    return Example(doc, ref)


def _all_candidates(n):
    return numpy.asarray([(s, s + k) for k in (1, 2) for s in range(n - k + 1)], dtype="i")


def test_gold_masks_unannotated_docs_and_keeps_empty_groups_negative():
    nlp = spacy.blank("en")
    annotated = _example(nlp, ["Alice", "met", "Bob"], [(0, 1, "PER")])
    unannotated = _example(nlp, ["Alice", "met", "Bob"], None)
    empty = _example(nlp, ["Alice", "met", "Bob"], [])
    cands = [_all_candidates(3)] * 3
    gold = candidate_gold_sigmoid([annotated, unannotated, empty], cands, ["PER", "ORG"], KEY)
    n = len(cands[0])
    assert gold[:n].tolist()[0] == [1.0, 0.0] and (gold[1:n] == 0).all()
    assert (gold[n : 2 * n] == -1).all()
    assert (gold[2 * n :] == 0).all()
    ids = candidate_gold_softmax([annotated, unannotated, empty], cands, ["PER", "ORG"], KEY)
    assert ids[0] == 0 and (ids[1:n] == 2).all() and (ids[n : 2 * n] == -1).all()
    assert (ids[2 * n :] == 2).all()


def test_gold_masks_misaligned_spans_and_ignores_unknown_labels():
    nlp = spacy.blank("en")
    # predicted "York-based" is one token, the reference splits it: "New York" cannot be a candidate
    example = _example(nlp, ["New", "York-based", "Acme"],
                       [(0, 2, "LOC"), (3, 4, "ORG"), (3, 4, "NEWLABEL")],
                       ref_words=["New", "York", "-based", "Acme"],
                       ref_spaces=[True, False, True, True])
    cand = _all_candidates(3)  # (0,1) (1,2) (2,3) (0,2) (1,3)
    gold = candidate_gold_sigmoid([example], [cand], ["LOC", "ORG"], KEY)
    rows = {tuple(c): g.tolist() for c, g in zip(cand.tolist(), gold)}
    # candidates inside the expanded "New York-based" are unknown for LOC, negatives for ORG
    assert rows[(0, 1)] == [-1, 0] and rows[(1, 2)] == [-1, 0] and rows[(0, 2)] == [-1, 0]
    assert rows[(2, 3)] == [0, 1] and rows[(1, 3)] == [0, 0]
    ids = candidate_gold_softmax([example], [cand], ["LOC", "ORG"], KEY)
    assert {tuple(c): int(i) for c, i in zip(cand.tolist(), ids)}[(2, 3)] == 1
    assert {tuple(c): int(i) for c, i in zip(cand.tolist(), ids)}[(0, 2)] == -1


def test_singlelabel_gold_masks_a_span_with_two_labels():
    nlp = spacy.blank("en")
    example = _example(nlp, ["in", "Paris"], [(1, 2, "LOC"), (1, 2, "GPE")])
    ids = candidate_gold_softmax([example], [_all_candidates(2)], ["GPE", "LOC"], KEY)
    assert ids.tolist() == [2, -1, 2]


def test_unannotated_docs_get_no_gradient_and_do_not_change_the_loss():
    nlp = make_nlp(loss=DSC_SET, grad_scale=1.0)
    examples = span_examples(nlp, 4, seed=1)
    nlp.initialize(lambda: examples)
    component = nlp.get_pipe("spancat")
    unannotated = Example(examples[0].predicted.copy(), examples[0].predicted.copy())
    docs = [eg.predicted for eg in examples] + [unannotated.predicted]
    spans = component.suggester(docs, ops=component.model.ops)
    scores = component.model.predict((docs, spans))
    value, d_scores = component.get_loss(examples + [unannotated], (spans, scores))
    n_last = int(spans.lengths[-1])
    assert n_last > 0 and (d_scores[-n_last:] == 0).all()
    spans_a = component.suggester(docs[:-1], ops=component.model.ops)
    value_a, _ = component.get_loss(examples, (spans_a, component.model.predict((docs[:-1], spans_a))))
    assert value == pytest.approx(value_a, rel=1e-5)
    # a batch with no gold at all: loss 0, no gradient, no NaN
    value_0, d_0 = component.get_loss([unannotated], (component.suggester([docs[-1]]),
                                       component.model.predict(([docs[-1]], component.suggester([docs[-1]])))))
    assert value_0 == 0.0 and not d_0.any()


def test_label_counts_reach_the_loss():
    nlp = make_nlp(loss=SPAN_LOSSES["wbce"])
    examples = span_examples(nlp, 20)
    nlp.initialize(lambda: examples)
    component = nlp.get_pipe("spancat")
    counts = component.cfg["label_counts"]
    expected = {}
    for eg in examples:
        for span in eg.reference.spans[KEY]:
            expected[span.label_] = expected.get(span.label_, 0) + 1
    assert counts == expected
    total = sum(counts.values())
    weights = component.loss.class_weights
    for label, weight in zip(component.labels, weights):
        assert weight == pytest.approx(total / (len(counts) * counts[label]))
    single = make_nlp("dice_spancat_singlelabel", SMALL_SINGLELABEL_MODEL,
                      loss={"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "inverse_frequency"})
    single.initialize(lambda: span_examples(single, 20, multilabel=False))
    counts = single.get_pipe("spancat").cfg["label_counts"]
    assert counts["__negative__"] > 20 * sum(v for k, v in counts.items() if k != "__negative__") / 5


def test_bytes_round_trip_keeps_predictions_and_weights():
    nlp = make_nlp(loss=SPAN_LOSSES["wbce"])
    examples = span_examples(nlp, 20)
    train_until(nlp, examples, 20, key=F, target=0.95)
    data = nlp.to_bytes()
    other = make_nlp(loss=SPAN_LOSSES["wbce"])
    other.from_bytes(data)
    text = "the Acme Corp in Paris was"
    doc, other_doc = nlp(text), other(text)
    assert [(s.start, s.end, s.label_) for s in doc.spans[KEY]] == \
        [(s.start, s.end, s.label_) for s in other_doc.spans[KEY]]
    assert other.get_pipe("spancat").loss.class_weights == nlp.get_pipe("spancat").loss.class_weights


# ------------------------------------------------------------------ bad input
def test_refuses_a_softmax_loss():
    with pytest.raises(ValueError, match=r"\[spancat\] loss: .*activation='softmax'.*activation = \"sigmoid\""):
        make_nlp(loss={"@losses": "spacy-dice.DiceLoss.v1"})
    with pytest.raises(ValueError, match=r"\[spancat\] loss: .*exclusive label.*activation = \"softmax\""):
        make_nlp("dice_spancat_singlelabel", SMALL_SINGLELABEL_MODEL, loss=BCE)


def test_refuses_models_that_cannot_pass_logit_gradients():
    with pytest.raises(ValueError, match=r"\[spancat\] model: .*'softmax'.*spacy-dice.LinearLogits.v1"):
        make_nlp(model=SMALL_SINGLELABEL_MODEL, loss=BCE)
    with pytest.raises(ValueError, match=r"\[spancat\] model: .*'logistic'.*Softmax.v2"):
        make_nlp("dice_spancat_singlelabel", SPACY_SPANCAT_MODEL,
                 loss={"@losses": "spacy-dice.CrossEntropy.v1"})
    tagger = {"@architectures": "spacy.Tagger.v2", "tok2vec": SMALL_SPANCAT_MODEL["tok2vec"]}
    with pytest.raises(ValueError, match=r"\[spancat\] model: .*no 'scorer'"):
        make_nlp(model=tagger, loss=BCE)


def test_refuses_an_empty_spans_key():
    with pytest.raises(ValueError, match=r"\[spancat\] spans_key='' is not allowed"):
        make_nlp(loss=BCE, spans_key="")


def test_no_candidates_warns_once_and_learns_nothing():
    nlp = make_nlp(loss=BCE, suggester={"@misc": "spacy.ngram_suggester.v1", "sizes": [50]})
    examples = span_examples(nlp, 5)
    nlp.initialize(lambda: examples)
    with pytest.warns(UserWarning, match=r"\[spancat\] the suggester proposed no candidate"):
        losses = nlp.update(examples, sgd=Adam(0.01))
    assert losses["spancat"] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nlp.update(examples, sgd=Adam(0.01))
    doc = nlp("the Acme Corp in Paris")
    assert len(doc.spans[KEY]) == 0


def test_empty_docs_labels_only_in_dev_and_spans_across_sentences():
    nlp = make_nlp(loss=DSC_SET)
    examples = span_examples(nlp, 10)
    nlp.initialize(lambda: examples)
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    empty.reference.spans[KEY] = []
    losses = nlp.update(examples + [empty], sgd=Adam(0.01))
    assert math.isfinite(losses["spancat"])
    doc = nlp("")
    assert len(doc.spans[KEY]) == 0
    # a label the component never saw and a gold span across a sentence boundary
    doc = nlp.make_doc("Alice left . Bob came")
    ref = doc.copy()
    ref[3].is_sent_start = True
    ref.spans[KEY] = [Span(ref, 0, 1, label="DEVONLY"), Span(ref, 1, 4, label="PER")]
    losses = nlp.update([Example(doc, ref)], sgd=Adam(0.01))
    assert math.isfinite(losses["spancat"])
    scores = nlp.evaluate([Example(nlp.make_doc("Alice left . Bob came"), ref)])
    assert "DEVONLY" in scores["spans_sc_per_type"]


# ------------------------------------------------------------ the documented switch
def test_documented_switch_from_spancat_to_dice_spancat_trains():
    """The block of docs/CONFIG.md, "Spans", applied to `spacy init config -p spancat`: builds,
    adapts the LinearLogistic scorer, trains one step."""
    import re
    from pathlib import Path

    from spacy.cli.init_config import init_config
    from thinc.api import Config

    doc = (Path(__file__).resolve().parents[1] / "docs" / "CONFIG.md").read_text()
    section = doc.split("## Spans: what `dice_spancat` does with spaCy's span models", 1)[1]
    block = re.search(r"```ini\n(.*?)```", section, re.S).group(1)
    block = "\n".join(line.split("#", 1)[0].rstrip() for line in block.splitlines())
    change = Config().from_str("[components]\n" + block)
    config = init_config(lang="en", pipeline=["spancat"], optimize="efficiency")
    assert config["components"]["spancat"]["factory"] == "spancat"
    config["components"]["spancat"]["factory"] = change["components"]["spancat"]["factory"]
    config["components"]["spancat"]["loss"] = change["components"]["spancat"]["loss"]
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    component = nlp.get_pipe("spancat")
    assert component.adapted_layers == ["logistic -> sigmoid_logits"]
    assert component.loss.level == "set" and component.loss.activation == "sigmoid"
    examples = span_examples(nlp, 6)
    nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=Adam(0.01))
    assert math.isfinite(losses["spancat"])


def test_singlelabel_with_ce_gives_spacys_gradient():
    """dice_spancat_singlelabel with CE and grad_scale "labelled" back-propagates exactly what
    spaCy's spancat_singlelabel does (scores - one-hot target into Softmax_v2): sum of CE."""
    nlp = spacy.blank("en")
    ours = nlp.add_pipe("dice_spancat_singlelabel", name="ours", config={
        "model": SMALL_SINGLELABEL_MODEL, "suggester": NGRAMS,
        "loss": {"@losses": "spacy-dice.CrossEntropy.v1"}})
    theirs = nlp.add_pipe("spancat_singlelabel", name="theirs", config={
        "model": SMALL_SINGLELABEL_MODEL, "suggester": NGRAMS, "spans_key": KEY})
    examples = span_examples(nlp, 8, multilabel=False)
    nlp.initialize(lambda: examples)
    assert ours.labels == theirs.labels
    docs = [eg.predicted for eg in examples]
    spans = ours.suggester(docs)
    scores = ours.model.predict((docs, spans))
    _, d_ours = ours.get_loss(examples, (spans, scores))
    _, d_theirs = theirs.get_loss(examples, (spans, scores))
    numpy.testing.assert_allclose(d_ours, d_theirs, rtol=1e-5, atol=1e-6)
