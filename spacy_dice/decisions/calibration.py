"""Calibrate a trained pipeline's decisions on a dev set (``python -m spacy_dice calibrate``).

:func:`calibrate` runs the pipeline over the dev docs component by component, and for
each calibratable component predicts ONCE, builds its decision problem from the cached scores
(:mod:`.targets`), fits it (:mod:`.search`: one global value, per-label departures that earn their
place on held-out folds), applies the result, and writes the component's annotations with it, so
the components after it see the calibrated pipeline. A span finder that feeds a span categorizer
is tuned for the categorizer's final F1 (:func:`.search.fit_choice` over a small grid of finder
thresholds, re-running the categorizer on each finder's candidates), then the categorizer.

What is calibrated, and how it is stored, is each component's description
(:class:`spacy_dice.pipeline.descriptions.ComponentDescription`: its task and decision setting);
for the components of spacy-dice and spaCy:

========================== ================ ==================================================
factory                    setting          stored
========================== ================ ==================================================
``dice_spancat``           thresholds       global -> ``threshold``, departures -> ``thresholds``
``dice_span_finder``       threshold        one value for start and end -> ``threshold``
``dice_ner``, ``dice_textcat``, ``dice_spancat_singlelabel``, ``dice_tagger``, ``dice_seg_tagger``
                           label_bias       every label -> ``label_bias`` (global + departures)
``spancat`` (spaCy)        threshold        global only (spaCy has one ``threshold``)
``span_finder`` (spaCy)    threshold        global only
``textcat_multilabel``     threshold        global only, chosen for micro F1 (its
                                            ``cats_score`` is the AUC, which no threshold moves)
========================== ================ ==================================================
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import numpy
from spacy.language import Language
from spacy.training import Example

from ..corpus._docs import SOURCE_DOC
from ..files import read_examples

from .search import (
    BIAS_GRID,
    COARSE_THRESHOLD_GRID,
    CURRENT,
    HOLM,
    THRESHOLD_GRID,
    Choice,
    Fit,
    Objective,
    Problem,
    check_confidence,
    check_correction,
    fit_choice,
    fit_problem,
)
from .targets import (
    Candidates,
    Gold,
    annotation_problem,
    cats_candidates,
    cats_gold,
    multilabel_cats_gold,
    span_candidates,
    span_gold,
    threshold_problem,
    token_gold,
)

DEFAULT_CONFIDENCE = 0.95
"""The bar of a label's departure from the global value: the one-sided confidence that its
cross-fitted gain is beyond the noise of dev (paired bootstrap over the dev docs)."""

DEFAULT_GLOBAL_CONFIDENCE = 0.0
"""The bar of the one global value: 0, adopted when its cross-fitted gain is positive. Chosen on
held-out dev folds (``benchmarks/calibration_rules.py``, docs/BENCHMARKS.md "Which confidence"):
a 0.95 bar for the global value too left most span-threshold gains behind, and on small entity
dev sets it did not protect better."""

DEFAULT_CORRECTION = HOLM
"""How the departures' bars account for testing several labels: ``holm`` (one family, Holm's
step-down at ``confidence``) or ``none`` (each label at ``confidence``)."""

SOURCE, DOC = "source", "doc"
UNITS = (SOURCE, DOC)
"""What the cross-fitting folds and the bootstrap take whole (``unit``): ``source``, the source
document of each dev doc (``doc.user_data["source_doc"]``, written by ``convert``; a dev doc
without one is a unit of its own), or ``doc``, each dev doc alone."""
DEFAULT_UNIT = SOURCE

FINDER_GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7)
"""Span finder thresholds tried (the same value for start and end), each with the span
categorizer re-run on the candidates it proposes."""

class CalibrationError(ValueError):
    """A calibration that cannot run (bad input); the message says what to change."""


@dataclass
class Component:
    """One calibratable component: how to read, search and store its decision."""

    name: str
    factory: str
    pipe: Any
    kind: str  # "span_thresholds", "finder", "label_bias", "cats_thresholds"
    setting: str  # what is stored: "thresholds", "label_bias" or "threshold"
    per_label: bool
    per_label_reason: str = ""
    score_key: str = ""
    native: bool = False
    weight_key: str = ""  # its key in [training.score_weights] (default: score_key)
    task: str = ""  # what it predicts (spacy_dice.pipeline.descriptions.TASKS)
    attr: str = ""  # token tags: the token attribute it tags


@dataclass
class Result:
    """What was done to one component (for the tables and the report)."""

    name: str
    factory: str
    setting: str
    objective: str
    score_key: str
    fit: Optional[Fit] = None
    choice: Optional[Choice] = None
    finder_rows: List[Dict[str, Any]] = field(default_factory=list)
    config: Dict[str, Any] = field(default_factory=dict)  # the keys written to [components.NAME]
    unknown_labels: Dict[str, int] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    value_format: str = "{:.2f}"


@dataclass
class Calibration:
    results: List[Result]
    skipped: Dict[str, str]
    n_docs: int
    options: Dict[str, Any]


# --- which components ------------------------------------------------------------------------------
def describe_component(nlp: Language, name: str) -> Tuple[Optional[Component], str]:
    """``(Component, "")`` for a calibratable component, ``(None, why not)`` otherwise, read from
    the description of its factory (:func:`spacy_dice.pipeline.descriptions.describe`); a factory
    without one is not calibrated, and the reason says how to describe it."""
    from ..pipeline.descriptions import (
        LABEL_BIAS, MULTILABEL_CATS, MULTILABEL_SPANS, SPAN_CANDIDATES, THRESHOLD,
        UndescribedComponentError, describe,
    )

    pipe = nlp.get_pipe(name)
    factory = nlp.get_pipe_meta(name).factory
    try:
        description = describe(factory)
    except UndescribedComponentError as err:
        return None, err.reason
    decision = description.decision
    if decision is None:
        return None, description.decision_note or "no decision setting"
    settings = pipe.cfg
    native = decision == THRESHOLD  # one global cfg["threshold"], no set_decisions
    facts = dict(score_key=description.decision_score_key_of(settings), native=native,
                 weight_key=description.score_key_of(settings), task=description.task,
                 attr=description.attr_of(settings))
    if facts["weight_key"] == facts["score_key"]:
        facts["weight_key"] = ""
    if description.task == SPAN_CANDIDATES:  # one value for start and end, whatever it stores
        return Component(name, factory, pipe, "finder", THRESHOLD, False, description.decision_note,
                         **facts), ""
    per_label, reason = decision != THRESHOLD, description.decision_note
    if decision == LABEL_BIAS:
        kind = "label_bias"
    elif description.task == MULTILABEL_SPANS:
        kind = "span_thresholds"
    elif description.task == MULTILABEL_CATS:
        kind = "cats_thresholds"
    else:  # pragma: no cover - ComponentDescription allows no other decision for a task
        return None, f"calibrate has no search for {decision!r} on {description.task!r} components"
    return Component(name, factory, pipe, kind, decision, per_label, reason if not per_label else "",
                     **facts), ""


def _score_weight(nlp: Language, key: str) -> Optional[float]:
    try:
        weights = nlp.config["training"]["score_weights"]
    except KeyError:
        return None
    if key not in weights:
        return None
    return weights[key] if weights[key] is not None else 0.0


# --- main ----------------------------------------------------------------------------------------
def read_dev(nlp: Language, path: Path) -> List[Example]:
    """The dev examples (predicted docs tokenized by the pipeline, as ``spacy evaluate`` does)."""
    path = Path(path)
    if not path.exists():
        raise CalibrationError(f"dev set {path} does not exist")
    examples = read_examples(path, nlp)
    if not examples:
        raise CalibrationError(f"dev set {path} holds no docs: there is nothing to calibrate on")
    if not any(len(eg.predicted) for eg in examples):
        raise CalibrationError(f"dev set {path} holds only empty docs: there is nothing to calibrate on")
    return examples


def calibrate(
    nlp: Language,
    examples: Sequence[Example],
    *,
    metric: str = "f1",
    min_precision: Union[float, str] = 0.0,
    folds: int = 5,
    seed: int = 0,
    min_support: int = 20,
    components: Optional[Sequence[str]] = None,
    confidence: float = DEFAULT_CONFIDENCE,
    global_confidence: Optional[float] = DEFAULT_GLOBAL_CONFIDENCE,
    correction: str = DEFAULT_CORRECTION,
    unit: str = DEFAULT_UNIT,
) -> Calibration:
    """Calibrate ``nlp``'s decisions on the dev ``examples`` in place (see the module
    docstring): ``metric`` ``f1`` (the pipeline's score) or ``recall`` (keeping ``min_precision``,
    a number in [0, 1] or ``current``); ``folds`` cross-fitting folds of the docs (``seed``); a
    label departs from the global value only with ``min_support`` dev positives; ``components``:
    the names to calibrate (default: every calibratable one). A change (the global value, a
    label's departure) is adopted only when its cross-fitted gain is positive beyond the noise of
    dev: the one-sided ``confidence`` (in [0, 1)) of a paired bootstrap over the dev docs; for
    threshold settings one global threshold on spaCy's ``find-threshold`` grid
    (:data:`.search.COARSE_THRESHOLD_GRID`) is a candidate beside the fine one.
    ``global_confidence``: the bar of the one global value (and of the span finder's joint
    choice), by default 0 (:data:`DEFAULT_GLOBAL_CONFIDENCE`: adopted when its cross-fitted gain is
    positive, as ``find-threshold`` adopts its best value but scored on held-out folds); ``None``:
    ``confidence``'s. ``correction``: ``holm`` (a component's label departures are one family,
    Holm's step-down at ``confidence``) or ``none`` (each label at ``confidence``). ``unit``:
    ``source`` (the folds and the bootstrap take whole source documents, :func:`dev_units`) or
    ``doc`` (each dev doc alone).
    ``confidence=0`` with ``global_confidence`` 0 is the rule before: any
    positive cross-fitted gain, no ``find-threshold`` candidate.
    Returns the :class:`Calibration`
    (per component its settings, ``Result.config``, and the report data, for
    :mod:`.report`). Raises :class:`CalibrationError` naming the parameter at fault, or when
    the pipeline has nothing to calibrate, and ``NoGoldError`` when the dev docs lack a
    component's gold."""
    if metric not in ("f1", "recall"):
        raise CalibrationError(f"metric={metric!r}: use f1 or recall")
    min_precision = parse_min_precision(min_precision)
    confidence = parse_confidence(confidence)
    global_confidence = confidence if global_confidence is None else parse_confidence(global_confidence,
                                                                                      "global_confidence")
    correction = parse_correction(correction)
    unit = parse_unit(unit)
    if not examples:
        raise CalibrationError("the dev set holds no docs: there is nothing to calibrate on")
    plans: Dict[str, Component] = {}
    skipped: Dict[str, str] = {}
    for name in nlp.pipe_names:
        plan, why = describe_component(nlp, name)
        if components is not None and name not in components:
            if plan is not None:
                skipped[name] = "not among the components asked for"
            continue
        if plan is None:
            skipped[name] = why
            continue
        key = plan.weight_key or plan.score_key
        weight = _score_weight(nlp, key)
        if weight is not None and weight == 0 and plan.kind != "finder":
            skipped[name] = f"its score {key} has weight 0 in [training.score_weights]"
            continue
        plans[name] = plan
    if components is not None:
        unknown = [c for c in components if c not in nlp.pipe_names]
        if unknown:
            raise CalibrationError(
                f"components={list(unknown)!r}: not in the pipeline ({', '.join(nlp.pipe_names)})"
            )
    if not plans:
        from ..pipeline.descriptions import descriptions

        listing = ", ".join(f"{n} ({nlp.get_pipe_meta(n).factory}: {skipped.get(n, '')})" for n in nlp.pipe_names)
        calibratable = [f for f, d in descriptions().items() if d.decision is not None]
        raise CalibrationError(
            "the pipeline has nothing to calibrate: its components are "
            + (listing or "none")
            + ". Calibratable factories (a decision setting in their description): "
            + ", ".join(calibratable)
        )
    options = dict(metric=metric, min_precision=min_precision, folds=folds, seed=seed, min_support=min_support,
                   confidence=confidence, global_confidence=global_confidence, correction=correction,
                   unit=unit)
    units = dev_units(examples) if unit == SOURCE else None
    options["source_docs"] = None if units is None else int(units.max()) + 1
    stored = dict(options)
    options["units"] = units  # for the search only, not the report
    docs = [eg.predicted for eg in examples]
    results: List[Result] = []
    pending: Dict[str, Tuple[Any, Candidates, Dict[str, Any]]] = {}
    for name, pipe in nlp.pipeline:
        plan = plans.get(name)
        if plan is None:
            docs = _run(pipe, docs)
            continue
        if plan.kind == "finder":
            downstream = _downstream_spancat(nlp, name, plans)
            if downstream is not None:
                result, cached = _calibrate_finder_for(plan, plans[downstream], docs, examples, options)
                results.append(result)
                pending[downstream] = cached
                continue
        if name in pending:
            scores, candidates, before = pending.pop(name)
            result = _calibrate_spans(plan, docs, examples, options, scores=scores,
                                      candidates=candidates, before=before)
        else:
            result = _calibrate_component(plan, docs, examples, options)
        results.append(result)
    return Calibration(results, skipped, len(examples), stored)


def dev_units(examples: Sequence[Example]) -> Optional[numpy.ndarray]:
    """The unit of each dev example for the folds and the bootstrap: :func:`source_units` of the
    gold docs."""
    return source_units([eg.reference for eg in examples])


def source_units(docs: Sequence[Any]) -> Optional[numpy.ndarray]:
    """Each doc's source document (``doc.user_data["source_doc"]``), numbered from 0 in order of
    appearance; a doc without one is a unit of its own. ``None`` when no doc names a source."""
    names = [doc.user_data.get(SOURCE_DOC) for doc in docs]
    if all(name is None for name in names):
        return None
    numbers: Dict[Any, int] = {}
    return numpy.asarray([numbers.setdefault((SOURCE, name) if name is not None else (DOC, i), len(numbers))
                          for i, name in enumerate(names)], dtype="int64")


def parse_min_precision(value: Union[float, str]) -> Union[float, str]:
    """``min_precision``: a number in [0, 1], or ``current`` (each label keeps the precision it
    has now on dev)."""
    if isinstance(value, str) and value.strip().lower() == CURRENT:
        return CURRENT
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= 1.0:
        raise CalibrationError(
            f"min_precision={value!r}: use a number in [0, 1], or {CURRENT!r} to keep each label's"
            " precision on dev as it is now"
        )
    return number


def parse_confidence(value: Any, name: str = "confidence") -> float:
    """``confidence`` (or the parameter ``name``): a number in [0, 1) (the one-sided confidence
    that a cross-fitted gain is beyond the noise of dev; 0: any positive gain). Raises
    :class:`CalibrationError` naming it."""
    try:
        return check_confidence(value, name)
    except ValueError as err:
        raise CalibrationError(str(err)) from None


def parse_unit(value: Any) -> str:
    """``unit``: ``source`` or ``doc``. Raises :class:`CalibrationError` naming it."""
    if value not in UNITS:
        raise CalibrationError(f"unit={value!r}: use {SOURCE!r} (the folds and the bootstrap take the source"
                               f" document of each dev doc whole, doc.user_data[{SOURCE_DOC!r}]) or {DOC!r}"
                               " (each dev doc alone)")
    return value


def parse_correction(value: Any) -> str:
    """``correction``: ``holm`` or ``none``. Raises :class:`CalibrationError` naming it."""
    try:
        return check_correction(value)
    except ValueError as err:
        raise CalibrationError(str(err)) from None


def _search_options(options: Dict[str, Any], threshold: bool, departures: bool = True) -> Dict[str, Any]:
    """:func:`.search.fit_problem`'s keywords from the calibration's ``options`` (``departures``:
    with the per-label ``correction``; :func:`.search.fit_choice` has no departures);
    ``threshold``: a threshold setting, which gets spaCy's ``find-threshold`` grid as a second
    global candidate (unless both confidences are 0, the rule before)."""
    rule_before = options["confidence"] == 0 and options["global_confidence"] == 0
    coarse = COARSE_THRESHOLD_GRID if threshold and not rule_before else None
    out = {"folds": options["folds"], "seed": options["seed"], "confidence": options["confidence"],
           "global_confidence": options["global_confidence"], "coarse_grid": coarse,
           "units": options.get("units")}
    if departures:
        out["correction"] = options.get("correction", DEFAULT_CORRECTION)
    return out


def _run(pipe: Any, docs: List[Any]) -> List[Any]:
    if hasattr(pipe, "pipe"):
        return list(pipe.pipe(docs))
    return [pipe(doc) for doc in docs]


def _objective(plan: Component, options: Dict[str, Any], labels: Sequence[str]) -> Objective:
    from ..pipeline.descriptions import EXCLUSIVE_CATS, TOKEN_TAGS

    scored = None
    kind = "micro_f1"
    if plan.task == EXCLUSIVE_CATS:  # spaCy's cats_score: the positive label's F1, else macro F1
        positive = plan.pipe.cfg.get("positive_label")
        if positive in labels:
            scored = [list(labels).index(positive)]
        else:
            kind = "macro_f1"
    elif plan.task == TOKEN_TAGS:
        kind = "accuracy"
    if options["metric"] == "recall":
        kind = "recall"
    return Objective(kind, options["min_precision"], scored)


def _downstream_spancat(nlp: Language, finder: str, plans: Dict[str, Component]) -> Optional[str]:
    """The span categorizer (to calibrate, multi-label, independent decisions) that reads the
    finder's spans as candidates."""
    key = nlp.get_pipe(finder).cfg.get("spans_key")
    names = nlp.pipe_names
    for name in names[names.index(finder) + 1:]:
        plan = plans.get(name)
        if plan is None or plan.kind != "span_thresholds":
            continue
        reads = getattr(plan.pipe.suggester, "keywords", {}).get("spans_key")
        if reads == key and plan.pipe.cfg.get("max_positive") is None:
            return name
    return None


# --- settings ------------------------------------------------------------------------------------
def _current_thresholds(pipe: Any, labels: Sequence[str]) -> List[float]:
    default = pipe.cfg.get("threshold")
    default = 0.5 if default is None else float(default)
    own = pipe.cfg.get("thresholds") or {}
    return [float(own.get(label, default)) for label in labels]


def _apply_thresholds(plan: Component, values: Dict[str, float], global_value: Optional[float]) -> Dict[str, Any]:
    """Store thresholds: the global value as ``threshold``, the labels that depart from it as
    ``thresholds``; returns the config keys written."""
    pipe = plan.pipe
    if plan.setting == "threshold":
        value = global_value if global_value is not None else next(iter(values.values()))
        pipe.cfg["threshold"] = float(value)
        return {"threshold": float(value)}
    g = float(global_value) if global_value is not None else float(pipe.cfg.get("threshold") or 0.5)
    pipe.cfg["threshold"] = g
    own = {label: float(v) for label, v in values.items() if abs(v - g) > 1e-9}
    pipe.set_decisions(own)
    return {"threshold": g, "thresholds": dict(own)}


def _apply_bias(plan: Component, values: Dict[str, float]) -> Dict[str, Any]:
    own = {label: float(v) for label, v in values.items() if v != 0.0}
    plan.pipe.set_decisions(own)
    return {"label_bias": dict(own)}


# --- components ----------------------------------------------------------------------------------


def _calibrate_spans(
    plan: Component, docs: List[Any], examples: Sequence[Example], options: Dict[str, Any], *,
    scores: Any = None, candidates: Optional[Candidates] = None, before: Optional[Dict[str, Any]] = None,
) -> Result:
    pipe = plan.pipe
    gold = span_gold(examples, list(pipe.labels), "spans", key=pipe.key, component=plan.name)
    if candidates is None:
        scores = pipe.predict(docs)
        candidates = span_candidates(scores[0], scores[1], gold, pipe.model.ops)
    return _calibrate_thresholds(plan, docs, scores, candidates, gold, options, before=before)


def _calibrate_multilabel_cats(plan: Component, docs: List[Any], examples: Sequence[Example],
                               options: Dict[str, Any]) -> Result:
    pipe = plan.pipe
    gold = multilabel_cats_gold(examples, list(pipe.labels), plan.name)
    scores = pipe.predict(docs)
    candidates = cats_candidates(pipe.model.ops.to_numpy(scores), gold, list(pipe.labels))
    result = _calibrate_thresholds(plan, docs, scores, candidates, gold, options)
    result.notes.insert(0, "cats_score of textcat_multilabel is the macro AUC, which no threshold"
                           " moves; the threshold is chosen for micro F1 (cats_micro_f)")
    return result


def _calibrate_thresholds(
    plan: Component, docs: List[Any], scores: Any, candidates: Candidates, gold: Gold,
    options: Dict[str, Any], *, before: Optional[Dict[str, Any]] = None,
) -> Result:
    """Independent per-label thresholds from cached probabilities (see :class:`.targets.Candidates`)."""
    pipe = plan.pipe
    labels = list(pipe.labels)
    objective = _objective(plan, options, labels)
    problem = threshold_problem(candidates, labels, _current_thresholds(pipe, labels), THRESHOLD_GRID)
    fit = fit_problem(problem, objective, **_search_options(options, threshold=True),
                      min_support=options["min_support"], per_label=plan.per_label,
                      per_label_reason=plan.per_label_reason)
    objective = fit.objective or objective
    result = Result(plan.name, plan.factory, plan.setting, objective.describe(), plan.score_key, fit=fit,
                    unknown_labels=gold.unknown)
    if before is not None:  # the pipeline before calibration: the finder at its old threshold
        fit.before = before["totals"]
        fit.score_before = objective.score(fit.before)
        result.notes.append(
            "before = the pipeline before calibration (the span finder at its old threshold);"
            " after = on the calibrated finder's candidates"
        )
    if fit.after_values != fit.before_values:
        result.config = _apply_thresholds(plan, dict(zip(labels, fit.after_values)), fit.global_value)
    result.notes += fit.notes
    pipe.set_annotations(docs, scores)
    return result


def _calibrate_component(plan: Component, docs: List[Any], examples: Sequence[Example],
                         options: Dict[str, Any]) -> Result:
    if plan.kind == "span_thresholds" and plan.pipe.cfg.get("max_positive") is None:
        return _calibrate_spans(plan, docs, examples, options)
    if plan.kind == "cats_thresholds":
        return _calibrate_multilabel_cats(plan, docs, examples, options)
    if plan.kind == "finder":
        return _calibrate_finder_alone(plan, docs, examples, options)
    return _calibrate_by_annotation(plan, docs, examples, options)


def _calibrate_by_annotation(plan: Component, docs: List[Any], examples: Sequence[Example],
                             options: Dict[str, Any]) -> Result:
    """Any setting whose effect needs the component's own ``set_annotations`` (label biases;
    thresholds with ``max_positive``)."""
    from ..pipeline.descriptions import (
        ENTITIES, EXCLUSIVE_CATS, MULTILABEL_SPANS, SINGLELABEL_SPANS, TOKEN_TAGS, WORDS,
    )

    pipe = plan.pipe
    labels = list(getattr(pipe, "decision_labels", None) or pipe.labels)
    key = plan.score_key
    attr = "tag"
    if plan.task in (MULTILABEL_SPANS, SINGLELABEL_SPANS):
        what = "spans"
        gold = span_gold(examples, labels, "spans", key=pipe.key, component=plan.name)
    elif plan.task == ENTITIES:
        what = "ents"
        gold = span_gold(examples, labels, "ents", component=plan.name)
    elif plan.task == WORDS:  # dice_seg_tagger: (word, POS) pairs over the dev docs' characters
        what = "words"
        gold = span_gold(examples, labels, "spans", key=pipe.cfg["words_key"], component=plan.name)
    elif plan.task == EXCLUSIVE_CATS:
        what = "cats"
        gold = cats_gold(examples, labels, plan.name)
    elif plan.task == TOKEN_TAGS:
        what = "tokens"
        attr = plan.attr
        gold = token_gold(examples, labels, attr, plan.name)
    else:  # pragma: no cover - describe_component sends no other task here
        raise CalibrationError(f"[{plan.name}] calibrate cannot search a setting of {plan.task!r} components")
    scores = pipe.predict(docs)
    objective = _objective(plan, options, labels)
    if plan.setting == "label_bias":
        grid, neutral = BIAS_GRID, 0.0
        own = pipe.cfg.get("label_bias") or {}
        current = [float(own.get(label, 0.0)) for label in labels]
    else:
        grid, neutral = THRESHOLD_GRID, 0.5
        current = _current_thresholds(pipe, labels)
    fixed = _fixed_docs(pipe, scores, key, max(max(grid), max(current, default=0.0)))

    def apply(values: Dict[str, float]) -> None:
        if plan.native:  # one threshold (the search tries one value for every label)
            pipe.cfg["threshold"] = float(next(iter(values.values())))
        else:
            pipe.set_decisions(values)

    def annotate(copies: List[Any], rows: Optional[numpy.ndarray]) -> None:
        part = scores if rows is None else [scores[i] for i in rows.tolist()]
        pipe.set_annotations(copies, part)

    saved = pipe.cfg.get("threshold") if plan.native else dict(pipe.cfg.get(plan.setting) or {})
    # dice_ner's entity confidences (forward-backward) are not counted: off during the search
    scores_key = pipe.cfg.get("scores_key") if "scores_key" in pipe.cfg else False
    if scores_key is not False:
        pipe.cfg["scores_key"] = None
    problem = annotation_problem(
        labels=labels, grid=grid, current=current, neutral=neutral, docs=docs, gold=gold,
        apply=apply, annotate=annotate, what=what, key=getattr(pipe, "key", None), attr=attr,
        fixed=fixed, in_place=not (what == "tokens" and not pipe.cfg.get("overwrite", True)),
        items=_decoded_entities(pipe, scores) if what in ("ents", "words") else None,
    )
    try:
        fit = fit_problem(problem, objective, **_search_options(options, plan.setting != "label_bias"),
                          min_support=options["min_support"], per_label=plan.per_label,
                          per_label_reason=plan.per_label_reason)
    finally:
        if plan.native:
            pipe.cfg["threshold"] = saved
        else:
            pipe.set_decisions(saved)
        if scores_key is not False:
            pipe.cfg["scores_key"] = scores_key
    result = Result(plan.name, plan.factory, plan.setting, (fit.objective or objective).describe(),
                    plan.score_key, fit=fit, unknown_labels=gold.unknown,
                    value_format="{:+.2f}" if plan.setting == "label_bias" else "{:.2f}")
    if fit.after_values != fit.before_values:
        values = dict(zip(labels, fit.after_values))
        if plan.setting == "label_bias":
            result.config = _apply_bias(plan, values)
        else:
            result.config = _apply_thresholds(plan, values, fit.global_value)
    if fixed is not None:
        result.notes.append(
            f"{int(fixed.sum())} of {len(docs)} dev docs decode to no entity under every bias of the"
            " grid (O beats every entity tag by more than the largest bias): counted once"
        )
    result.notes += fit.notes
    pipe.set_annotations(docs, scores)
    return result


def _decoded_entities(pipe: Any, scores: List[Any]) -> Optional[Any]:
    """``dice_ner``: the entities its decoder gives the docs ``rows`` under the current bias,
    without writing them (``set_annotations`` writes exactly these, :meth:`decode`);
    ``dice_seg_tagger``: its words, in the characters' positions (``set_annotations`` would merge
    them into tokens). The decoded
    sequences are valid BILUO, so an entity is a ``U-X`` or a ``B-X ... L-X`` run."""
    if not (hasattr(pipe, "decode") and hasattr(pipe, "class_names")):
        return None
    names = list(pipe.class_names)
    kinds = [name.split("-", 1)[0] if "-" in name else "O" for name in names]
    types = [name.split("-", 1)[1] if "-" in name else "" for name in names]
    outside = numpy.asarray([kind == "O" for kind in kinds])

    def entities(ids: Any) -> Set[Tuple[int, int, str]]:
        ids = numpy.asarray(ids).reshape(-1)
        found: Set[Tuple[int, int, str]] = set()
        start = 0
        for t in numpy.flatnonzero(~outside[ids]).tolist():
            kind = kinds[ids[t]]
            if kind == "U":
                found.add((t, t + 1, types[ids[t]]))
            elif kind == "B":
                start = t
            elif kind == "L":
                found.add((start, t + 1, types[ids[t]]))
        return found

    def items(rows: numpy.ndarray) -> List[Any]:
        return [entities(ids) for ids in pipe.decode([scores[i] for i in rows.tolist()])]

    return items


def _fixed_docs(pipe: Any, scores: Any, key: str, max_bias: float) -> Optional[numpy.ndarray]:
    """``dice_ner``: the docs whose every token prefers ``O`` by more than ``max_bias`` over every
    entity tag: the all-``O`` path is then the best path under every bias of the grid (the
    decoder maximises a sum of per-token scores), so their annotation never changes."""
    if key != "ents_f" or not isinstance(scores, list):
        return None
    try:
        out = pipe.class_names.index("O")
        ops = pipe.model.ops
        fixed = numpy.zeros(len(scores), dtype=bool)
        for d, lp in enumerate(scores):
            lp = numpy.asarray(ops.to_numpy(lp))
            if lp.shape[0] == 0:
                fixed[d] = True
                continue
            others = numpy.delete(lp, out, axis=1)
            fixed[d] = bool(((lp[:, out] - others.max(axis=1)) > max_bias + 1e-6).all())
        return fixed
    except Exception:  # pragma: no cover - a component without these internals: no shortcut
        return None


# --- span finders ----------------------------------------------------------------------------------
def _set_finder(plan: Component, value: Optional[float], original: Dict[str, Any]) -> None:
    """Set the finder's start and end threshold to ``value`` (``None``: restore ``original``)."""
    pipe = plan.pipe
    if value is None:
        pipe.cfg["threshold"] = original["threshold"]
        if not plan.native:
            pipe.set_decisions(original["thresholds"])
        return
    if plan.native:
        pipe.cfg["threshold"] = float(value)
    else:
        pipe.set_decisions({"start": float(value), "end": float(value)})


def _finder_original(plan: Component) -> Dict[str, Any]:
    cfg = plan.pipe.cfg
    return {"threshold": cfg.get("threshold"), "thresholds": dict(cfg.get("thresholds") or {})}


def _finder_current(original: Dict[str, Any]) -> Tuple[float, str]:
    own = original["thresholds"]
    start = float(own.get("start", original["threshold"]))
    end = float(own.get("end", original["threshold"]))
    return start, ("" if start == end else f" (start {start:g}, end {end:g})")


def _calibrate_finder_for(
    finder: Component, spancat: Component, docs: List[Any], examples: Sequence[Example],
    options: Dict[str, Any],
) -> Tuple[Result, Tuple[Any, Candidates, Dict[str, Any]]]:
    """Tune the span finder for the span categorizer's F1: for each finder threshold of
    :data:`FINDER_GRID` (and the current one) re-run the categorizer on the finder's candidates,
    and pick the (finder threshold, global categorizer threshold) pair, cross-fitted."""
    fpipe, spipe = finder.pipe, spancat.pipe
    labels = list(spipe.labels)
    gold = span_gold(examples, labels, "spans", key=spipe.key, component=spancat.name)
    fscores = fpipe.predict(docs)
    original = _finder_original(finder)
    values: List[Optional[float]] = [None] + list(FINDER_GRID)
    problems: List[Problem] = []
    cached: List[Tuple[Any, Candidates]] = []
    current_thresholds = _current_thresholds(spipe, labels)
    try:
        for value in values:
            _set_finder(finder, value, original)
            copies = [doc.copy() for doc in docs]
            fpipe.set_annotations(copies, fscores)
            scores = spipe.predict(copies)
            cands = span_candidates(scores[0], scores[1], gold, spipe.model.ops)
            cached.append((scores, cands))
            problems.append(threshold_problem(cands, labels, current_thresholds, THRESHOLD_GRID))
    finally:
        _set_finder(finder, None, original)
    fitting = _objective(spancat, options, labels)
    choice = fit_choice(problems, fitting, current=0, **_search_options(options, threshold=True, departures=False))
    objective = fitting.resolve(problems[0].totals(problems[0].current))  # the scores of all dev
    start, differs = _finder_current(original)
    rows = []
    for value, (scores, cands), problem in zip(values, cached, problems):
        rows.append({
            "finder_threshold": start if value is None else value,
            "current": value is None,
            "candidates": int(len(cands.doc)),
            "candidate_recall": cands.candidate_recall(),
            "best_global_f": max(objective.score(problem.totals((t,) * len(labels))) for t in problem.grid),
        })
    result = Result(finder.name, finder.factory, "threshold", f"{objective.describe()} of {spancat.name}",
                    spancat.score_key, choice=choice, finder_rows=rows)
    result.notes.append(
        f"tuned for the F1 of {spancat.name} (re-run on each threshold's candidates), jointly with"
        f" one global {spancat.name} threshold; current finder threshold {start:g}{differs}"
    )
    chosen = choice.option if choice.adopted else 0
    if choice.adopted and choice.option != 0:
        value = float(values[choice.option])  # type: ignore[arg-type]
        fpipe.cfg["threshold"] = value
        if not finder.native:
            fpipe.set_decisions({})
        result.config = {"threshold": value} if finder.native else {"threshold": value, "thresholds": {}}
    elif not choice.adopted and choice.gain is not None and choice.gain.positive:
        result.notes.append(
            f"kept: the cross-fitted {objective.describe()} of the best pair"
            f" ({100 * (choice.score_cv or 0):.2f}) beats the current pipeline's"
            f" ({100 * choice.score_before:.2f}), but not beyond the noise at"
            f" {100 * choice.confidence:g}% ({choice.gain.bound_text()})"
        )
    elif not choice.adopted:
        result.notes.append(
            f"kept: the cross-fitted {objective.describe()} of the best pair"
            f" ({100 * (choice.score_cv or 0):.2f}) does not beat the current pipeline's"
            f" ({100 * choice.score_before:.2f})"
        )
    if choice.adopted and choice.option != 0 and values[choice.option] in (min(FINDER_GRID), max(FINDER_GRID)):
        result.notes.append(
            f"finder threshold {values[choice.option]:g}: at the edge of the grid"
            f" (searched {min(FINDER_GRID):g}..{max(FINDER_GRID):g})"
        )
    fpipe.set_annotations(docs, fscores)
    scores, cands = cached[chosen]
    before = {"totals": problems[0].totals(problems[0].current)}
    return result, (scores, cands, before)


def _calibrate_finder_alone(plan: Component, docs: List[Any], examples: Sequence[Example],
                            options: Dict[str, Any]) -> Result:
    """A span finder with no span categorizer after it: its own (unlabelled) span F1."""
    pipe = plan.pipe
    key = pipe.cfg.get("spans_key", "sc")
    gold = span_gold(examples, [""], "spans", key=key, labeled=False, component=plan.name)
    scores = pipe.predict(docs)
    original = _finder_original(plan)
    start, _ = _finder_current(original)
    objective = _objective(plan, options, [""])

    def apply(values: Dict[str, float]) -> None:
        _set_finder(plan, values["start+end"], original)

    def annotate(copies: List[Any], rows: Optional[numpy.ndarray]) -> None:
        pipe.set_annotations(copies, scores)

    problem = annotation_problem(
        labels=["start+end"], grid=FINDER_GRID + (0.8, 0.9), current=[start], neutral=0.5, docs=docs,
        gold=gold, apply=apply, annotate=annotate, what="spans", key=key, labeled=False,
    )
    try:
        fit = fit_problem(problem, objective, **_search_options(options, threshold=True),
                          min_support=options["min_support"], per_label=False,
                          per_label_reason=plan.per_label_reason)
    finally:
        _set_finder(plan, None, original)
    result = Result(plan.name, plan.factory, "threshold", (fit.objective or objective).describe(),
                    plan.score_key, fit=fit)
    if fit.global_value is not None:
        pipe.cfg["threshold"] = float(fit.global_value)
        if not plan.native:
            pipe.set_decisions({})
        result.config = {"threshold": float(fit.global_value)}
        if not plan.native:
            result.config["thresholds"] = {}
    result.notes += fit.notes
    pipe.set_annotations(docs, scores)
    return result
