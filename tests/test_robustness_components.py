"""Degenerate training batches and inputs for the components, bad config values, missing package."""
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed
from thinc.api import Adam, ConfigValidationError

from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, ner_examples, tagger_examples


def ner_pipeline(loss=None):
    nlp = spacy.blank("en")
    config = {"model": SMALL_TAGGER_MODEL}
    if loss is not None:
        config["loss"] = loss
    nlp.add_pipe("dice_ner", config=config)
    return nlp


def test_batch_without_any_entity_trains():
    fix_random_seed(0)
    nlp = ner_pipeline()
    examples = ner_examples(nlp)
    nlp.initialize(lambda: examples)
    empty = [Example.from_dict(nlp.make_doc("the a of and"), {"entities": ["O"] * 4})]
    losses = nlp.update(empty, sgd=Adam(0.001))
    assert numpy.isfinite(losses["dice_ner"])


def test_batch_of_only_missing_annotation_gives_zero_loss():
    nlp = ner_pipeline()
    nlp.initialize(lambda: ner_examples(nlp))
    missing = [Example.from_dict(nlp.make_doc("Alice saw Bob"), {"entities": ["-", "-", "-"]})]
    assert nlp.update(missing, sgd=Adam(0.001))["dice_ner"] == 0.0


def test_labels_only_in_dev_do_not_break_training_or_evaluation():
    nlp = ner_pipeline()
    nlp.initialize(lambda: ner_examples(nlp))
    dev = [Example.from_dict(nlp.make_doc("Acme sells Widgets"), {"entities": ["O", "O", "U-PRODUCT"]})]
    nlp.update(dev, sgd=Adam(0.001))
    scores = nlp.evaluate(dev)
    assert "PRODUCT" in scores["ents_per_type"]


def test_single_label():
    nlp = ner_pipeline()
    examples = [
        Example.from_dict(nlp.make_doc(f"{name} is here"), {"entities": ["U-PER", "O", "O"]})
        for name in ("Alice", "Bob", "Carol")
    ]
    nlp.initialize(lambda: examples)
    assert nlp.get_pipe("dice_ner").class_names == ["O", "B-PER", "I-PER", "L-PER", "U-PER"]
    nlp.update(examples, sgd=Adam(0.001))


def test_single_tag_tagger():
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL})
    examples = [Example.from_dict(nlp.make_doc("a b c"), {"tags": ["X", "X", "X"]})]
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.001))
    assert [t.tag_ for t in nlp("a b")] == ["X", "X"]


def test_empty_docs_in_training_batches():
    for factory, examples_of, model in (
        ("dice_ner", ner_examples, SMALL_TAGGER_MODEL),
        ("dice_tagger", tagger_examples, SMALL_TAGGER_MODEL),
    ):
        nlp = spacy.blank("en")
        nlp.add_pipe(factory, config={"model": model})
        examples = examples_of(nlp)
        nlp.initialize(lambda: examples)
        empty = Example.from_dict(nlp.make_doc(""), {})
        nlp.update([empty] + examples[:3], sgd=Adam(0.001))
        nlp.update([empty], sgd=Adam(0.001))


def test_empty_docs_for_textcat():
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL})
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {"A": float(i % 2), "B": float(1 - i % 2)}})
        for i, text in enumerate(["good one", "bad one", "good two", "bad two"])
    ]
    nlp.initialize(lambda: examples)
    nlp.update([Example.from_dict(nlp.make_doc(""), {"cats": {"A": 1.0, "B": 0.0}})] + examples,
               sgd=Adam(0.001))
    docs = list(nlp.pipe(["", "good", "   "]))
    assert docs[0].cats == pytest.approx({"A": 0.5, "B": 0.5})
    assert sum(docs[1].cats.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_prediction_on_whitespace_and_100k_tokens():
    nlp = ner_pipeline()
    nlp.initialize(lambda: ner_examples(nlp))
    assert nlp(" \n\t ").ents == ()
    nlp.max_length = 2_000_000
    doc = nlp("Alice saw Paris . " * 25_000)
    assert len(doc) == 100_000
    for ent in doc.ents:
        assert not any(t.is_space for t in ent)


@pytest.mark.parametrize(
    "loss, setting",
    [
        ({"@losses": "spacy-dice.DiceLoss.v1", "smooth": -1.0}, "smooth"),
        ({"@losses": "spacy-dice.DiceLoss.v1", "alpha": -0.5}, "alpha"),
        ({"@losses": "spacy-dice.DiceLoss.v1", "level": "token"}, "level"),
        ({"@losses": "spacy-dice.DiceLoss.v1", "class_reduction": "max"}, "class_reduction"),
        ({"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.0, "beta": 0.0, "smooth": 0.0}, "smooth"),
        ({"@losses": "spacy-dice.FocalLoss.v1", "gamma": -2.0}, "gamma"),
        ({"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": {"U-PER": 0.0}}, "class_weights"),
        ({"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "balanced"}, "class_weights"),
        ({"@losses": "spacy-dice.CrossEntropy.v1", "label_smoothing": 1.0}, "label_smoothing"),
    ],
)
def test_bad_loss_settings_fail_when_the_pipeline_is_built(loss, setting):
    with pytest.raises((ValueError, ConfigValidationError), match=setting):
        ner_pipeline(loss)


def test_unknown_loss_name_fails_naming_it():
    with pytest.raises(Exception, match="spacy-dice.DiceLos.v1"):
        ner_pipeline({"@losses": "spacy-dice.DiceLos.v1"})


def test_class_weight_for_unknown_label_fails_at_initialize():
    nlp = ner_pipeline({"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": {"U-PERSON": 2.0}})
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['U-PERSON'\].*U-PER"):
        nlp.initialize(lambda: ner_examples(nlp))


@pytest.mark.slow
def test_missing_package_gives_spacys_factory_error(tmp_path):
    nlp = ner_pipeline()
    nlp.initialize(lambda: ner_examples(nlp))
    nlp.to_disk(tmp_path / "model")
    # Hide spacy-dice's entry points and module, as in an environment where it is not installed.
    program = f"""
import importlib.metadata as md, sys
real = md.entry_points
def keep(eps):
    return md.EntryPoints(ep for ep in eps if not ep.value.startswith("spacy_dice"))
def hidden(**kwargs):
    found = real(**kwargs)
    if isinstance(found, dict):  # Python < 3.12 without arguments: {{group: entry points}}
        return {{group: keep(eps) for group, eps in found.items()}}
    return keep(found)
md.entry_points = hidden
sys.modules["spacy_dice"] = None
import spacy
try:
    spacy.load({str(tmp_path / "model")!r})
except ValueError as err:
    print(err)
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert "E002" in result.stdout and "dice_ner" in result.stdout


NAN_LOSS_CODE = '''
import math
from spacy.util import registry
from spacy_dice.losses import CrossEntropy

class NaNAfter(CrossEntropy):
    """Cross-entropy that reports NaN from the third call on (a diverging run)."""
    calls = 0
    def __call__(self, guesses, truths):
        grads, value = super().__call__(guesses, truths)
        NaNAfter.calls += 1
        return grads, (math.nan if NaNAfter.calls >= 3 else value)

@registry.losses("test.NaNAfter.v1")
def nan_after():
    return NaNAfter()
'''


@pytest.mark.slow
def test_nan_in_training_stops_spacy_train_and_saves_no_nan(tmp_path):
    from pathlib import Path

    from spacy.cli import app as spacy_app
    from spacy.tokens import DocBin
    from typer.testing import CliRunner

    code = tmp_path / "nan_loss.py"
    code.write_text(NAN_LOSS_CODE)
    corpus = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in ner_examples(spacy.blank("en"), n_docs=20)]).to_disk(corpus)
    config = Path(__file__).resolve().parents[1] / "configs" / "ner_cnn.cfg"
    # `python -m spacy train ...`, run in this process by spaCy's own typer app
    result = CliRunner().invoke(spacy_app, [
        "train", str(config), "--code", str(code), "--output", str(tmp_path / "out"),
        "--paths.train", str(corpus), "--paths.dev", str(corpus),
        "--components.ner.loss", '{"@losses": "test.NaNAfter.v1"}', "--training.max_steps", "10"])
    output = result.output + str(result.exception)  # spaCy's table, then the error under the traceback
    assert result.exit_code != 0
    assert "E910" in output and "'ner'" in output and "NaNAfter" in output
    # spaCy saves model-last when training aborts: it holds the weights from before the NaN step.
    last = tmp_path / "out" / "model-last"
    if last.exists():
        spacy.util.import_file("nan_loss", code)  # model-last's config names test.NaNAfter.v1
        nlp = spacy.load(last)
        for node in nlp.get_pipe("ner").model.walk():
            for name in node.param_names:
                if node.has_param(name):
                    assert numpy.isfinite(node.get_param(name)).all()
