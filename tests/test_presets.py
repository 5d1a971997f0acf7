"""One table of loss presets (``spacy_dice/losses/presets.py``): a name means one loss for a
softmax component and one for a sigmoid component, in ``init-config``, ``project-config``,
``with_loss``, the shipped defaults and the recorded benchmarks alike."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest
from thinc.api import Config, registry

from spacy_dice.project import project_config as project_build_config
from spacy_dice.training.config_rewrites import (
    LOSS_PRESETS,
    SPAN_LOSS_PRESETS,
    factory_activation,
    load_config,
    spacy_span_baseline,
    with_loss,
)
from spacy_dice.init_config import build_config as init_build_config
from spacy_dice.init_config import generate_config
from spacy_dice.init_config.components import COMPONENTS
from spacy_dice.losses.presets import PRESETS, block_activation, loss_block, preset_names
from spacy_dice.pipeline import default_losses

ROOT = Path(__file__).resolve().parent.parent
ACTIVATION = {
    "ner": "softmax", "tagger": "softmax", "pos": "softmax", "textcat": "softmax",
    "spancat_singlelabel": "softmax", "spancat": "sigmoid", "span_finder": "sigmoid",
    "seg_tagger": "softmax",
}
"""Every ``init-config`` component and the form of preset it takes."""
# project-config: (data set, task) and the components it gives the loss; dice_spancat_singlelabel
# has no template config, so its loss is set by spacy_span_baseline on the spancat config
PROJECT = {
    "ner": ("sample", "auto", ["ner"]),
    "tagger": ("ud_ewt", "auto", ["tagger"]),
    "pos": ("ud_ewt", "auto", ["tagger"]),
    "textcat": ("mrpc", "auto", ["textcat"]),
    "spancat": ("sample", "spans", ["spancat"]),
    "span_finder": ("sample", "spans_finder", ["span_finder", "spancat"]),
    "seg_tagger": ("ud_zh", "auto", ["seg_tagger"]),
}
GENERAL = ("ce", "wce", "focal", "dl", "dsc", "tversky", "combined", "logdice", "ce_then_dsc")
SPAN_NAMES = ("bce", "wbce", "focal_sig", "dl_inst", "dsc_inst", "dl_set", "dsc_set",
              "tversky_set", "bce_dsc", "logdice_set", "bce_then_dsc")


def expected(name: str, activation: str):
    """The table's block, or None where the name has no form for ``activation``."""
    return PRESETS[name].block(activation)


def filled(block: Dict[str, Any]) -> Dict[str, Any]:
    """``block`` with the defaults thinc's registry adds (what ``init-config``'s fill writes)."""
    return registry.fill({"loss": block}, validate=True)["loss"]


def test_component_kinds_are_all_covered():
    assert set(ACTIVATION) == set(COMPONENTS)
    for name, activation in ACTIVATION.items():
        assert factory_activation(COMPONENTS[name].factory) == activation, name


def test_names_and_groups():
    assert preset_names(general=True) == GENERAL
    assert preset_names(general=False) == SPAN_NAMES
    assert tuple(LOSS_PRESETS) == GENERAL and tuple(SPAN_LOSS_PRESETS) == SPAN_NAMES
    assert preset_names("sigmoid") == tuple(PRESETS)
    # the binary names are sigmoid only; the level names take either form
    assert set(preset_names()) - set(preset_names("softmax")) == {
        "bce", "wbce", "focal_sig", "bce_dsc", "bce_then_dsc"}


def test_dice_names_are_set_level_for_sigmoid_components():
    """The paper's form for binary decisions: set level; its form for tags / texts: instance."""
    for name, level_name in (("dl", "dl_set"), ("dsc", "dsc_set"), ("tversky", "tversky_set"),
                             ("logdice", "logdice_set")):
        sig = loss_block(name, "sigmoid")
        assert sig["level"] == "set" and sig["activation"] == "sigmoid"
        assert sig == loss_block(level_name, "sigmoid")
    for name in ("dl", "dsc", "tversky"):
        assert loss_block(name, "softmax")["level"] == "instance"
    for name, binary in (("ce", "bce"), ("wce", "wbce"), ("focal", "focal_sig"),
                         ("combined", "bce_dsc"), ("ce_then_dsc", "bce_then_dsc")):
        assert loss_block(name, "sigmoid") == loss_block(binary, "sigmoid")
    for name in ("combined", "ce_then_dsc"):
        assert loss_block(name, "sigmoid")["losses"]["dsc"]["level"] == "set"
        assert loss_block(name, "softmax")["losses"]["dsc"]["level"] == "instance"


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_every_block_resolves_to_a_loss_on_its_activation(name, activation):
    block = expected(name, activation)
    if block is None:
        with pytest.raises(ValueError, match=f"has no {activation} form"):
            loss_block(name, activation)
        return
    assert block_activation(block) == activation
    loss = registry.resolve({"loss": loss_block(name, activation)})["loss"]
    assert loss.activation == activation
    for sub in getattr(loss, "losses", {}).values():
        assert sub.activation == activation


@pytest.mark.parametrize("component", list(ACTIVATION))
def test_init_config_and_project_config_agree(component):
    """Every name: the block init-config writes == the one project-config writes == the table's
    (the same name on a component that has no form for it is refused by both)."""
    activation = ACTIVATION[component]
    for name in PRESETS:
        block = expected(name, activation)
        if block is None:
            with pytest.raises(ValueError, match=f"--loss {name!r} for {component}: .*has no {activation} form"):
                init_build_config([component], loss=name)
        else:
            written = init_build_config([component], loss=name)["components"][component]["loss"]
            assert written == block, name
        if component == "spancat_singlelabel":
            config = load_config(str(ROOT / "configs" / "spancat_cnn.cfg"))
            if block is None:
                with pytest.raises(ValueError, match="has no softmax form"):
                    spacy_span_baseline(config, "spancat", "dice_spancat_singlelabel", loss=name)
            else:
                swapped = spacy_span_baseline(config, "spancat", "dice_spancat_singlelabel", loss=name)
                assert swapped["components"]["spancat"]["loss"] == block, name
            continue
        dataset, task, names = PROJECT[component]
        if block is None:
            with pytest.raises(ValueError, match=f"has no {activation} form"):
                project_build_config(dataset, "cnn", name, configs_dir=ROOT / "configs", task=task)
            continue
        config, _ = project_build_config(dataset, "cnn", name, configs_dir=ROOT / "configs", task=task)
        for comp in names:
            assert config["components"][comp]["loss"] == block, (name, comp)


@pytest.mark.parametrize("component", list(ACTIVATION))
def test_init_config_writes_the_filled_block(component):
    """The written config is complete (spaCy's fill): the table's block plus thinc's defaults."""
    for name in ("ce_then_dsc", "dsc"):
        text = generate_config([component], loss=name)
        written = Config().from_str(text, interpolate=False)["components"][component]["loss"]
        assert written == filled(loss_block(name, ACTIVATION[component])), name
        assert f"# The loss: the '{name}' preset." in text


def test_with_loss_follows_the_factory():
    spans = load_config(str(ROOT / "configs" / "spans_cnn.cfg"))
    for comp in ("span_finder", "spancat"):
        assert with_loss(spans, comp, "dsc")["components"][comp]["loss"] == loss_block("dsc_set", "sigmoid")
    ner = load_config(str(ROOT / "configs" / "ner_cnn.cfg"))
    assert with_loss(ner, "ner", "dsc_set")["components"]["ner"]["loss"] == loss_block("dsc_set", "softmax")
    with pytest.raises(ValueError, match="'bce' has no softmax form.*use 'ce'"):
        with_loss(ner, "ner", "bce")


def test_errors_list_what_is_allowed():
    with pytest.raises(ValueError, match="unknown loss preset 'nope': expected one of ce, wce"):
        loss_block("nope")
    with pytest.raises(ValueError, match="unknown activation 'relu'; expected one of softmax, sigmoid"):
        loss_block("ce", "relu")
    with pytest.raises(ValueError, match="Presets with a softmax form: ce, wce"):
        loss_block("bce_then_dsc", "softmax")
    # no activation: the name's own form
    assert loss_block("dsc") == LOSS_PRESETS["dsc"] and loss_block("bce") == SPAN_LOSS_PRESETS["bce"]
    assert loss_block("dsc", "softmax", alpha=0.1)["alpha"] == 0.1 and LOSS_PRESETS["dsc"]["alpha"] == 0.01


def test_defaults_are_table_entries():
    assert default_losses.CE_LOSS == loss_block("ce", "softmax")
    assert default_losses.BCE_LOSS == loss_block("ce", "sigmoid") == loss_block("bce")
    assert default_losses.DSC_LOSS == loss_block("dsc", "softmax")


def test_recorded_benchmark_runs_keep_their_preset_names():
    """A run recorded under a preset name used that preset's block in its component's form."""
    checked = 0
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        if path.stem.endswith("_decisions"):
            continue  # scoring records; test_decision_records_point_at_recorded_runs checks them
        data = json.loads(path.read_text())
        runs = data.get("runs") if isinstance(data, dict) else None
        for run in runs if isinstance(runs, list) else []:
            if not isinstance(run, dict) or run.get("name") not in PRESETS:
                continue
            if not str(run.get("factory", "")).startswith("dice_"):
                continue
            activation = factory_activation(run["factory"])
            assert run["loss"] == loss_block(run["name"], activation), (path.name, run["name"])
            checked += 1
    assert checked > 0


def test_decision_records_point_at_recorded_runs():
    """Each model scored in STEM_decisions.json is a dice run recorded, with its loss, in STEM.json."""
    checked = 0
    for path in sorted((ROOT / "benchmarks" / "results").glob("*_decisions.json")):
        source = path.with_name(path.name.replace("_decisions.json", ".json"))
        assert source.exists(), f"{path.name} scores models of {source.name}, which is missing"
        trained = {
            (run["name"], run["seed"]): run
            for run in json.loads(source.read_text())["runs"]
            if isinstance(run, dict) and "seed" in run
        }
        for run in json.loads(path.read_text())["runs"]:
            if not str(run.get("factory", "")).startswith("dice_"):
                continue
            key = (run["name"], run["seed"])
            assert key in trained, (path.name, key)
            assert trained[key]["factory"] == run["factory"] and "loss" in trained[key], (path.name, key)
            checked += 1
    assert checked > 0


def test_the_shipped_transformer_config_trains_the_benchmarked_ce_then_dsc():
    """configs/ner_trf.cfg ships the loss that won on MiniLM, exactly as benchmarked."""
    shipped = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", interpolate=False)["components"]["ner"]["loss"]
    assert shipped == loss_block("ce_then_dsc", "softmax")
    runs = json.loads((ROOT / "benchmarks" / "results" / "uner_trf_es_calib.json").read_text())["runs"]
    assert [run["loss"] for run in runs if run["name"] == "ce_then_dsc"] == [shipped] * 3
