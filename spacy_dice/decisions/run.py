"""Calibrate a saved pipeline: load it, read the dev set, :func:`~.calibration.calibrate`, save the
calibrated pipeline and the report (``python -m spacy_dice calibrate``); and the project's step,
which then scores the calibrated pipeline on the test set (``project-calibrate``).

Nothing here prints: :func:`calibrate_model` returns a :class:`CalibratedModel` whose
``calibration`` :mod:`.report` lays out (``tables``, ``to_markdown``), and bad input raises
:class:`~.calibration.CalibrationError` naming the parameter.

>>> done = calibrate_model("training/model-best", "corpus/dev.spacy", "training/model-calibrated")
>>> done.data["components"][0]["config"]   # what was stored in [components.NAME]
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ..formatting import percent
from .calibration import (
    DEFAULT_CONFIDENCE,
    DEFAULT_CORRECTION,
    DEFAULT_GLOBAL_CONFIDENCE,
    DEFAULT_UNIT,
    Calibration,
    CalibrationError,
    calibrate,
    parse_confidence,
    parse_correction,
    parse_unit,
    parse_min_precision,
    read_dev,
)
from .report import to_json, to_markdown
from .write import check_output, report_stem, write_pipeline, write_report

PathLike = Union[str, Path]
HEADLINE_KEYS = ("ents_p", "ents_r", "ents_f", "cats_score", "tag_acc", "pos_acc", "pos_p", "pos_r", "pos_f",
                 "seg_f")
"""The test scores the project's report shows before and after calibration (and spans_*_p/r/f)."""


@dataclass
class CalibratedModel:
    """What :func:`calibrate_model` did: the :class:`~.calibration.Calibration` (for the tables),
    the report's data (as written to ``STEM.json``), the calibrated pipeline's folder, the report
    stem, the seconds it took and the settings stored per component (empty: nothing changed)."""

    calibration: Calibration
    data: Dict[str, Any]
    output: Path
    report: Path
    seconds: float
    changes: Dict[str, Dict[str, Any]] = field(default_factory=dict)


def _names(components: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if components is None:
        return None
    items = components.split(",") if isinstance(components, str) else list(components)
    return [c.strip() for c in items if c.strip()] or None


def calibrate_model(
    model: PathLike,
    dev: PathLike,
    output: PathLike,
    *,
    overwrite: bool = False,
    metric: str = "f1",
    min_precision: Union[float, str] = 0.0,
    folds: int = 5,
    min_support: int = 20,
    seed: int = 0,
    components: Union[None, str, Sequence[str]] = None,
    report: Optional[PathLike] = None,
    gpu_id: int = -1,
    confidence: float = DEFAULT_CONFIDENCE,
    global_confidence: Optional[float] = DEFAULT_GLOBAL_CONFIDENCE,
    correction: str = DEFAULT_CORRECTION,
    unit: str = DEFAULT_UNIT,
) -> CalibratedModel:
    """Calibrate the pipeline saved at ``model`` on the dev set ``dev`` (a ``.spacy`` file) and
    save it as a new pipeline at ``output`` (atomically; an existing ``output``, or ``model``
    itself, only with ``overwrite``), with the report ``STEM.json`` / ``STEM.md`` (``report``,
    default ``OUTPUT-calibration`` next to ``output``). ``metric``, ``min_precision``, ``folds``,
    ``min_support``, ``seed``, ``components`` (names, or a comma-separated string; default every
    calibratable one) and ``confidence`` (in [0, 1): a change is adopted only when its
    cross-fitted gain is beyond the noise of dev at that one-sided confidence; 0: any positive
    gain) and ``global_confidence`` (the global value's bar, 0 by default: adopted on a positive
    cross-fitted gain; ``None``: ``confidence``'s), ``correction`` (``holm`` or ``none``) and
    ``unit`` (``source`` or ``doc``) are :func:`~.calibration.calibrate`'s; ``gpu_id`` >= 0 runs on that GPU.

    Returns a :class:`CalibratedModel`. Raises :class:`~.calibration.CalibrationError` for bad
    input (checked before anything is loaded where it can be) and ``NoGoldError`` when the dev
    docs lack a component's gold; nothing is written then.
    """
    import spacy

    start = time.perf_counter()
    if metric not in ("f1", "recall"):
        raise CalibrationError(f"metric={metric!r}: use f1 or recall")
    min_precision = parse_min_precision(min_precision)
    confidence = parse_confidence(confidence)
    if global_confidence is not None:
        global_confidence = parse_confidence(global_confidence, "global_confidence")
    correction = parse_correction(correction)
    unit = parse_unit(unit)
    model, output = Path(model), Path(output)
    if not model.is_dir():
        raise CalibrationError(f"model={model} is not a pipeline folder")
    check_output(model, output, overwrite)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    examples = read_dev(nlp, Path(dev))
    calibration = calibrate(nlp, examples, metric=metric, min_precision=min_precision, folds=folds,
                            seed=seed, min_support=min_support, components=_names(components),
                            confidence=confidence, global_confidence=global_confidence,
                            correction=correction, unit=unit)
    changes = {r.name: r.config for r in calibration.results if r.config}
    write_pipeline(nlp, output, changes, overwrite=overwrite)
    seconds = round(time.perf_counter() - start, 1)
    stem = report_stem(output, report)
    data = to_json(calibration, model=str(model), dev=str(dev), output=str(output), seconds=seconds)
    write_report(stem, data, to_markdown(calibration, model=str(model), output=str(output)))
    return CalibratedModel(calibration, data, output, stem, seconds, changes)


def headline_test_scores(scores: Dict[str, Any]) -> Dict[str, float]:
    """The headline numbers of spaCy scores (:data:`HEADLINE_KEYS` and ``spans_*_p/r/f``)."""
    return {k: float(v) for k, v in scores.items()
            if v is not None and isinstance(v, (int, float))
            and (k in HEADLINE_KEYS or (k.startswith("spans_") and k[-2:] in ("_p", "_r", "_f")))}


@dataclass
class CalibratedAndTested:
    """What :func:`calibrate_and_evaluate` did: the calibration, the test-set lines added to the
    report (``- KEY: X before, Y after calibration``), the test scores file, and why the
    evaluation table could not be written (``None`` when it was)."""

    calibrated: CalibratedModel
    lines: List[str]
    metrics: Path
    table_error: Optional[str] = None


def calibrate_and_evaluate(
    model: PathLike,
    dev: PathLike,
    test: PathLike,
    output: PathLike,
    metrics: PathLike,
    *,
    before: Optional[PathLike] = None,
    report: Optional[PathLike] = None,
    gpu_id: int = -1,
    confidence: float = DEFAULT_CONFIDENCE,
    global_confidence: Optional[float] = DEFAULT_GLOBAL_CONFIDENCE,
    correction: str = DEFAULT_CORRECTION,
    unit: str = DEFAULT_UNIT,
) -> CalibratedAndTested:
    """The project's calibrate step: :func:`calibrate_model` of ``model`` on ``dev`` into
    ``output`` (replaced when it exists), then ``spacy evaluate`` of ``output`` on ``test`` into
    ``METRICS.json``, its table with the reliability of both pipelines on ``test`` into
    ``METRICS.md`` (:func:`spacy_dice.evaluation.evaluate_table.evaluate_table`), and the test
    scores before (from ``before``, ``model``'s ``spacy evaluate`` JSON, when it exists) and after
    in the report. ``confidence``, ``global_confidence``, ``correction``, ``unit``: :func:`calibrate_model`'s. Returns a :class:`CalibratedAndTested`;
    raises as :func:`calibrate_model`."""
    from spacy.cli.evaluate import evaluate

    from ..evaluation.evaluate_table import evaluate_table, write_evaluation_table

    done = calibrate_model(model, dev, output, overwrite=True, report=report, gpu_id=gpu_id,
                           confidence=confidence, global_confidence=global_confidence, correction=correction,
                           unit=unit)
    stem = Path(metrics)
    stem = stem.with_suffix("") if stem.suffix in (".json", ".md") else stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path = stem.with_name(stem.name + ".json")
    after = evaluate(str(output), Path(test), output=json_path, use_gpu=gpu_id, silent=True)
    table_error = None
    try:  # the ECE of model-best next to the calibrated pipeline's
        table = evaluate_table(json_path, model=output, data=test, compare_model=model, gpu_id=gpu_id)
        write_evaluation_table(table, stem.with_name(stem.name + ".md"))
    except Exception as err:  # noqa: BLE001 - the calibration stands; the table is an extra
        table_error = f"{type(err).__name__}: {err}"[-500:]
    test_scores = {"after": headline_test_scores(after)}
    if before is not None and Path(before).exists():
        test_scores["before"] = headline_test_scores(json.loads(Path(before).read_text(encoding="utf8")))
    done.data["test"] = {"data": str(test), "metrics": str(json_path), **test_scores}
    md = done.report.with_name(done.report.name + ".md").read_text(encoding="utf8")
    lines = []
    for key in sorted(test_scores["after"]):
        b = test_scores.get("before", {}).get(key)
        a = test_scores["after"][key]
        lines.append(f"- {key}: " + (f"{percent(b)} before, " if b is not None else "") + f"{percent(a)} after calibration")
    write_report(done.report, done.data, md + "\n".join(["", "## Test set", "", *lines]) + "\n")
    return CalibratedAndTested(done, lines, json_path, table_error)
