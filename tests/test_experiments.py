"""Loss presets, config rewrites and one tiny real ``spacy train`` run."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.util import load_model_from_config
from thinc.api import Config, registry

import spacy_dice  # noqa: F401  (registers losses and factories)
from spacy_dice.training import (
    LOSS_PRESETS, RunResult, load_config, loss_block, run_training, spacy_baseline, with_loss,
)
from spacy_dice.training.runner import headline_scores, train_speed

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "ner": ROOT / "configs" / "ner_cnn.cfg",
    "tagger": ROOT / "configs" / "tagger_cnn.cfg",
    "textcat": ROOT / "configs" / "textcat_cnn.cfg",
}
EXPECTED_PRESETS = {"ce", "wce", "focal", "dl", "dsc", "tversky", "combined", "ce_then_dsc", "logdice"}


def _nlp(config):
    return load_model_from_config(config, auto_fill=True, validate=True)


def test_preset_names():
    assert set(LOSS_PRESETS) == EXPECTED_PRESETS


@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_presets_resolve_to_losses(name):
    loss = registry.resolve({"loss": loss_block(name)})["loss"]
    assert callable(loss) and hasattr(loss, "get_grad")


def test_paper_settings():
    assert LOSS_PRESETS["dsc"]["alpha"] == 0.01
    assert LOSS_PRESETS["dsc"]["smooth"] == 1.0
    assert LOSS_PRESETS["dsc"]["square_denominator"] is True
    assert LOSS_PRESETS["dl"]["alpha"] == 0.0
    assert LOSS_PRESETS["focal"]["gamma"] == 2.0
    assert set(LOSS_PRESETS["combined"]["losses"]) == {"ce", "dsc"}
    assert set(LOSS_PRESETS["ce_then_dsc"]["losses"]) == {"ce", "dsc"}
    assert LOSS_PRESETS["ce_then_dsc"]["weights"]["dsc"]["start"] == 0.0


@pytest.mark.parametrize("component", [  # every preset builds each pipeline under --slow; ner here
    pytest.param(c, marks=[] if c == "ner" else [pytest.mark.slow]) for c in sorted(CONFIGS)])
@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_with_loss_replaces_block_and_validates(component, name):
    config = load_config(str(CONFIGS[component]))
    before = config.to_str()
    new = with_loss(config, component, name)
    assert config.to_str() == before, "with_loss must not modify its input"
    assert new["components"][component]["loss"] == LOSS_PRESETS[name]
    # the new block round-trips through the config string
    again = Config().from_str(new.to_str(), interpolate=False)
    assert again["components"][component]["loss"] == LOSS_PRESETS[name]
    nlp = _nlp(new)
    assert component in nlp.pipe_names


def test_with_loss_params_override_and_no_leak():
    config = load_config(str(CONFIGS["ner"]))
    new = with_loss(config, "ner", "ce", class_weights="inverse_frequency")
    block = new["components"]["ner"]["loss"]
    assert block["class_weights"] == "inverse_frequency"
    # the DSC keys of the original block do not leak into the CE block
    assert "alpha" not in block and "smooth" not in block
    dsc = with_loss(config, "ner", "dsc", alpha=0.1)
    assert dsc["components"]["ner"]["loss"]["alpha"] == 0.1
    assert LOSS_PRESETS["dsc"]["alpha"] == 0.01, "presets must not be mutated"


def test_with_loss_errors():
    config = load_config(str(CONFIGS["ner"]))
    with pytest.raises(ValueError, match="ce, wce, focal"):
        with_loss(config, "ner", "nope")
    with pytest.raises(ValueError, match="no component"):
        with_loss(config, "parser", "ce")


@pytest.mark.parametrize(
    "component,attr,factory,weight",
    [("ner", None, "ner", "ents_f"), ("tagger", "pos", "morphologizer", "pos_acc"),
     ("tagger", "tag", "tagger", "tag_acc"), ("textcat", None, "textcat", "cats_score")],
)
def test_spacy_baseline(component, attr, factory, weight):
    config = load_config(str(CONFIGS[component]))
    if attr is not None:
        config["components"][component]["attr"] = attr
    base = spacy_baseline(config, component)
    section = base["components"][component]
    assert section["factory"] == factory
    assert "loss" not in section
    # same tok2vec, training settings and data
    assert section["model"]["tok2vec"] == config["components"][component]["model"]["tok2vec"]
    assert base["components"]["tok2vec"] == config["components"]["tok2vec"]
    for key in ("max_steps", "seed", "optimizer", "batcher", "dropout"):
        assert base["training"][key] == config["training"][key]
    assert base["corpora"] == config["corpora"]
    assert base["training"]["score_weights"][weight] == 1.0
    nlp = _nlp(base)
    assert nlp.get_pipe(component).__class__.__module__.startswith("spacy.pipeline")
    if component == "ner":
        assert section["model"]["@architectures"] == "spacy.TransitionBasedParser.v2"


def test_spacy_baseline_rejects_unknown_factory():
    config = load_config(str(CONFIGS["ner"]))
    with pytest.raises(ValueError, match="factory"):
        spacy_baseline(config, "tok2vec")


def test_train_speed_removes_eval_time():
    records = [
        {"step": 0, "words": 10, "seconds": 1.0, "dev_words_per_s": 1000.0},
        {"step": 10, "words": 1010, "seconds": 3.0, "dev_words_per_s": 1000.0},
    ]
    # 1000 words in 2 s, of which 1 s evaluating 1000 dev words
    wps, seconds = train_speed(records, dev_words=1000)
    assert wps == pytest.approx(1000.0) and seconds == pytest.approx(1.0)
    assert train_speed(records[:1], 1000) == (None, None)


def test_headline_scores():
    scores, per_type = headline_scores({"ents_p": 0.5, "ents_r": 0.25, "ents_f": 1 / 3,
                                  "ents_per_type": {"PER": {"p": 1, "r": 1, "f": 1.0}}})
    assert scores == {"p": 0.5, "r": 0.25, "f": pytest.approx(1 / 3)}
    assert per_type == {"PER": 1.0}
    scores, _ = headline_scores({"pos_acc": 0.9, "tag_acc": None})
    assert scores == {"pos_acc": 0.9}


def _synthetic_ner(path: Path, n: int) -> None:
    nlp = spacy.blank("en")
    names = ["Alice", "Bob", "Carol", "Dave"]
    places = ["Paris", "Berlin", "Rome", "Oslo"]
    docs = []
    for i in range(n):
        who, where = names[i % 4], places[(i // 4) % 4]
        words = [who, "flew", "to", where, "on", "Monday", "."]
        doc = Doc(nlp.vocab, words=words)
        doc.ents = [Span(doc, 0, 1, label="PER"), Span(doc, 3, 4, label="LOC")]
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)


@pytest.mark.slow
def test_run_training_tiny(tmp_path):
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    _synthetic_ner(train, 32)
    _synthetic_ner(dev, 8)
    config = with_loss(load_config(str(CONFIGS["ner"])), "ner", "dsc")
    config["components"]["tok2vec"]["model"]["encode"]["width"] = 16
    config["components"]["tok2vec"]["model"]["encode"]["depth"] = 1
    result = run_training(config, tmp_path / "run", train_path=train, dev_path=dev,
                          test_path=dev, max_steps=10, eval_frequency=5, quiet=True)
    assert isinstance(result, RunResult)
    assert result.name == "dsc" and result.component == "ner" and result.factory == "dice_ner"
    assert result.loss == LOSS_PRESETS["dsc"]
    assert [step for step, _ in result.dev_curve] == [0, 5, 10]
    assert set(result.scores) == {"p", "r", "f"}
    assert all(0.0 <= v <= 1.0 for v in result.scores.values())
    assert result.train_words_per_s and result.train_words_per_s > 0
    assert result.predict_words_per_s and result.predict_words_per_s > 0
    out = tmp_path / "run"
    for name in ("config.cfg", "train.log", "train_log.jsonl", "metrics.json", "result.json"):
        assert (out / name).exists(), name
    assert (out / "model-best").is_dir()
    saved = Config().from_disk(out / "config.cfg", interpolate=False)
    assert saved["components"]["ner"]["loss"] == LOSS_PRESETS["dsc"]
    assert json.loads((out / "result.json").read_text())["name"] == "dsc"
