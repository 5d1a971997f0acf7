"""docs/ARCHITECTURE.md's "Adding a component" recipe holds: a component is its own module (class,
factory, description), the package import and its entry point, and every tool reads what it needs
from the description.

Toy components (tests/toy_component.py, imported only inside the tests) are added that way, and
calibrate (:func:`spacy_dice.decisions.calibration`), debug-data
(:func:`spacy_dice.evaluation.imbalance.component_stats`), evaluate-table
(:func:`spacy_dice.evaluation.confidences.collect_confidences`) and init-config handle the one
whose description says what they need, and refuse by name, with the reason, the one whose
description says it has none, and the one without a description (saying how to describe it).
"""
import ast
import configparser
import importlib
import re
from pathlib import Path
from typing import Any, List, Tuple

import pytest
import spacy
from spacy.util import registry
from synthetic import SMALL_TAGGER_MODEL, tagger_examples

from spacy_dice.pipeline.descriptions import (
    BINARY,
    ENTITIES,
    FEATURES,
    LABEL_BIAS,
    MULTILABEL_SPANS,
    THRESHOLD,
    TOKEN_TAGS,
    ComponentDescription,
    UndescribedComponentError,
    describe,
    descriptions,
)

ROOT = Path(__file__).resolve().parent.parent

# the modules that read descriptions instead of keeping their own lists of factories
CONSUMERS = [
    "spacy_dice/decisions/calibration.py",
    "spacy_dice/evaluation/confidences.py",
    "spacy_dice/evaluation/imbalance.py",
    "spacy_dice/training/config_rewrites.py",
]


def packaged() -> List[str]:
    """The dice factories of the package (registered by ``dice_factory`` in ``spacy_dice``)."""
    return sorted(f for f, d in descriptions().items()
                  if d.dice and registry.factories.get(f).__module__.startswith("spacy_dice."))


def toy_pipeline(*extra: str, steps: int = 3) -> Tuple[Any, List[Any]]:
    """``toy_dice_tagger`` (trained ``steps`` full-batch updates) followed by the ``extra``
    components, and its examples."""
    from conftest import train
    from toy_component import TOY

    nlp = spacy.blank("en")
    nlp.add_pipe(TOY, name="toy", config={"model": SMALL_TAGGER_MODEL})
    for factory in extra:
        nlp.add_pipe(factory, name=factory)
    examples = tagger_examples(nlp, "tag", 30)
    train(nlp, examples, steps)
    return nlp, examples


# --- the recipe: three places ------------------------------------------------------------------------
def test_every_packaged_component_is_in_the_three_places_and_nowhere_else():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    entry_points = {}
    for line in setup["options.entry_points"]["spacy_factories"].strip().splitlines():
        name, target = (part.strip() for part in line.split("="))
        entry_points[name] = target
    package_init = (ROOT / "spacy_dice" / "pipeline" / "__init__.py").read_text(encoding="utf8")
    factories = packaged()
    assert len(factories) == 7
    assert set(entry_points) == set(factories), "every dice component needs a spacy_factories entry point"
    for factory in factories:
        func = registry.factories.get(factory)
        module = func.__module__
        # 1. its own module holds the factory (and so the description dice_factory registered)
        assert entry_points[factory] == f"{module}:{func.__name__}"
        # 2. the package import
        assert re.search(rf"^from \.{module.rsplit('.', 1)[1]} import", package_init, re.M), module
    # nowhere else: no consumer names a dice factory in its code (docstrings aside)
    for path in CONSUMERS:
        tree = ast.parse((ROOT / path).read_text(encoding="utf8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        named = sorted({node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                        and id(node) not in docstrings and node.value in factories})
        assert not named, f"{path} names the factories {named}: read their descriptions instead"


def test_the_architecture_doc_states_the_recipe():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf8")
    section = doc[doc.index("## Adding a component"):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    assert "(three files)" in section and "fourth" not in section
    for place in ("`spacy_dice/pipeline/<name>.py`", "description=ComponentDescription(",
                  "`spacy_dice/pipeline/__init__.py`", "`setup.cfg`", "`spacy_factories`"):
        assert place in section, place
    for reader in CONSUMERS + ["spacy_dice/init_config/components.py", "tests/test_reload_matrix.py"]:
        assert f"`{reader}`" in section, reader


def test_the_toy_is_registered_by_its_module_alone():
    toy = importlib.import_module("toy_component")
    for factory in (toy.TOY, toy.RULE):
        assert registry.factories.get(factory).__module__ == "toy_component"
        assert describe(factory).factory == factory
    assert describe(toy.TOY).dice and not describe(toy.RULE).dice
    # init-config: the new dice component is available under its factory name, no entry needed
    from spacy_dice.init_config import available, generate_config

    assert toy.TOY in available()
    config = generate_config([toy.TOY])
    assert f"factory = \"{toy.TOY}\"" in config and "token.tag_ (a toy)" in config


def test_our_descriptions_agree_with_the_components():
    for factory in packaged():
        description = describe(factory)
        pipe = spacy.blank("en").add_pipe(factory)
        assert pipe.decision_setting == description.decision, factory
        assert description.predicts and description.gold and description.spacy_counterpart, factory
    for factory in ("ner", "tagger", "textcat", "textcat_multilabel", "spancat", "spancat_singlelabel",
                    "span_finder", "morphologizer", "beam_ner", "tok2vec"):
        assert describe(factory).factory == factory and not describe(factory).dice


# --- the tools handle the toy ------------------------------------------------------------------------
def test_calibrate_debug_data_and_evaluate_table_handle_a_described_component():
    from spacy_dice.decisions import calibrate
    from spacy_dice.evaluation.confidences import collect_confidences
    from spacy_dice.evaluation.imbalance import component_stats, not_covered_reason
    from toy_component import TOY

    nlp, examples = toy_pipeline()
    calibration = calibrate(nlp, examples, folds=2, min_support=1)
    assert [(r.name, r.factory, r.setting, r.score_key) for r in calibration.results] == [
        ("toy", TOY, LABEL_BIAS, "tag_acc")
    ]
    assert calibration.results[0].objective.startswith("accuracy")
    stats, other = component_stats(nlp, examples, examples[:10])
    assert other == [] and [(s.component, s.factory, s.task) for s in stats] == [("toy", TOY, "tagger")]
    assert stats[0].unit == "tokens (token.tag_)" and not_covered_reason(nlp, "toy") == ""
    collected = collect_confidences(nlp, [eg.copy() for eg in examples])
    assert collected.skipped == {}
    assert [(s.component, s.factory, s.what, s.kind) for s in collected.sets] == [
        ("toy", TOY, "token (tag)", "top-label")
    ]


def test_the_tools_refuse_by_name_a_component_described_without_what_they_need():
    from spacy_dice.decisions import CalibrationError, calibrate
    from spacy_dice.evaluation.confidences import collect_confidences
    from spacy_dice.evaluation.imbalance import component_stats, not_covered_reason
    from toy_component import RULE, RULE_CONFIDENCES_NOTE, RULE_DECISION_NOTE, RULE_STATISTICS_NOTE

    nlp, examples = toy_pipeline(RULE, steps=1)
    calibration = calibrate(nlp, examples, folds=2, min_support=1)
    assert calibration.skipped == {RULE: RULE_DECISION_NOTE}
    _, other = component_stats(nlp, examples, examples[:10])
    assert other == [RULE] and not_covered_reason(nlp, RULE) == RULE_STATISTICS_NOTE
    collected = collect_confidences(nlp, [eg.copy() for eg in examples])
    assert collected.skipped == {RULE: RULE_CONFIDENCES_NOTE}
    with pytest.raises(CalibrationError, match=f"nothing to calibrate.*{RULE} \\({RULE}: {RULE_DECISION_NOTE}\\)"):
        calibrate(nlp, examples, components=[RULE])


def test_the_tools_refuse_by_name_a_component_without_a_description_and_say_how_to_describe_it():
    from spacy_dice.decisions import CalibrationError, calibrate
    from spacy_dice.evaluation.confidences import collect_confidences
    from spacy_dice.evaluation.imbalance import component_stats, not_covered_reason
    from toy_component import UNDESCRIBED

    how = f"factory '{UNDESCRIBED}' has no component description.*register_description"
    with pytest.raises(UndescribedComponentError, match=how + ".*Described factories: .*dice_ner"):
        describe(UNDESCRIBED)
    nlp, examples = toy_pipeline(UNDESCRIBED, steps=1)
    calibration = calibrate(nlp, examples, folds=2, min_support=1)
    assert re.match(how, calibration.skipped[UNDESCRIBED])
    _, other = component_stats(nlp, examples, examples[:10])
    assert other == [UNDESCRIBED] and re.match(how, not_covered_reason(nlp, UNDESCRIBED))
    collected = collect_confidences(nlp, [eg.copy() for eg in examples])
    assert list(collected.skipped) == [UNDESCRIBED] and re.match(how, collected.skipped[UNDESCRIBED])
    with pytest.raises(CalibrationError, match=f"nothing to calibrate.*{UNDESCRIBED} \\({UNDESCRIBED}: " + how):
        calibrate(nlp, examples, components=[UNDESCRIBED])


# --- what a description allows -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"task": "sentences"}, "task 'sentences' is not known; use one of token tags, entities"),
    ({"task": TOKEN_TAGS, "decision": THRESHOLD}, "decision 'threshold' is not one calibrate searches for"
                                                  " 'token tags' components; use one of: label_bias"),
    ({"task": ENTITIES, "confidences": BINARY}, "confidences 'binary' are not what a 'entities' component gives"),
    ({"task": ENTITIES}, "no decision setting: say why in decision_note"),
    ({"task": MULTILABEL_SPANS, "decision": THRESHOLD, "confidences": None}, "say why in confidences_note"),
    ({"task": MULTILABEL_SPANS, "decision": THRESHOLD, "statistics": None}, "say why in statistics_note"),
])
def test_a_description_says_what_is_wrong(kwargs, message):
    task = kwargs.pop("task")
    with pytest.raises(ValueError, match=re.escape(message)):
        ComponentDescription(task, **kwargs)


def test_score_keys_and_counterparts_follow_the_settings():
    tagger = describe("dice_tagger")
    assert tagger.score_key_of({"attr": "pos"}) == "pos_acc" and tagger.score_key_of({}) == "tag_acc"
    assert tagger.counterpart_of({"attr": "pos"}) == "morphologizer" and tagger.counterpart_of({}) == "tagger"
    assert describe("dice_spancat").score_key_of({"spans_key": "ents"}) == "spans_ents_f"
    assert describe("span_finder").score_key_of({}) == "spans_sc_f"
    assert describe("textcat_multilabel").decision_score_key_of({}) == "cats_micro_f"
    assert describe("tok2vec").task == FEATURES and describe("tok2vec").decision_note == "no decision setting"
