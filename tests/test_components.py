"""dice_tagger, dice_ner and dice_textcat: every loss trains, masks missing gold, reports NaN, checks its loss."""
import numpy
import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam

from conftest import train_until
from synthetic import (
    SMALL_TAGGER_MODEL,
    SMALL_TEXTCAT_MODEL,
    ner_examples,
    tagger_examples,
    textcat_examples,
)

DSC = {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01, "smooth": 1.0, "square_denominator": True}
LOSSES = {
    "ce": {"@losses": "spacy-dice.CrossEntropy.v1"},
    "wce": {"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "inverse_frequency"},
    "focal": {"@losses": "spacy-dice.FocalLoss.v1", "gamma": 2.0},
    "dl": {"@losses": "spacy-dice.DiceLoss.v1"},
    "dsc": DSC,
    "tversky": {"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.3, "beta": 0.7, "level": "set"},
    "tversky_instance": {"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.3, "beta": 0.7},
    "combined": {
        "@losses": "spacy-dice.CombinedLoss.v1",
        "losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}, "dsc": DSC},
        "weights": {"ce": 0.5, "dsc": 1.0},
    },
}
MAX_UPDATES = 120
# Known limitation, pinned by strict xfails: with instance-level Tversky on a softmax, a class pushed
# to p ~ 0 early (the tagger's single-word tags, the textcat's 25% minority) stays there, because a
# dice-type loss's logit gradient vanishes with p (CE's has no such factor). Set level learns both.
STALLS = pytest.mark.xfail(strict=True, reason="instance-level Tversky stalls on rare classes")

# Every loss trains every component under --slow; the fast tier trains with these two.
FAST_LOSSES = ("ce", "dsc")


def each_loss(stalls: bool = False) -> list:
    """The ``loss`` parameters of a learns-with-each-loss test: every loss of LOSSES, those not in
    FAST_LOSSES marked slow, instance-level Tversky marked STALLS when ``stalls``."""
    params = []
    for name in sorted(LOSSES):
        marks = [STALLS] if stalls and name == "tversky_instance" else []
        if name not in FAST_LOSSES:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(name, marks=marks))
    return params


LOSSES_STALLING_ON_RARE = each_loss(stalls=True)


@pytest.mark.parametrize("loss", each_loss())
def test_dice_ner_learns_with_each_loss(loss):
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL, "loss": LOSSES[loss]})
    examples = ner_examples(nlp)
    assert train_until(nlp, examples, MAX_UPDATES, key="ents_f", target=0.95) >= 0.95


@pytest.mark.parametrize("loss", LOSSES_STALLING_ON_RARE)
@pytest.mark.parametrize("attr", ["tag", "pos"])
def test_dice_tagger_learns_with_each_loss(loss, attr):
    if attr == "pos" and loss not in ("ce", "dsc"):
        pytest.skip("the pos attribute is checked with two losses; the loss code path is shared")
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL, "loss": LOSSES[loss], "attr": attr})
    examples = tagger_examples(nlp, attr=attr)
    assert train_until(nlp, examples, MAX_UPDATES, key=f"{attr}_acc", target=0.98) >= 0.98


@pytest.mark.parametrize("loss", LOSSES_STALLING_ON_RARE)
def test_dice_textcat_learns_with_each_loss(loss):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "dice_textcat",
        config={"model": SMALL_TEXTCAT_MODEL, "loss": LOSSES[loss], "positive_label": "POS"},
    )
    examples = textcat_examples(nlp)
    assert train_until(nlp, examples, MAX_UPDATES, key="cats_score", target=0.95) >= 0.95


def test_missing_ner_annotation_gets_zero_gradient():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    full = ner_examples(nlp, n_docs=5)
    nlp.initialize(lambda: full)
    doc = nlp.make_doc("Alice went to Paris with the Acme Corp team")
    # "-" marks a token whose entity annotation is missing.
    tags = ["U-PER", "-", "-", "U-LOC", "O", "O", "B-ORG", "L-ORG", "-"]
    example = Example.from_dict(doc, {"entities": tags})
    scores, _ = ner.model.begin_update([example.predicted])
    _, d_scores = ner.get_loss([example], scores)
    grad = numpy.asarray(d_scores[0])
    missing = [i for i, tag in enumerate(tags) if tag == "-"]
    labelled = [i for i, tag in enumerate(tags) if tag != "-"]
    assert not grad[missing].any()
    assert numpy.abs(grad[labelled]).sum(axis=1).min() > 0
    nlp.update([example], sgd=Adam(0.001))


def test_missing_tags_are_masked():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL})
    nlp.initialize(lambda: tagger_examples(nlp, n_docs=5))
    doc = nlp.make_doc("Alice ran green box")
    example = Example.from_dict(doc, {"tags": ["PROPN", "", "ADJ", ""]})
    scores, _ = tagger.model.begin_update([example.predicted])
    _, d_scores = tagger.get_loss([example], scores)
    grad = numpy.asarray(d_scores[0])
    assert not grad[[1, 3]].any()
    assert numpy.abs(grad[[0, 2]]).sum(axis=1).min() > 0


def test_labels_only_in_dev_are_masked_not_guessed():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL})
    nlp.initialize(lambda: tagger_examples(nlp, n_docs=5))
    example = Example.from_dict(nlp.make_doc("box box"), {"tags": ["NOUN", "UNSEEN"]})
    assert tagger.gold_ids(example, tagger._class_index()).tolist()[1] == -1


def test_inverse_frequency_weights_come_from_training_counts():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL, "loss": LOSSES["wce"]})
    examples = tagger_examples(nlp)
    nlp.initialize(lambda: examples)
    counts = tagger.cfg["label_counts"]
    weights = dict(zip(tagger.labels, tagger.loss.class_weights))
    assert counts["NOUN"] == max(counts.values())
    assert weights["NOUN"] == min(weights.values())
    total = sum(counts.values())
    assert weights["NOUN"] == pytest.approx(total / (len(counts) * counts["NOUN"]))


def test_nan_scores_stop_training_naming_component_and_loss():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL, "loss": DSC})
    examples = ner_examples(nlp, n_docs=5)
    nlp.initialize(lambda: examples)
    softmax = ner.model.get_ref("softmax")
    softmax.set_param("W", softmax.get_param("W") * numpy.nan)
    with pytest.raises(ValueError, match=r"E910.*dice_ner.*DiceLoss\(.*alpha=0.01"):
        nlp.update(examples, sgd=Adam(0.001))


@pytest.mark.parametrize("factory", ["dice_ner", "dice_tagger", "dice_textcat"])
def test_sigmoid_loss_is_refused_by_exclusive_components(factory):
    nlp = spacy.blank("en")
    loss = {"@losses": "spacy-dice.DiceLoss.v1", "activation": "sigmoid"}
    with pytest.raises(ValueError, match=r"activation='sigmoid'.*exclusive classes"):
        nlp.add_pipe(factory, config={"loss": loss})


def test_textcat_bow_output_layer_is_refused():
    nlp = spacy.blank("en")
    bow = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": True,
        "ngram_size": 1,
        "no_output_layer": False,
        "length": 1024,
    }
    with pytest.raises(ValueError, match="softmax_activation.*TextCatEnsemble"):
        nlp.add_pipe("dice_textcat", config={"model": bow})


def test_bad_tagger_attr_is_refused():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r"attr='lemma' is not allowed; use 'tag'"):
        nlp.add_pipe("dice_tagger", config={"attr": "lemma"})


def test_ner_predicts_on_empty_long_and_unseen_text():
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    examples = ner_examples(nlp)
    train_until(nlp, examples, MAX_UPDATES, key="ents_f", target=0.9)
    assert nlp("").ents == ()
    assert nlp("   ").ents == ()
    long_doc = nlp(" ".join(["Alice went to Paris and"] * 2000))
    assert len(long_doc) == 10000
    assert all(ent.label_ in ("PER", "LOC", "ORG") for ent in long_doc.ents)
    assert len(long_doc.ents) > 1000
    nlp("Ωμέγα 東京 🙂 ﷽ Ꭰ").ents  # characters never seen in training
    docs = list(nlp.pipe(["", "Alice", "x " * 50]))
    assert [len(d) for d in docs] == [0, 1, 50]


@pytest.mark.parametrize("grad_scale", ["labelled", 1.0, 3.0])
def test_grad_scale_is_explicit(grad_scale):
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL, "grad_scale": grad_scale})
    examples = tagger_examples(nlp, n_docs=4)
    nlp.initialize(lambda: examples)
    scores, _ = tagger.model.begin_update([eg.predicted for eg in examples])
    value, d_scores = tagger.get_loss(examples, scores)
    truths, n_labelled = tagger._truths(examples)
    raw_grad, raw_value = tagger.loss(scores, truths)
    factor = n_labelled if grad_scale == "labelled" else grad_scale
    assert value == pytest.approx(raw_value)
    for got, raw in zip(d_scores, raw_grad):
        numpy.testing.assert_allclose(got, raw * factor, rtol=1e-6)


@pytest.mark.parametrize("bad", ["tokens", 0.0, -1.0])
def test_bad_grad_scale_is_refused(bad):
    with pytest.raises(ValueError, match=r"grad_scale=.* is not allowed; use \"labelled\""):
        spacy.blank("en").add_pipe("dice_ner", config={"grad_scale": bad})


@pytest.mark.parametrize("bad", [float("nan"), True])
def test_grad_scale_of_wrong_type_is_refused_by_spacy(bad):
    # spaCy refuses NaN in a config (E961) and confection a bool for Union[str, float].
    with pytest.raises(ValueError, match="grad_scale"):
        spacy.blank("en").add_pipe("dice_ner", config={"grad_scale": bad})


def test_shipped_default_losses():
    """CE for tokens, DSC for texts: the measured choice (spacy_dice/pipeline/default_losses.py)."""
    nlp = spacy.blank("en")
    assert type(nlp.add_pipe("dice_ner").loss).__name__ == "CrossEntropy"
    assert type(nlp.add_pipe("dice_tagger").loss).__name__ == "CrossEntropy"
    textcat_loss = nlp.add_pipe("dice_textcat").loss
    assert (type(textcat_loss).__name__, textcat_loss.alpha) == ("DiceLoss", 0.01)


@pytest.mark.parametrize("overwrite", [False, True])
def test_tagger_overwrite_setting(overwrite):
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL, "overwrite": overwrite})
    examples = tagger_examples(nlp)
    train_until(nlp, examples, MAX_UPDATES, key="tag_acc", target=0.98)
    doc = nlp.make_doc("Alice ran green box")
    doc[0].tag_ = "PRESET"
    tagger(doc)
    assert doc[0].tag_ == ("PROPN" if overwrite else "PRESET")
    assert [t.tag_ for t in doc[1:]] == ["VERB", "ADJ", "NOUN"]
