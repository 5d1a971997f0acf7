"""Decision tuning on dev (``calibrate``): per-label thresholds and label biases, honest gain estimates.

:mod:`.search` (the counts-based search and its cross-fitting), :mod:`.targets` (what a
component's setting does to the dev counts), :mod:`.calibration` (the pipeline, component by
component; :func:`calibrate` is the API), :mod:`.report` (the tables, JSON and Markdown of a
calibration), :mod:`.write` (the atomic save of the pipeline and the report), :mod:`.run` (a saved
pipeline calibrated into a new folder: :func:`calibrate_model`, and the project's step
:func:`calibrate_and_evaluate`). The command line is ``python -m spacy_dice calibrate``
(:mod:`spacy_dice.cli.calibrate`); docs/CALIBRATION.md. "Calibrate" means tuning decisions; how well probabilities match
frequencies is "reliability" (:mod:`spacy_dice.evaluation.reliability`).
"""
from .calibration import Calibration, CalibrationError, calibrate, parse_confidence, parse_min_precision, read_dev
from .report import tables, to_json, to_markdown
from .run import CalibratedModel, calibrate_and_evaluate, calibrate_model
from .search import (
    BIAS_GRID, COARSE_THRESHOLD_GRID, CURRENT, THRESHOLD_GRID, Objective, Problem, fit_problem, make_folds,
)
from .targets import NoGoldError

__all__ = [
    "BIAS_GRID", "COARSE_THRESHOLD_GRID", "CURRENT", "THRESHOLD_GRID", "CalibratedModel", "Calibration",
    "CalibrationError", "NoGoldError", "Objective", "Problem", "calibrate", "calibrate_and_evaluate",
    "calibrate_model", "fit_problem", "make_folds", "parse_confidence", "parse_min_precision", "read_dev",
    "tables", "to_json", "to_markdown",
]
