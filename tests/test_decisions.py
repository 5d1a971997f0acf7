"""Decision settings (``thresholds`` / ``label_bias``) of every dice component.

* the defaults give bit-identical annotations to the components' plain decision rule (spaCy's own
  ``set_annotations`` / the plain Viterbi / the plain argmax), and so do neutral settings taken
  through the setting's own code path (every threshold = ``threshold``, every bias = 0);
* ``predict`` is decision-free: one prediction, many ``set_annotations`` under other settings;
* each setting does what it says; bad values and unknown labels are refused at construction,
  ``set_decisions``, ``initialize`` and after ``from_disk`` / ``from_bytes``, naming the
  component and the labels it knows;
* the settings are saved (bytes, disk, ``config.cfg`` through ``set_pipeline_decisions``).
"""
import copy
import json
from typing import Any, Dict, List

import numpy
import pytest
import spacy
from spacy.pipeline import SpanCategorizer, SpanFinder, TextCategorizer
from spacy.tokens import Span
from spacy.util import fix_random_seed

from conftest import blank_nlp, train
from span_synthetic import SMALL_SINGLELABEL_MODEL, SMALL_SPAN_FINDER_MODEL, SMALL_SPANCAT_MODEL, span_examples
from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, ner_examples, tagger_examples, textcat_examples
from spacy_dice.pipeline.decision_settings import LABEL_BIAS, THRESHOLDS, set_pipeline_decisions
from spacy_dice.pipeline.decoder import decode_log_probs_batch

SUGGESTER = {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}
COMPONENTS: Dict[str, Any] = {
    "dice_tagger": ({"model": SMALL_TAGGER_MODEL}, tagger_examples),
    "dice_ner": ({"model": SMALL_TAGGER_MODEL}, ner_examples),
    "dice_textcat": ({"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"}, textcat_examples),
    "dice_spancat": ({"model": SMALL_SPANCAT_MODEL, "suggester": SUGGESTER}, span_examples),
    "dice_spancat_singlelabel": (
        {"model": SMALL_SINGLELABEL_MODEL, "suggester": SUGGESTER},
        lambda nlp: span_examples(nlp, multilabel=False),
    ),
    "dice_span_finder": ({"model": SMALL_SPAN_FINDER_MODEL}, span_examples),
}
SETTING = {
    "dice_tagger": LABEL_BIAS, "dice_ner": LABEL_BIAS, "dice_textcat": LABEL_BIAS,
    "dice_spancat_singlelabel": LABEL_BIAS, "dice_spancat": THRESHOLDS, "dice_span_finder": THRESHOLDS,
}
TEXTS = [
    "Alice met Bob in Paris", "the Acme Corp in Oslo was green", "", "box ran quickly to Lima",
    "a", "Eve and Carol of Globex Corp in Quito", "superb excellent day in Lima",
]


def make_nlp(factory: str, **settings: Any) -> spacy.Language:
    """A blank pipeline with ``factory`` in its test configuration, updated with ``settings``."""
    config, _ = COMPONENTS[factory]
    return blank_nlp(factory, **dict(copy.deepcopy(config), **settings))


@pytest.fixture(scope="module", params=sorted(COMPONENTS))
def trained(request):
    """``(factory, nlp)`` after a few updates (unsure enough that decisions matter)."""
    factory = request.param
    fix_random_seed(0)
    nlp = make_nlp(factory)
    train(nlp, COMPONENTS[factory][1](nlp), 4, seed=None)  # seeded before the pipeline was built
    return factory, nlp


def annotations(factory: str, docs: List[Any]) -> List[Any]:
    """Everything the component writes, comparable with ``==`` (scores as exact bytes)."""
    out = []
    for doc in docs:
        if factory == "dice_tagger":
            out.append([t.tag_ for t in doc])
        elif factory == "dice_ner":
            out.append([(e.start, e.end, e.label_) for e in doc.ents])
        elif factory == "dice_textcat":
            out.append(sorted((k, numpy.float64(v).tobytes()) for k, v in doc.cats.items()))
        else:
            group = doc.spans["sc"]
            scores = group.attrs.get("scores")
            out.append((
                [(s.start, s.end, s.label_) for s in group],
                None if scores is None else numpy.asarray(scores).tobytes(),
            ))
    return out


def reference(factory: str, pipe: Any, docs: List[Any], scores: Any) -> None:
    """The plain decision rule, without any decision setting (spaCy's own code where it exists)."""
    if factory == "dice_tagger":
        for doc, s in zip(docs, scores):
            for token, best in zip(doc, numpy.asarray(s).argmax(axis=1)):
                token.tag_ = pipe.labels[best]
    elif factory == "dice_ner":
        for doc, ids in zip(docs, decode_log_probs_batch(scores, pipe.class_names)):
            from spacy_dice.pipeline.biluo import spans_from_tags

            doc.set_ents([Span(doc, s, e, label=lab) for s, e, lab in spans_from_tags(ids, pipe.class_names)],
                         default="outside")
    elif factory == "dice_textcat":
        TextCategorizer.set_annotations(pipe, docs, scores)
    elif factory == "dice_span_finder":
        SpanFinder.set_annotations(pipe, docs, scores)
    else:
        SpanCategorizer.set_annotations(pipe, docs, scores)


def neutral(factory: str, pipe: Any) -> Dict[str, float]:
    """A non-empty setting that must not change anything, taken through the setting's code path."""
    if factory == "dice_span_finder":
        return {"start": pipe.cfg["threshold"], "end": pipe.cfg["threshold"]}
    if factory == "dice_spancat":
        return {label: pipe.cfg["threshold"] for label in pipe.labels}
    return {label: 0.0 for label in pipe.decision_labels}


def test_defaults_are_bit_identical_to_the_plain_decision(trained):
    factory, nlp = trained
    pipe = nlp.get_pipe(factory)
    assert pipe.cfg[SETTING[factory]] == {}
    assert pipe.decision_setting == SETTING[factory]
    docs = [nlp.make_doc(t) for t in TEXTS]
    scores = pipe.predict(docs)
    pipe.set_annotations(docs, scores)
    got = annotations(factory, docs)
    want_docs = [nlp.make_doc(t) for t in TEXTS]
    reference(factory, pipe, want_docs, scores)
    assert got == annotations(factory, want_docs)
    # nlp.pipe and nlp(...) write the same
    assert annotations(factory, list(nlp.pipe(TEXTS))) == got
    # a neutral non-empty setting goes through the setting's own code: still identical
    pipe.set_decisions(neutral(factory, pipe))
    try:
        again = [nlp.make_doc(t) for t in TEXTS]
        pipe.set_annotations(again, pipe.predict(again))
        if factory == "dice_textcat" or factory == "dice_spancat_singlelabel":
            # softmax(log p + 0) is p up to rounding: compare the decisions and the values closely
            for a, b in zip(annotations(factory, again), got):
                if factory == "dice_textcat":
                    assert [k for k, _ in a] == [k for k, _ in b]
                    numpy.testing.assert_allclose(
                        [numpy.frombuffer(v) for _, v in a], [numpy.frombuffer(v) for _, v in b], rtol=1e-6
                    )
                else:
                    assert a[0] == b[0]
        else:
            assert annotations(factory, again) == got
    finally:
        pipe.set_decisions({})


def test_predict_once_annotate_under_many_settings(trained):
    factory, nlp = trained
    pipe = nlp.get_pipe(factory)
    scores = pipe.predict([nlp.make_doc(t) for t in TEXTS])
    snapshot = copy.deepcopy(scores)

    def annotate() -> List[Any]:
        docs = [nlp.make_doc(t) for t in TEXTS]  # fresh docs (the tagger keeps set tags)
        pipe.set_annotations(docs, scores)
        return annotations(factory, docs)

    before = annotate()
    label = list(pipe.decision_labels)[0]
    extreme = {label: 0.0} if SETTING[factory] == THRESHOLDS else {label: 50.0}
    pipe.set_decisions(extreme)
    try:
        after = annotate()
    finally:
        pipe.set_decisions({})
    assert annotate() == before  # back to the default: same as before
    assert after != before, f"{factory}: {extreme} changed nothing"
    # set_annotations did not modify the scores
    flat = lambda x: [numpy.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]  # noqa: E731
    if factory.startswith("dice_spancat"):
        numpy.testing.assert_array_equal(numpy.asarray(scores[1]), numpy.asarray(snapshot[1]))
    else:
        for a, b in zip(flat(scores), flat(snapshot)):
            numpy.testing.assert_array_equal(a, b)


def test_each_setting_does_what_it_says(trained):
    factory, nlp = trained
    pipe = nlp.get_pipe(factory)
    docs = [nlp.make_doc(t) for t in TEXTS if t]
    scores = pipe.predict(docs)
    label = sorted(pipe.decision_labels)[0]
    if factory == "dice_spancat":
        pipe.set_decisions({label: 0.0})
        pipe.set_annotations(docs, scores)
        n_candidates = int(scores[0].lengths.sum())
        assert sum(1 for d in docs for s in d.spans["sc"] if s.label_ == label) == n_candidates
        pipe.set_decisions({lab: 1.0 for lab in pipe.labels})
        pipe.set_annotations(docs, scores)
        assert all(float(v) >= 1.0 for d in docs for v in d.spans["sc"].attrs["scores"])
    elif factory == "dice_span_finder":
        pipe.set_decisions({"start": 0.0, "end": 0.0})
        pipe.set_annotations(docs, scores)
        # every span of length <= max_length is proposed
        max_length = pipe.cfg["max_length"]
        for doc in docs:
            n = len(doc)
            assert len(doc.spans["sc"]) == sum(min(max_length, n - i) for i in range(n))
    elif factory == "dice_spancat_singlelabel":
        pipe.set_decisions({lab: 60.0 for lab in pipe.labels})
        pipe.set_annotations(docs, scores)
        n_candidates = int(scores[0].lengths.sum())
        assert sum(len(d.spans["sc"]) for d in docs) == n_candidates  # __negative__ never wins
        for doc in docs:
            assert (numpy.asarray(doc.spans["sc"].attrs["scores"]) <= 1.0).all()
    elif factory == "dice_textcat":
        pipe.set_decisions({"POS": 1.5})
        pipe.set_annotations(docs, scores)
        probs = numpy.asarray(scores, dtype="float64")
        logits = numpy.log(probs) + numpy.array([1.5 if lab == "POS" else 0.0 for lab in pipe.labels])
        want = numpy.exp(logits - logits.max(axis=1, keepdims=True))
        want /= want.sum(axis=1, keepdims=True)
        for doc, row in zip(docs, want):
            numpy.testing.assert_allclose([doc.cats[lab] for lab in pipe.labels], row, rtol=1e-5)
            assert abs(sum(doc.cats.values()) - 1.0) < 1e-5
    elif factory == "dice_tagger":
        pipe.set_decisions({label: 80.0})
        pipe.set_annotations(docs, scores)
        assert all(t.tag_ == label for d in docs for t in d)
    elif factory == "dice_ner":
        pipe.set_decisions({label: 80.0})
        pipe.set_annotations(docs, scores)
        # a huge bias makes every token part of an entity of that type
        for doc in docs:
            assert all(t.ent_type_ == label for t in doc if not t.is_space)
        pipe.set_decisions({label: -80.0})
        pipe.set_annotations(docs, scores)
        assert all(e.label_ != label for d in docs for e in d.ents)
    pipe.set_decisions({})


@pytest.mark.parametrize("factory", sorted(COMPONENTS))
def test_bad_values_are_refused_at_construction(factory):
    # inf and nan cannot enter a config (spaCy refuses them, E961) and the typed config refuses
    # what is not a number or not a dict, naming component and setting; the rest is ours
    setting = SETTING[factory]
    if setting == THRESHOLDS:
        bad = [({"X": 1.5}, "in [0, 1]"), ({"X": -0.1}, "in [0, 1]"), ({"X": True}, setting), ([0.2], setting)]
    else:
        bad = [({"X": None}, setting), ([0.2], setting)]
    for value, what in bad:
        with pytest.raises(ValueError) as err:
            make_nlp(factory, **{setting: value})
        assert factory in str(err.value) and what in str(err.value)


def test_set_decisions_refuses_unknown_labels_and_bad_values(trained):
    factory, nlp = trained
    pipe = nlp.get_pipe(factory)
    with pytest.raises(ValueError) as err:
        pipe.set_decisions({"NO_SUCH_LABEL": 0.5})
    message = str(err.value)
    assert factory in message and "NO_SUCH_LABEL" in message
    assert all(repr(label) in message for label in pipe.decision_labels)
    label = list(pipe.decision_labels)[0]
    with pytest.raises(ValueError, match=r"\[0, 1\]" if SETTING[factory] == THRESHOLDS else "finite"):
        pipe.set_decisions({label: 2.0 if SETTING[factory] == THRESHOLDS else float("nan")})
    assert pipe.cfg[SETTING[factory]] == {}  # unchanged after a refusal
    if factory == "dice_spancat_singlelabel":
        with pytest.raises(ValueError, match="__negative__"):
            pipe.set_decisions({"__negative__": 1.0})


@pytest.mark.parametrize("factory", sorted(set(COMPONENTS) - {"dice_span_finder"}))
def test_unknown_label_in_config_refused_at_initialize(factory):
    nlp = make_nlp(factory, **{SETTING[factory]: {"NO_SUCH_LABEL": 0.5}})
    examples = COMPONENTS[factory][1](nlp)
    with pytest.raises(ValueError) as err:
        nlp.initialize(lambda: examples)
    assert factory in str(err.value) and "NO_SUCH_LABEL" in str(err.value) and "its labels" in str(err.value)


def test_span_finder_refuses_other_keys_at_construction():
    with pytest.raises(ValueError, match="'start', 'end'"):
        make_nlp("dice_span_finder", thresholds={"middle": 0.3})


@pytest.mark.parametrize("trained", [  # every component under --slow; one of each kind of setting here
    pytest.param(factory, marks=[] if factory in ("dice_ner", "dice_spancat") else [pytest.mark.slow])
    for factory in sorted(COMPONENTS)], indirect=True)
def test_saved_settings_reload_and_bad_saved_settings_are_refused(trained, tmp_path):
    factory, nlp = trained
    pipe = nlp.get_pipe(factory)
    label = sorted(pipe.decision_labels)[-1]
    value = 0.25 if SETTING[factory] == THRESHOLDS else -1.5
    set_pipeline_decisions(nlp, factory, {label: value})
    try:
        docs = [nlp.make_doc(t) for t in TEXTS]
        pipe.set_annotations(docs, pipe.predict(docs))
        want = annotations(factory, docs)
        # bytes
        other = make_nlp(factory)
        other.from_bytes(nlp.to_bytes())
        assert other.get_pipe(factory).cfg[SETTING[factory]] == {label: value}
        assert annotations(factory, list(other.pipe(TEXTS))) == want
        # disk: both cfg and config.cfg hold the setting
        nlp.to_disk(tmp_path / "model")
        assert json.loads((tmp_path / "model" / factory / "cfg").read_text())[SETTING[factory]] == {label: value}
        loaded = spacy.load(tmp_path / "model")
        assert loaded.config["components"][factory][SETTING[factory]] == {label: value}
        assert loaded.get_pipe(factory).cfg[SETTING[factory]] == {label: value}
        assert annotations(factory, list(loaded.pipe(TEXTS))) == want
    finally:
        set_pipeline_decisions(nlp, factory, {})
    # a saved cfg (which wins over config.cfg) with an unknown label or a bad value is refused
    cfg_path = tmp_path / "model" / factory / "cfg"
    cfg = json.loads(cfg_path.read_text())
    for bad, what in (({"NO_SUCH_LABEL": 0.5}, "NO_SUCH_LABEL"),
                      ({label: 7.0 if SETTING[factory] == THRESHOLDS else None}, label)):
        cfg[SETTING[factory]] = bad
        cfg_path.write_text(json.dumps(cfg))
        with pytest.raises(ValueError) as err:
            spacy.load(tmp_path / "model")
        assert factory in str(err.value) and what in str(err.value)
    # from_bytes with a bad saved setting
    pipe.cfg[SETTING[factory]] = {"NO_SUCH_LABEL": 0.5}
    try:
        data = pipe.to_bytes()
    finally:
        pipe.cfg[SETTING[factory]] = {}
    with pytest.raises(ValueError, match="NO_SUCH_LABEL"):
        make_nlp(factory).get_pipe(factory).from_bytes(data)


def test_set_pipeline_decisions_names_the_calibratable_components():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(ValueError, match="none"):
        set_pipeline_decisions(nlp, "sentencizer", {})
