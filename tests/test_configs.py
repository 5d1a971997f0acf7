"""The shipped CPU configs pass `spacy debug config` and train a few steps with `spacy train`.

The commands run in this process through spaCy's own typer app (typer's ``CliRunner``): the same
argument parsing and config overrides as ``python -m spacy``, without an interpreter start each.
(That a fresh process finds the components through the entry points alone is checked in
tests/test_losses_config.py and the ``spacy.load`` tests.)"""
from pathlib import Path

import pytest
import spacy
from click.testing import Result
from spacy.cli import app as spacy_app
from spacy.tokens import DocBin
from typer.testing import CliRunner

from span_synthetic import span_examples
from synthetic import ner_examples, tagger_examples, textcat_examples

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXAMPLES = {
    "ner_cnn.cfg": lambda nlp: ner_examples(nlp, n_docs=20),
    "tagger_cnn.cfg": lambda nlp: tagger_examples(nlp, "pos", n_docs=20),
    "textcat_cnn.cfg": lambda nlp: textcat_examples(nlp, n_docs=20),
    "spancat_cnn.cfg": lambda nlp: span_examples(nlp, n_docs=20),
    "spans_cnn.cfg": lambda nlp: span_examples(nlp, n_docs=20),
}
POSITIVE = {"textcat_cnn.cfg": ["--components.textcat.positive_label", "POS"]}


def spacy_cli(*args: object) -> Result:
    """``python -m spacy ARGS``, run in this process; returns click's ``Result``."""
    return CliRunner().invoke(spacy_app, [str(arg) for arg in args])


def write_corpus(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in EXAMPLES[config](spacy.blank("en"))]).to_disk(path)
    return path


@pytest.mark.parametrize("config", sorted(EXAMPLES))
def test_config_is_valid(config, tmp_path):
    corpus = write_corpus(tmp_path, config)
    result = spacy_cli("debug", "config", CONFIGS / config, "--paths.train", corpus, "--paths.dev", corpus)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Config is valid" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("config", sorted(EXAMPLES))
def test_config_trains_a_few_steps(config, tmp_path):
    corpus = write_corpus(tmp_path, config)
    output = tmp_path / "out"
    result = spacy_cli("train", CONFIGS / config, "--output", output, "--paths.train", corpus,
                       "--paths.dev", corpus, "--training.max_steps", 4, "--training.eval_frequency", 2,
                       *POSITIVE.get(config, []))
    assert result.exit_code == 0, (result.output, result.exception)
    nlp = spacy.load(output / "model-last")
    assert nlp.pipe_names[-1] in ("ner", "tagger", "textcat", "spancat")
    nlp("Alice went to Paris")


def test_switching_the_loss_is_one_block():
    """The README's promise: replace [components.X.loss] and nothing else."""
    config = spacy.util.load_config(CONFIGS / "ner_cnn.cfg")
    config["components"]["ner"]["loss"] = {"@losses": "spacy-dice.FocalLoss.v1", "gamma": 2.0}
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert type(nlp.get_pipe("ner").loss).__name__ == "FocalLoss"


def test_debug_config_shows_a_bad_loss_setting(tmp_path):
    corpus = write_corpus(tmp_path, "ner_cnn.cfg")
    result = spacy_cli("debug", "config", CONFIGS / "ner_cnn.cfg", "--paths.train", corpus, "--paths.dev", corpus,
                       "--components.ner.loss.label_smoothing", 1.5)
    output = result.output + str(result.exception)  # the error a user sees under its traceback
    assert result.exit_code != 0
    assert "label_smoothing=1.5" in output and "use 0 <= value < 1" in output
