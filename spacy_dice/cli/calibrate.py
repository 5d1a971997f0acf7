"""``python -m spacy_dice calibrate MODEL DEV.spacy --output OUT``: fit a trained pipeline's
decision settings (per-label thresholds, label biases) on a dev set and save the calibrated
pipeline (:func:`spacy_dice.decisions.calibrate_model`; docs/CALIBRATION.md).

``project-calibrate`` is the project's ``calibrate`` step: the same, behind the ``calibrate``
variable (``false``: nothing happens), followed by ``spacy evaluate`` of the calibrated pipeline
on the test set and the test scores before and after in the report
(:func:`spacy_dice.decisions.calibrate_and_evaluate`).

This module parses the options, calls those functions and prints their tables; the library's
errors name parameters (``min_precision=``), shown here as the flags (``--min-precision``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from wasabi import msg

from .app import app
from .flags import flag_message

FALSE = ("false", "0", "no", "off", "")
FLAGS = {
    "min_precision": "--min-precision", "metric": "--metric", "components": "--components",
    "output": "--output", "overwrite": "--overwrite", "model": "MODEL", "confidence": "--confidence",
    "global_confidence": "--global-confidence", "correction": "--correction", "unit": "--unit",
}
CONFIDENCE_HELP = (
    "One-sided confidence that a label's departure gains beyond the noise of dev (paired bootstrap"
    " of its cross-fitted gain over dev docs), in [0, 1); 0: adopt any positive gain (the rule before)"
)
GLOBAL_CONFIDENCE_HELP = (
    "The same for the one global value (and the span finder's threshold), in [0, 1); 0: adopted"
    " when its cross-fitted gain is positive (chosen on held-out dev folds, docs/CALIBRATION.md)"
)
CORRECTION_HELP = (
    "holm: a component's label departures are one family (Holm's step-down at --confidence: the"
    " chance that any label departs on noise stays 1 - confidence); none: each label at --confidence"
)
DEFAULT_CORRECTION = "holm"  # spacy_dice.decisions.calibration.DEFAULT_CORRECTION (a test checks)
UNIT_HELP = (
    "What the folds and the bootstrap take whole: source (each dev doc's source document,"
    " doc.user_data['source_doc'] as convert writes it; docs without one stand alone) or doc"
)
DEFAULT_UNIT = "source"  # spacy_dice.decisions.calibration.DEFAULT_UNIT (a test checks)
T = TypeVar("T")


def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``; a refusal (bad input, no gold) ends the command with exit
    code 1 and the reason, in flags."""
    try:
        return function(*args, **kwargs)
    except ValueError as err:  # CalibrationError, or no gold for a component (NoGoldError)
        msg.fail(flag_message(str(err), FLAGS), exits=1)
        raise  # not reached


def print_calibration(done: Any) -> None:
    """The tables of a :class:`~spacy_dice.decisions.CalibratedModel`, what was not calibrated
    and where it was written."""
    from ..decisions import tables

    calibration = done.calibration
    for title, header, rows, notes in tables(calibration):
        msg.divider(title)
        msg.table(rows, header=header, divider=True)
        for note in notes:
            msg.text(f"- {note}")
    for name, why in calibration.skipped.items():
        msg.info(f"not calibrated: {name}: {why}")
    stem = done.report
    msg.good(
        f"Calibrated pipeline: {done.output} ({done.seconds:g} s); report: {stem}.json, {stem}.md"
        + ("" if done.changes else " (no decision changed)")
    )


@app.command("calibrate")
def calibrate_command(
    model: Path = typer.Argument(..., help="Trained pipeline folder (e.g. training/NAME/model-best)"),
    dev: Path = typer.Argument(..., help="Dev set (.spacy) with the gold annotation of the components"),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the calibrated pipeline"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --output if it exists (also when it is MODEL)"),
    metric: str = typer.Option("f1", "--metric", help="f1 (the pipeline's score) or recall (with --min-precision)"),
    min_precision: str = typer.Option("0.0", "--min-precision", help="With --metric recall: the precision to keep (micro for the global value, per label for departures), or 'current': each label keeps its precision on dev as it is now"),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-fitting folds of dev docs"),
    min_support: int = typer.Option(20, "--min-support", min=0, help="Dev positives a label needs to depart from the global value"),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment"),
    components: str = typer.Option("", "--components", help="Comma-separated component names (default: every calibratable one)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Report path stem: writes STEM.json and STEM.md (default: OUT-calibration.json/.md next to OUT)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
    confidence: float = typer.Option(0.95, "--confidence", help=CONFIDENCE_HELP),
    global_confidence: float = typer.Option(0.0, "--global-confidence", help=GLOBAL_CONFIDENCE_HELP),
    correction: str = typer.Option(DEFAULT_CORRECTION, "--correction", help=CORRECTION_HELP),
    unit: str = typer.Option(DEFAULT_UNIT, "--unit", help=UNIT_HELP),
) -> None:
    """Calibrate the decisions of a trained pipeline on a dev set and save it as a new pipeline.

    One global threshold / bias per component first, adopted when its cross-fitted gain on dev is
    positive (--global-confidence); a label departs from it only when its cross-fitted gain is
    positive beyond the noise (--confidence, with --correction over the labels) and it has
    --min-support dev positives.
    """
    from ..decisions import calibrate_model

    done = _call(calibrate_model, model, dev, output, overwrite=overwrite, metric=metric,
                 min_precision=min_precision, folds=folds, min_support=min_support, seed=seed,
                 components=components, report=report, gpu_id=gpu_id, confidence=confidence,
                 global_confidence=global_confidence, correction=correction, unit=unit)
    print_calibration(done)


@app.command("project-calibrate")
def project_calibrate_command(
    enabled: str = typer.Option("true", "--enabled", help="The project's calibrate variable (false: do nothing)"),
    model: Path = typer.Option(..., "--model", help="model-best"),
    dev: Path = typer.Option(..., "--dev", help="Dev set the decisions are fitted on"),
    test: Path = typer.Option(..., "--test", help="Test set both pipelines are scored on"),
    output: Path = typer.Option(..., "--output", "-o", help="Calibrated pipeline folder (replaced when it exists)"),
    metrics: Path = typer.Option(..., "--metrics", help="Stem of the calibrated test scores: STEM.json (spacy evaluate) and STEM.md"),
    before: Optional[Path] = typer.Option(None, "--before", help="spacy evaluate JSON of MODEL on the test set (for the before/after lines)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Report stem (default: OUT-calibration)"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
    confidence: float = typer.Option(0.95, "--confidence", help=CONFIDENCE_HELP),
    global_confidence: float = typer.Option(0.0, "--global-confidence", help=GLOBAL_CONFIDENCE_HELP),
    correction: str = typer.Option(DEFAULT_CORRECTION, "--correction", help=CORRECTION_HELP),
    unit: str = typer.Option(DEFAULT_UNIT, "--unit", help=UNIT_HELP),
) -> None:
    """The project's calibrate step: calibrate MODEL on dev into OUTPUT, evaluate it on test."""
    if str(enabled).strip().lower() in FALSE:
        msg.info(f"calibrate = {enabled}: calibration is off, nothing to do")
        return
    from ..decisions import calibrate_and_evaluate

    done = _call(calibrate_and_evaluate, model, dev, test, output, metrics, before=before,
                 report=report, gpu_id=gpu_id, confidence=confidence, global_confidence=global_confidence,
                 correction=correction, unit=unit)
    print_calibration(done.calibrated)
    if done.table_error:
        msg.warn(f"evaluate-table failed: {done.table_error}")
    for line in done.lines:
        msg.text(line)
