"""dice_span_finder: start / end pointers with a configurable loss, alone and as the suggester of a
downstream dice_spancat; gradient through the whole model, masking, serialisation, bad input."""
import json
import math

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import Adam

from fresh_python import fresh_python
from conftest import numeric_gradients, train, train_until
from span_synthetic import (
    BCE,
    DSC_SET,
    KEY,
    SMALL_SPAN_FINDER_MODEL,
    SMALL_SPANCAT_MODEL,
    span_examples,
)
from spacy_dice.pipeline.span_gold import boundary_gold

PRESET = {"@misc": "spacy.preset_spans_suggester.v1", "spans_key": KEY}


def finder_nlp(loss=BCE, model=SMALL_SPAN_FINDER_MODEL, **config):
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_span_finder", name="span_finder",
                 config={"model": model, "loss": loss, "spans_key": KEY, **config})
    return nlp


def pipeline_nlp(loss=BCE):
    """dice_span_finder writes candidates to doc.spans["sc"]; dice_spancat labels them."""
    nlp = finder_nlp(loss, max_length=4)
    nlp.add_pipe("dice_spancat", name="spancat",
                 config={"model": SMALL_SPANCAT_MODEL, "loss": loss, "suggester": PRESET})
    return nlp


@pytest.mark.parametrize("loss", ["bce", "dsc_set"])
def test_span_finder_learns_start_and_end_pointers(loss):
    nlp = finder_nlp(BCE if loss == "bce" else DSC_SET, max_length=4)
    examples = span_examples(nlp, 30)
    # recall of the finder's unlabelled spans against the gold: it suggests candidates. Its
    # precision is capped: every start pairs with every end (e.g. a PER start with an ORG end)
    assert train_until(nlp, examples, 100, key="spans_sc_r", target=0.97) >= 0.97
    assert nlp.evaluate(examples)["spans_sc_p"] > 0.75


def test_span_finder_suggests_the_candidates_of_dice_spancat():
    nlp = pipeline_nlp()
    examples = span_examples(nlp, 30)
    assert train_until(nlp, examples, 150, key="spans_sc_f", target=0.9, annotates=["span_finder"]) >= 0.9
    doc = nlp("the Acme Corp in Paris was")
    found = {(s.start, s.end, s.label_) for s in doc.spans[KEY]}
    assert {(1, 5, "BRANCH"), (1, 3, "ORG"), (4, 5, "LOC")} <= found


def test_preset_suggester_without_its_spans_names_the_fix():
    nlp = pipeline_nlp()
    examples = span_examples(nlp, 6)
    nlp.initialize(lambda: examples)
    with pytest.raises(ValueError, match=r"\[spancat\] the suggester looked for doc.spans\['sc'\].*annotating_components"):
        nlp.update(examples, sgd=Adam(0.01))  # the span finder did not annotate
    losses = nlp.update(examples, sgd=Adam(0.01), annotates=["span_finder"])
    assert all(math.isfinite(v) for v in losses.values())


def test_span_finder_gradient_reaches_the_logits_exactly():
    nlp = finder_nlp(DSC_SET, grad_scale=1.0)
    examples = span_examples(nlp, 6, seed=2)
    train(nlp, examples, 5)
    component = nlp.get_pipe("span_finder")
    model = component.model
    docs = [eg.predicted for eg in examples]
    scores, backprop = model.begin_update(docs)
    _, d_scores = component.get_loss(examples, scores)
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    backprop(d_scores)
    linear = model.get_ref("scorer").layers[0]
    tok2vec_maxout = next(n for n in model.get_ref("tok2vec").walk() if n.name == "maxout")
    for node, name in ((linear, "b"), (linear, "W"), (tok2vec_maxout, "W")):
        for analytic, numeric in numeric_gradients(
            node, name, 2, lambda: component.get_loss(examples, model.predict(docs))[0]
        ):
            assert analytic == pytest.approx(numeric, rel=3e-2, abs=2e-4)


def test_boundary_gold_masks_unannotated_docs_and_misaligned_boundaries():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["New", "York-based", "Acme", "Corp"])
    ref = Doc(nlp.vocab, words=["New", "York", "-based", "Acme", "Corp"],
              spaces=[True, False, True, True, True])
    ref.spans[KEY] = [Span(ref, 0, 2, label="LOC"), Span(ref, 3, 5, label="ORG")]
    unannotated = Example(Doc(nlp.vocab, words=["a", "b"]), Doc(nlp.vocab, words=["a", "b"]))
    empty_ref = Doc(nlp.vocab, words=["a", "b"])
    empty_ref.spans[KEY] = []
    empty = Example(Doc(nlp.vocab, words=["a", "b"]), empty_ref)
    gold = boundary_gold([Example(doc, ref), unannotated, empty], KEY, "span_finder")
    assert gold[:4].tolist() == [[1, 0], [0, -1], [1, 0], [0, 1]]
    assert (gold[4:6] == -1).all() and (gold[6:] == 0).all()
    other = Example(Doc(nlp.vocab, words=["a", "b"]), Doc(nlp.vocab, words=["a", "c"]))
    other.reference.spans[KEY] = []
    with pytest.raises(ValueError, match=r"\[span_finder\] the predicted and reference docs"):
        boundary_gold([other], KEY, "span_finder")


def test_empty_docs_and_unannotated_batches():
    nlp = finder_nlp(DSC_SET)
    examples = span_examples(nlp, 6)
    nlp.initialize(lambda: examples)
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    losses = nlp.update(examples + [empty], sgd=Adam(0.01))
    assert math.isfinite(losses["span_finder"])
    docs = list(nlp.pipe(["", "Alice met Bob", ""]))
    assert [len(d.spans[KEY]) for d in docs][0] == 0
    unannotated = Example(nlp.make_doc("Alice met Bob"), nlp.make_doc("Alice met Bob"))
    losses = nlp.update([unannotated], sgd=Adam(0.01))
    assert losses["span_finder"] == 0.0


def test_bad_settings_name_the_component():
    with pytest.raises(ValueError, match=r"\[span_finder\] loss: .*activation = \"sigmoid\""):
        finder_nlp({"@losses": "spacy-dice.DiceLoss.v1", "level": "set"})
    with pytest.raises(ValueError, match=r"\[span_finder\] min_length=5 is larger than max_length=2"):
        finder_nlp(min_length=5, max_length=2)
    with pytest.raises(ValueError, match=r"\[span_finder\] max_length=0 is not allowed"):
        finder_nlp(max_length=0)
    with pytest.raises(ValueError, match=r"\[span_finder\] spans_key='' is not allowed"):
        finder_nlp(spans_key="")
    softmax_model = dict(SMALL_SPAN_FINDER_MODEL, scorer={"@layers": "Softmax.v2", "nO": 2})
    with pytest.raises(ValueError, match=r"\[span_finder\] model: .*spacy-dice.LinearLogits.v1"):
        finder_nlp(model=softmax_model)
    spacy_model = dict(SMALL_SPAN_FINDER_MODEL, scorer={"@layers": "spacy.LinearLogistic.v1", "nO": 2})
    assert finder_nlp(model=spacy_model).get_pipe("span_finder").adapted_layers == [
        "logistic -> sigmoid_logits"]


@pytest.mark.slow
def test_pipeline_loads_in_a_fresh_process_and_evaluates(tmp_path):
    """spacy.load without importing spacy_dice (entry points), same predictions; spacy evaluate."""
    from spacy.cli import app as spacy_app
    from typer.testing import CliRunner

    nlp = pipeline_nlp(DSC_SET)
    examples = span_examples(nlp, 30)
    train_until(nlp, examples, 60, annotates=["span_finder"])
    texts = ["the Acme Corp in Paris was", "Alice met Bob in Lima", ""]
    expected = [[(s.start, s.end, s.label_) for s in doc.spans[KEY]] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "model")
    script = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        f"docs = list(nlp.pipe({texts!r}))\n"
        f"print(json.dumps([[(s.start, s.end, s.label_) for s in d.spans[{KEY!r}]] for d in docs]))\n"
    )
    out = fresh_python(["-c", script], cwd=tmp_path, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[list(s) for s in d] for d in expected]
    DocBin(docs=[eg.reference for eg in examples]).to_disk(tmp_path / "gold.spacy")
    result = CliRunner().invoke(spacy_app, ["evaluate", str(tmp_path / "model"), str(tmp_path / "gold.spacy"),
                                            "--output", str(tmp_path / "m.json")])  # in this process
    assert result.exit_code == 0, (result.output, result.exception)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["spans_sc_f"] == pytest.approx(nlp.evaluate(examples)["spans_sc_f"], abs=1e-6)
    assert set(metrics["spans_sc_per_type"]) == {"PER", "ORG", "LOC", "GPE", "BRANCH"}
