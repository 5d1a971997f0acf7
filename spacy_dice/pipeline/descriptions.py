"""What the tools need to know about a component, declared once per factory.

``calibrate`` (:mod:`spacy_dice.decisions.calibration`), ``evaluate-table``
(:mod:`spacy_dice.evaluation.confidences`), ``debug-data`` (:mod:`spacy_dice.evaluation.imbalance`),
``init-config`` (:mod:`spacy_dice.init_config`), the spaCy baselines of the presets
(:func:`spacy_dice.training.config_rewrites.spacy_baseline`) and the reload matrix
(``tests/test_reload_matrix.py``) read a component's :class:`ComponentDescription`, found by its
factory name with :func:`describe`; none of them guesses from the component's attributes or keeps
its own list of factory names.

* Our components declare theirs in their own module: ``@dice_factory(name, ...,
  description=ComponentDescription(...))`` (:func:`spacy_dice.pipeline.base.dice_factory`)
  registers it with the factory.
* spaCy's own components (``ner``, ``beam_ner``, ``tagger``, ``morphologizer``, ``textcat``,
  ``textcat_multilabel``, ``spancat``, ``spancat_singlelabel``, ``span_finder``, and ``tok2vec`` /
  ``transformer`` / ``curated_transformer``, which predict nothing of their own) are described in
  :data:`SPACY_DESCRIPTIONS` below.
* Any other component: :func:`register_description` where its factory is registered.

A description says what the component predicts (its *task*, one of :data:`TASKS`), and from it:

========================= ===================== ============= ================ ==================
task                      score key             decisions     confidences      statistics
========================= ===================== ============= ================ ==================
``token tags``            ``{attr}_acc``        label_bias    top-label        ``tagger``
``entities``              ``ents_f``            label_bias    top-label        ``ner``
``words``                 ``pos_f``             label_bias    top-label        ``words``
``exclusive cats``        ``cats_score``        label_bias    top-label        ``textcat``
``multi-label cats``      ``cats_score``        threshold     binary           ``textcat``
``multi-label spans``     ``spans_{key}_f``     thresholds,   binary           ``spans``
                                                threshold
``single-label spans``    ``spans_{key}_f``     label_bias    top-label        ``spans``
``span candidates``       ``spans_{key}_f``     thresholds,   binary           ``span_finder``
                                                threshold
``features``              (none)                (none)        (none)           (none)
========================= ===================== ============= ================ ==================

``decision`` is the setting ``calibrate`` searches and stores: ``label_bias`` and ``thresholds``
go through the component's ``set_decisions`` (:mod:`.decision_settings`); ``threshold`` is one
global value written to ``cfg["threshold"]`` (spaCy's components). ``None`` with
``decision_note`` saying why: ``calibrate`` then lists the component as not calibrated, with that
reason. Likewise ``confidences = None`` with ``confidences_note`` (``evaluate-table`` lists it
with the reason) and ``statistics = None`` with ``statistics_note`` (``debug-data`` lists it as
not covered; :func:`spacy_dice.evaluation.imbalance.not_covered_reason` gives the reason).

What each tool then needs of the component itself (spaCy's components and ours have it):
``predict(docs)`` giving decision-free scores and ``set_annotations(docs, scores)`` applying the
current decision setting; token tags: ``labels`` (one column each); entities: ``dice_ner``'s
BILUO ``class_names``, ``gold_ids`` and, with a label bias, ``biased_log_probs``; words: the same
as entities, with ``cfg["words_key"]`` (the gold words' ``doc.spans`` key); exclusive cats
with a label bias: ``biased_scores``; spans: spaCy's span categorizer (``suggester``, ``key``);
span candidates: spaCy's span finder (``cfg["spans_key"]``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from .decision_settings import LABEL_BIAS, THRESHOLDS

THRESHOLD = "threshold"
"""A decision setting: one global threshold in ``cfg["threshold"]`` (spaCy's components)."""

# --- tasks: what a component predicts --------------------------------------------------------------
TOKEN_TAGS = "token tags"
ENTITIES = "entities"
WORDS = "words"
"""Words over character tokens (joint segmentation + POS, ``dice_seg_tagger``): one BILU tag per
character, a word per ``U-X`` or ``B-X ... L-X`` run, written as one token with its POS; gold in
``doc.spans[words_key]``."""
EXCLUSIVE_CATS = "exclusive cats"
MULTILABEL_CATS = "multi-label cats"
MULTILABEL_SPANS = "multi-label spans"
SINGLELABEL_SPANS = "single-label spans"
SPAN_CANDIDATES = "span candidates"
FEATURES = "features"
"""Predicts nothing of its own (``tok2vec``, ``transformer``): every tool passes it by quietly."""
SPAN_TASKS = (MULTILABEL_SPANS, SINGLELABEL_SPANS, SPAN_CANDIDATES)
"""The tasks whose components write ``doc.spans[spans_key]``."""

# --- confidence kinds (evaluate-table) -------------------------------------------------------------
TOP_LABEL = "top-label"
"""One class per item: the probability of the predicted class, correct when it is the gold one."""
BINARY = "binary"
"""Independent yes/no columns: each column's probability, correct when its gold is 1."""

# --- statistics kinds (debug-data: ComponentStats.task) ------------------------------------------
TAG_STATISTICS = "tagger"
ENTITY_STATISTICS = "ner"
WORD_STATISTICS = "words"
CATS_STATISTICS = "textcat"
SPAN_STATISTICS = "spans"
BOUNDARY_STATISTICS = "span_finder"


@dataclass(frozen=True)
class _Task:
    score_key: str
    decisions: Tuple[str, ...]
    confidences: Optional[str]
    statistics: Optional[str]


_TASKS: Dict[str, _Task] = {
    TOKEN_TAGS: _Task("{attr}_acc", (LABEL_BIAS,), TOP_LABEL, TAG_STATISTICS),
    ENTITIES: _Task("ents_f", (LABEL_BIAS,), TOP_LABEL, ENTITY_STATISTICS),
    WORDS: _Task("pos_f", (LABEL_BIAS,), TOP_LABEL, WORD_STATISTICS),
    EXCLUSIVE_CATS: _Task("cats_score", (LABEL_BIAS,), TOP_LABEL, CATS_STATISTICS),
    MULTILABEL_CATS: _Task("cats_score", (THRESHOLD,), BINARY, CATS_STATISTICS),
    MULTILABEL_SPANS: _Task("spans_{spans_key}_f", (THRESHOLDS, THRESHOLD), BINARY, SPAN_STATISTICS),
    SINGLELABEL_SPANS: _Task("spans_{spans_key}_f", (LABEL_BIAS,), TOP_LABEL, SPAN_STATISTICS),
    SPAN_CANDIDATES: _Task("spans_{spans_key}_f", (THRESHOLDS, THRESHOLD), BINARY, BOUNDARY_STATISTICS),
    FEATURES: _Task("", (), None, None),
}
TASKS: Tuple[str, ...] = tuple(_TASKS)
"""Every task kind a description may name."""

DEFAULT_SPANS_KEY = "sc"
_BY_TASK = ""


class UndescribedComponentError(ValueError):
    """A factory without a :class:`ComponentDescription`: the message says how to declare one and
    lists the described factories; ``reason`` is the message without the list (what a tool that
    passes the component by reports)."""

    def __init__(self, factory: str, reason: str, described: Sequence[str]) -> None:
        super().__init__(f"{reason} Described factories: {', '.join(described)}")
        self.factory, self.reason = factory, reason


@dataclass(frozen=True)
class ComponentDescription:
    """What the tools need to know about the components of one factory.

    Attributes:
        task: what it predicts, one of :data:`TASKS`.
        decision: the decision setting ``calibrate`` searches (``"label_bias"``,
            ``"thresholds"``, ``"threshold"``: one global value) or ``None``.
        decision_note: with no decision, why (``calibrate`` reports it); with a decision that is
            searched as one global value, why (``"one threshold for start and end"``).
        confidences: ``"top-label"``, ``"binary"`` or ``None`` (``evaluate-table``); default: the
            task's (table above).
        confidences_note: with no confidences, why (``evaluate-table`` reports it).
        statistics: the ``debug-data`` statistics (``ComponentStats.task``) or ``None``;
            default: the task's.
        statistics_note: with no statistics, why (``debug-data`` lists it as not covered).
        attr: token tags: the token attribute it tags (``"tag"``, ``"pos"``).
        attr_setting: the component setting that chooses ``attr`` (``dice_tagger``: ``"attr"``).
        score_key: its score's key in ``[training.score_weights]`` (``{attr}`` and
            ``{spans_key}`` are filled from the component's settings); default: the task's.
        decision_score_key: the score ``calibrate`` searches for, where it is not ``score_key``
            (``textcat_multilabel``: ``cats_micro_f``, as no threshold moves its AUC).
        spacy_counterpart: spaCy's own factory for the same task (``spacy_baseline``), or a
            mapping from the value of ``attr_setting`` to it.
        predicts: what it predicts, in words (``init-config``'s comments).
        gold: what its training docs must hold, in words (``init-config``'s comments).
        factory: the factory name (set by :func:`register_description`).
        dice: a spacy-dice component (registered by ``dice_factory``).
    """

    task: str
    decision: Optional[str] = None
    decision_note: str = ""
    confidences: Optional[str] = _BY_TASK
    confidences_note: str = ""
    statistics: Optional[str] = _BY_TASK
    statistics_note: str = ""
    attr: str = "tag"
    attr_setting: str = ""
    score_key: str = _BY_TASK
    decision_score_key: str = ""
    spacy_counterpart: Union[None, str, Mapping[str, str]] = None
    predicts: str = ""
    gold: str = ""
    factory: str = ""
    dice: bool = False

    def __post_init__(self) -> None:
        where = f"the description of {self.factory!r}" if self.factory else "a component description"
        if self.task not in _TASKS:
            raise ValueError(f"{where}: task {self.task!r} is not known; use one of {', '.join(TASKS)}")
        task = _TASKS[self.task]
        for name, default in (("confidences", task.confidences), ("statistics", task.statistics),
                              ("score_key", task.score_key)):
            if getattr(self, name) == _BY_TASK:
                object.__setattr__(self, name, default)
        if self.decision is not None and self.decision not in task.decisions:
            allowed = ", ".join(task.decisions) or "none"
            raise ValueError(
                f"{where}: decision {self.decision!r} is not one calibrate searches for {self.task!r}"
                f" components; use one of: {allowed}, or None with a decision_note saying why"
            )
        if self.confidences not in (task.confidences, None):
            raise ValueError(
                f"{where}: confidences {self.confidences!r} are not what a {self.task!r} component"
                f" gives; use {task.confidences!r}, or None with a confidences_note saying why"
            )
        if self.statistics not in (task.statistics, None):
            raise ValueError(
                f"{where}: statistics {self.statistics!r} do not fit a {self.task!r} component;"
                f" use {task.statistics!r} or None"
            )
        if self.task != FEATURES and self.decision is None and not self.decision_note:
            raise ValueError(f"{where}: no decision setting: say why in decision_note (calibrate reports it)")
        if self.task != FEATURES and self.confidences is None and not self.confidences_note:
            raise ValueError(f"{where}: no confidences: say why in confidences_note (evaluate-table reports it)")
        if self.task != FEATURES and self.statistics is None and not self.statistics_note:
            raise ValueError(f"{where}: no statistics: say why in statistics_note (debug-data reports it)")

    def attr_of(self, settings: Mapping[str, Any]) -> str:
        """The token attribute it tags, given its settings (``pipe.cfg`` or its config block)."""
        if self.attr_setting:
            return str(settings.get(self.attr_setting) or self.attr)
        return self.attr

    def score_key_of(self, settings: Mapping[str, Any]) -> str:
        """Its score's key (``tag_acc``, ``ents_f``, ``spans_sc_f``, ...), given its settings."""
        return self.score_key.format(attr=self.attr_of(settings),
                                     spans_key=settings.get("spans_key") or DEFAULT_SPANS_KEY)

    def decision_score_key_of(self, settings: Mapping[str, Any]) -> str:
        """The score ``calibrate`` searches for (:attr:`decision_score_key`, else the score key)."""
        return self.decision_score_key or self.score_key_of(settings)

    def counterpart_of(self, settings: Mapping[str, Any]) -> Optional[str]:
        """spaCy's factory for the same task, given its settings (``None``: none is known)."""
        if self.spacy_counterpart is None or isinstance(self.spacy_counterpart, str):
            return self.spacy_counterpart
        return self.spacy_counterpart.get(self.attr_of(settings))


_REGISTRY: Dict[str, ComponentDescription] = {}


def register_description(factory: str, description: ComponentDescription) -> ComponentDescription:
    """Register ``description`` as the description of ``factory`` (replacing an earlier one);
    returns it, with its ``factory`` set."""
    if not isinstance(factory, str) or not factory:
        raise ValueError(f"register_description: factory must be a factory name, not {factory!r}")
    if not isinstance(description, ComponentDescription):
        raise TypeError(
            f"register_description({factory!r}, ...): expected a ComponentDescription, not"
            f" {type(description).__name__}"
        )
    described = replace(description, factory=factory)
    _REGISTRY[factory] = described
    return described


def descriptions() -> Dict[str, ComponentDescription]:
    """Every registered description, by factory name (a copy)."""
    return dict(_REGISTRY)


def describe(factory: str) -> ComponentDescription:
    """The description of ``factory``.

    A factory registered through an entry point is loaded first, so the description its module
    declares is found.

    Raises:
        UndescribedComponentError: ``factory`` has none; the message names the factory, how to
            declare one, and the factories that have one.
    """
    if factory not in _REGISTRY:
        from spacy.language import Language

        Language.has_factory(factory)  # loads the factory's entry point, if it has one
    if factory not in _REGISTRY:
        raise UndescribedComponentError(
            factory,
            f"factory {factory!r} has no component description, so calibrate, debug-data and"
            " evaluate-table do not know what it predicts. Declare one where the factory is"
            " registered: @dice_factory(..., description=ComponentDescription(task, ...)) for a"
            " dice component, else spacy_dice.pipeline.descriptions.register_description("
            f"{factory!r}, ComponentDescription(task, ...)) (docs/ARCHITECTURE.md, \"Adding a"
            " component\").",
            sorted(_REGISTRY),
        )
    return _REGISTRY[factory]


SPACY_DESCRIPTIONS: Dict[str, ComponentDescription] = {
    "ner": ComponentDescription(
        ENTITIES,
        decision_note="spaCy's transition-based ner has no decision setting; dice_ner has label_bias",
        confidences=None, confidences_note="spaCy's transition-based ner gives no probabilities",
    ),
    "beam_ner": ComponentDescription(
        ENTITIES,
        decision_note="spaCy's beam_ner has no decision setting; dice_ner has label_bias",
        confidences=None, confidences_note="beam search scores are not collected",
    ),
    "tagger": ComponentDescription(
        TOKEN_TAGS, attr="tag",
        decision_note="spaCy's tagger has no decision setting; dice_tagger has label_bias",
    ),
    "morphologizer": ComponentDescription(
        TOKEN_TAGS, attr="pos",
        decision_note="spaCy's morphologizer has no decision setting; dice_tagger (attr = \"pos\")"
        " has label_bias",
        confidences=None,
        confidences_note="its classes join the POS tag and the morphological features: no"
        " confidence per token.pos_ is collected",
    ),
    "textcat": ComponentDescription(
        EXCLUSIVE_CATS,
        decision_note="spaCy's exclusive textcat ignores its threshold (the argmax decides), so no"
        " decision can be stored; dice_textcat has label_bias",
    ),
    "textcat_multilabel": ComponentDescription(
        MULTILABEL_CATS, decision=THRESHOLD,
        decision_note="global only: spaCy's textcat_multilabel stores one threshold",
        decision_score_key="cats_micro_f",
    ),
    "spancat": ComponentDescription(
        MULTILABEL_SPANS, decision=THRESHOLD,
        decision_note="global only: spaCy's spancat stores one threshold",
    ),
    "spancat_singlelabel": ComponentDescription(
        SINGLELABEL_SPANS,
        decision_note="spaCy's spancat_singlelabel has no per-label setting to store;"
        " dice_spancat_singlelabel has label_bias",
    ),
    "span_finder": ComponentDescription(
        SPAN_CANDIDATES, decision=THRESHOLD, decision_note="one threshold for start and end",
    ),
    # no predictions of their own: passed by quietly (calibrate: "no decision setting")
    "tok2vec": ComponentDescription(FEATURES, decision_note="no decision setting"),
    "transformer": ComponentDescription(FEATURES, decision_note="no decision setting"),
    "curated_transformer": ComponentDescription(FEATURES, decision_note="no decision setting"),
}
"""spaCy's own components, by factory name (registered when this module is imported)."""

for _factory, _description in SPACY_DESCRIPTIONS.items():
    SPACY_DESCRIPTIONS[_factory] = register_description(_factory, _description)
