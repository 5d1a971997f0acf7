"""Training runs: config rewrites by loss preset, one ``spacy train`` run, grids of runs.

:mod:`.config_rewrites` (:func:`with_loss`, :func:`spacy_baseline`), :mod:`.runner`
(:func:`run_training` -> :class:`RunResult`, :func:`evaluate`, :func:`prediction_speed`),
:mod:`.executor` (the trial executor: a grid of runs on a local pool or Ray),
:mod:`.early_stop` (ASHA early stopping of a sweep on Ray Tune), :mod:`.logger` (the
``spacy-dice.JsonlLogger.v1`` training logger that configs name).
"""
from .config_rewrites import LOSS_PRESETS, load_config, loss_block, spacy_baseline, with_loss
from .runner import RunResult, evaluate, prediction_speed, run_training

__all__ = [
    "LOSS_PRESETS", "load_config", "loss_block", "with_loss", "spacy_baseline",
    "RunResult", "run_training", "evaluate", "prediction_speed",
]
