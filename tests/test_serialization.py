"""Saving and loading: bytes round trip, a fresh process that never imports spacy_dice, evaluate, package."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import fix_random_seed
from thinc.api import Adam

from fresh_python import fresh_python
from synthetic import (
    SMALL_TAGGER_MODEL,
    SMALL_TEXTCAT_MODEL,
    ner_examples,
    tagger_examples,
    textcat_examples,
)

TEXTS = ["Alice met Bob in Paris", "the Acme Corp of Oslo", "", "green box ran quickly", "a"]
WCE = {"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "inverse_frequency"}


def trained_pipeline(steps: int = 30) -> spacy.Language:
    """A pipeline with all three components, briefly trained (one example set per component)."""
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL, "attr": "pos", "loss": WCE})
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"})
    ner, tagger, textcat = ner_examples(nlp), tagger_examples(nlp, "pos"), textcat_examples(nlp)
    examples = ner + tagger + textcat
    # Each component only sees its own gold: others' annotations are missing in those examples.
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(steps):
        for name, batch in (("dice_ner", ner), ("dice_tagger", tagger), ("dice_textcat", textcat)):
            nlp.get_pipe(name).update(batch, sgd=optimizer)
    return nlp


def predictions(nlp: spacy.Language) -> list:
    return [
        {
            "ents": [(e.start, e.end, e.label_) for e in doc.ents],
            "pos": [t.pos_ for t in doc],
            "cats": {k: round(v, 6) for k, v in doc.cats.items()},
        }
        for doc in nlp.pipe(TEXTS)
    ]


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory):
    nlp = trained_pipeline()
    path = tmp_path_factory.mktemp("pipeline") / "model"
    nlp.to_disk(path)
    return nlp, path


def test_bytes_round_trip(saved_pipeline):
    nlp, path = saved_pipeline
    restored = spacy.util.load_model_from_config(nlp.config)
    restored.from_bytes(nlp.to_bytes())
    assert predictions(restored) == predictions(nlp)
    assert restored.get_pipe("dice_tagger").loss.class_weights == nlp.get_pipe("dice_tagger").loss.class_weights


@pytest.mark.slow
def test_fresh_process_loads_without_importing_spacy_dice(saved_pipeline):
    nlp, path = saved_pipeline
    program = (
        "import json, sys, spacy\n"
        "assert 'spacy_dice' not in sys.modules\n"
        f"nlp = spacy.load({str(path)!r})\n"
        f"texts = {TEXTS!r}\n"
        "out = [{'ents': [(e.start, e.end, e.label_) for e in d.ents], 'pos': [t.pos_ for t in d],"
        " 'cats': {k: round(v, 6) for k, v in d.cats.items()}} for d in nlp.pipe(texts)]\n"
        "print(json.dumps(out))\n"
    )
    result = fresh_python(["-c", program], check=True, cwd=path.parent)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    expected = json.loads(json.dumps(predictions(nlp)))
    assert loaded == expected


def test_loaded_pipeline_keeps_training_with_its_loss(saved_pipeline):
    nlp, path = saved_pipeline
    loaded = spacy.load(path)
    tagger = loaded.get_pipe("dice_tagger")
    assert tagger.loss.class_weights == nlp.get_pipe("dice_tagger").loss.class_weights
    # Tags the trained model gets wrong, so that the loss is far from 0.
    surprising = [Example.from_dict(loaded.make_doc("box cup tree"), {"pos": ["VERB"] * 3})]
    losses = tagger.update(surprising, sgd=Adam(0.001))
    assert losses["dice_tagger"] > 0.1


@pytest.mark.slow
def test_spacy_evaluate_and_package(saved_pipeline, tmp_path):
    from spacy.cli import app as spacy_app
    from typer.testing import CliRunner

    nlp, path = saved_pipeline
    dev = tmp_path / "dev.spacy"
    DocBin(docs=[eg.reference for eg in ner_examples(nlp, n_docs=10, seed=1)]).to_disk(dev)
    metrics = tmp_path / "metrics.json"
    # `python -m spacy evaluate` and `package`, run in this process by spaCy's own typer app
    result = CliRunner().invoke(spacy_app, ["evaluate", str(path), str(dev), "--output", str(metrics)])
    assert result.exit_code == 0, (result.output, result.exception)
    scores = json.loads(metrics.read_text())
    assert 0.0 <= scores["ents_f"] <= 1.0 and "ents_per_type" in scores

    packages = tmp_path / "packages"
    packages.mkdir()
    result = CliRunner().invoke(spacy_app, ["package", str(path), str(packages), "--name", "dice_test",
                                            "--version", "0.0.1", "--force"])
    assert result.exit_code == 0, (result.output, result.exception)
    meta = json.loads(next(packages.glob("*/meta.json")).read_text())
    assert any(req.startswith("spacy-dice") for req in meta["requirements"]), meta["requirements"]


def test_config_of_release_0_1_0_still_loads():
    """Registry names are versioned (.v1 keeps its behaviour; changes get .v2): old configs load."""
    path = Path(__file__).parent / "fixtures" / "pipeline_config_0.1.0.cfg"
    config = spacy.util.load_config(path)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["dice_ner", "dice_tagger", "dice_textcat"]
    assert type(nlp.get_pipe("dice_ner").loss).__name__ == "CombinedLoss"
