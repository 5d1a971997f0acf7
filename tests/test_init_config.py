"""``python -m spacy_dice init-config``: complete configs that validate and train."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin, Span
from thinc.api import Config
from typer.testing import CliRunner

from spacy_dice.cli import app
from spacy_dice.training import config_rewrites
from spacy_dice.init_config import available, generate_config, parse_loss_spec
from spacy_dice.init_config.backbones import TRF_HEAD_LEARN_RATE_SCALE, cnn
from spacy_dice.init_config.build import fill
from spacy_dice.losses.presets import LossPreset

from synthetic import ner_examples

ROOT = Path(__file__).resolve().parent.parent
BASE = ("ner", "tagger", "pos", "textcat")


def parsed(text: str) -> Config:
    return Config().from_str(text, interpolate=False)


def test_the_base_components_exist():
    assert set(BASE) <= set(available())


@pytest.mark.parametrize("name", available())
def test_each_component_config_is_complete(name):
    text = generate_config([name], loss=None, backbone="cnn")
    config = parsed(text)
    # complete: spaCy's auto-fill adds nothing
    assert dict(fill(config)) == dict(config)
    assert config["nlp"]["pipeline"] == ["tok2vec", name]
    block = config["components"][name]
    assert block["model"]["tok2vec"]["@architectures"] == "spacy.Tok2VecListener.v1"
    assert text.count("# The loss: the component's default.") == 1
    # commented: every component, model and loss block has a comment
    for section in (f"components.{name}", f"components.{name}.model", f"components.{name}.loss"):
        assert re.search(rf"^# .*\n\[{re.escape(section)}\]$", text, re.M), section


def test_presets_are_read_when_it_runs(monkeypatch):
    """A preset added to the one table later (another engineer's) is usable at once."""
    new = {"@losses": "spacy-dice.FocalLoss.v1", "gamma": 3.5, "class_weights": None}
    monkeypatch.setitem(config_rewrites.PRESETS, "my_focal", LossPreset(new, None))
    config = parsed(generate_config(["ner"], loss="my_focal"))
    assert config["components"]["ner"]["loss"]["gamma"] == 3.5
    assert config_rewrites.LOSS_PRESETS["my_focal"] == new
    for name in config_rewrites.PRESETS:
        assert parse_loss_spec(name, ["ner"]) == {"ner": name}


def test_loss_per_component_and_sigmoid_components():
    config = parsed(generate_config(["ner", "textcat"], loss="ner=dsc,textcat=ce"))
    assert config["components"]["ner"]["loss"]["alpha"] == 0.01
    assert config["components"]["textcat"]["loss"]["@losses"] == "spacy-dice.CrossEntropy.v1"
    default = parsed(generate_config(["ner", "textcat"]))
    assert default["components"]["textcat"]["loss"]["@losses"] == "spacy-dice.DiceLoss.v1"  # its default
    if "spancat" in available():
        span = parsed(generate_config(["spancat"], loss="combined"))["components"]["spancat"]["loss"]
        assert {k: v["activation"] for k, v in span["losses"].items()} == {"ce": "sigmoid", "dsc": "sigmoid"}
        # sigmoid components take the set-level dice (tests/test_presets.py checks every name)
        assert span["losses"]["dsc"]["level"] == "set"


@pytest.mark.skipif("span_finder" not in available(), reason="dice_span_finder is not installed")
def test_span_finder_feeds_the_spancat():
    config = parsed(generate_config(["span_finder", "spancat"]))
    assert config["components"]["spancat"]["suggester"] == {
        "@misc": "spacy.preset_spans_suggester.v1", "spans_key": "sc"}
    # the backbone annotates too: otherwise the span finder's listener predicts the training
    # candidates from empty doc tensors (measured: every UNER row below 2 F1, docs/BENCHMARKS.md)
    assert config["training"]["annotating_components"][-1] == "span_finder"
    assert config["training"]["annotating_components"][0] in ("tok2vec", "transformer")
    with pytest.raises(ValueError, match="list span_finder before the spancat"):
        generate_config(["spancat", "span_finder"])


def test_pos_and_tagger_score_weights():
    config = parsed(generate_config(["tagger", "pos"]))
    assert config["components"]["pos"]["attr"] == "pos"
    weights = config["training"]["score_weights"]
    assert weights["tag_acc"] == 0.5 and weights["pos_acc"] == 0.5


@pytest.mark.parametrize("kwargs,message", [
    ({"pipeline": ["nerx"]}, "unknown --pipeline component 'nerx': expected one of ner,"),
    ({"pipeline": ["ner"], "loss": "foo"}, "--loss 'foo' for ner: unknown loss preset; expected one of ce"),
    ({"pipeline": ["ner"], "loss": "tagger=dsc"}, "--loss names 'tagger', which is not in --pipeline"),
    ({"pipeline": ["ner"], "loss": "ner=dsc,x"}, "expected a preset name"),
    ({"pipeline": ["ner", "ner"]}, "--pipeline names 'ner' twice"),
    ({"pipeline": []}, "--pipeline is empty"),
    ({"pipeline": ["ner"], "backbone": "lstm"}, "unknown backbone 'lstm': expected one of cnn, trf"),
])
def test_errors(kwargs, message):
    pipeline = kwargs.pop("pipeline")
    with pytest.raises(ValueError) as err:
        generate_config(pipeline, **kwargs)
    assert message in str(err.value)


def test_backbones_agree_with_the_repository_configs():
    ner_cnn = Config().from_disk(ROOT / "configs" / "ner_cnn.cfg", interpolate=False)
    assert ner_cnn["components"]["tok2vec"] == parsed(generate_config(["ner"]))["components"]["tok2vec"]
    assert cnn().learn_rate == ner_cnn["training"]["optimizer"]["learn_rate"]
    for path in sorted((ROOT / "configs").glob("*_trf.cfg")):
        trf = Config().from_disk(path, interpolate=False)
        name = [n for n in trf["nlp"]["pipeline"] if n != "transformer"][0]
        assert trf["components"][name]["head_learn_rate_scale"] == TRF_HEAD_LEARN_RATE_SCALE, path.name
    generated = parsed(generate_config(["ner"], backbone="trf"))
    ner_trf = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", interpolate=False)
    assert generated["components"]["transformer"] == ner_trf["components"]["transformer"]
    assert generated["components"]["ner"]["model"]["tok2vec"] == ner_trf["components"]["ner"]["model"]["tok2vec"]
    assert generated["training"]["optimizer"] == ner_trf["training"]["optimizer"]


def test_cli_writes_refuses_overwrite_and_prints(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cfg" / "config.cfg"
    result = runner.invoke(app, ["init-config", str(out), "--pipeline", "ner,textcat", "--loss", "dsc"])
    assert result.exit_code == 0, result.output
    assert parsed(out.read_text())["components"]["ner"]["loss"]["alpha"] == 0.01
    result = runner.invoke(app, ["init-config", str(out), "--pipeline", "ner"])
    assert result.exit_code == 1 and "--force" in result.output
    result = runner.invoke(app, ["init-config", "-", "--pipeline", "tagger"])
    assert result.exit_code == 0 and "[components.tagger.loss]" in result.output
    result = runner.invoke(app, ["init-config", "-", "--pipeline", "nope"])
    assert result.exit_code == 1 and "unknown --pipeline component" in result.output


def _corpus(tmp_path: Path) -> Path:
    """One DocBin with entities, tags, POS, cats, spans["sc"] and spans["words"]: every component
    trains on it."""
    nlp = spacy.blank("en")
    docs = []
    for i, eg in enumerate(ner_examples(nlp, n_docs=12)):
        doc = eg.reference
        for token in doc:
            token.tag_ = "NNP" if token.text[:1].isupper() else "NN"
            token.pos_ = "PROPN" if token.text[:1].isupper() else "NOUN"
        doc.cats = {"POS": float(i % 3 == 0), "NEG": float(i % 3 != 0)}
        doc.spans["sc"] = list(doc.ents)
        doc.spans["words"] = [Span(doc, t.i, t.i + 1, label=t.pos_) for t in doc]  # dice_seg_tagger
        docs.append(doc)
    path = tmp_path / "corpus.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


def _train(config_path: Path, corpus: Path, output: Path, extra=None) -> dict:
    from spacy.cli.train import train

    overrides = {"paths.train": str(corpus), "paths.dev": str(corpus), "training.max_steps": 4,
                 "training.eval_frequency": 2, **(extra or {})}
    train(config_path, output, overrides=overrides)
    return spacy.load(output / "model-last")


def test_debug_config_accepts_a_generated_config(tmp_path):
    """``spacy debug config`` (spaCy's own command, in-process) finds the generated config valid."""
    from spacy.cli import app as spacy_app

    corpus = _corpus(tmp_path)
    path = tmp_path / "config.cfg"
    path.write_text(generate_config(list(BASE), loss="combined"))
    run = CliRunner().invoke(spacy_app, ["debug", "config", str(path), "--paths.train", str(corpus),
                                         "--paths.dev", str(corpus)])
    assert run.exit_code == 0 and "Config is valid" in run.output, run.output


COMBINATIONS = [name for name in available()] + (
    ["span_finder,spancat"] if {"span_finder", "spancat"} <= set(available()) else []
)


@pytest.mark.slow
@pytest.mark.parametrize("name", COMBINATIONS)
def test_each_cnn_config_trains_4_steps(tmp_path, name):
    corpus = _corpus(tmp_path)
    path = tmp_path / "config.cfg"
    path.write_text(generate_config(name.split(","), loss="dsc"))
    nlp = _train(path, corpus, tmp_path / "out")
    assert nlp.pipe_names == ["tok2vec"] + name.split(",")
    scores = nlp.meta["performance"]  # the last evaluation on the dev corpus
    assert scores and all(v is None or v == v for v in scores.values() if not isinstance(v, dict))


@pytest.mark.slow
def test_trf_config_trains_4_steps_on_tiny_bert(tmp_path):
    from tiny_bert import make_tiny_bert

    bert = make_tiny_bert(tmp_path / "tiny-bert")
    corpus = _corpus(tmp_path)
    path = tmp_path / "config.cfg"
    path.write_text(generate_config(["ner", "textcat"], loss="ner=combined", backbone="trf"))
    nlp = _train(path, corpus, tmp_path / "out", {"paths.transformer_model": str(bert)})
    assert nlp.pipe_names == ["transformer", "ner", "textcat"]
    doc = nlp("Alice lives in Paris")
    assert set(doc.cats) == {"POS", "NEG"}
