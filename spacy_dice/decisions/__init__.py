"""Decision tuning on dev (``calibrate``): per-label thresholds and label biases, honest gain estimates.

:mod:`.search` (the counts-based search and its cross-fitting), :mod:`.targets` (what a
component's setting does to the dev counts), :mod:`.calibrate` (the pipeline, component by
component), :mod:`.report` (the tables, JSON and Markdown of a calibration), :mod:`.write` (the
atomic save). The command line is ``python -m spacy_dice calibrate`` (:mod:`spacy_dice.cli.calibrate`);
docs/CALIBRATION.md. "Calibrate" means tuning decisions; how well probabilities match
frequencies is "reliability" (:mod:`spacy_dice.evaluation.reliability`).
"""
from .calibrate import Calibration, CalibrationError, calibrate_pipeline, parse_min_precision, read_dev
from .report import tables, to_json, to_markdown
from .search import BIAS_GRID, CURRENT, THRESHOLD_GRID, Objective, Problem, fit_problem, make_folds
from .targets import NoGoldError

__all__ = [
    "BIAS_GRID", "CURRENT", "THRESHOLD_GRID", "Calibration", "CalibrationError", "NoGoldError",
    "Objective", "Problem", "calibrate_pipeline", "fit_problem", "make_folds", "parse_min_precision",
    "read_dev", "tables", "to_json", "to_markdown",
]
