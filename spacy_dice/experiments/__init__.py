"""Experiments: loss presets, config rewrites and a ``spacy train`` runner.

``presets``: :data:`LOSS_PRESETS`, :func:`with_loss`, :func:`spacy_baseline`.
``runner``: :func:`run_training` -> :class:`RunResult`, :func:`evaluate`,
:func:`prediction_speed`.
"""
from .presets import LOSS_PRESETS, load_config, loss_block, spacy_baseline, with_loss
from .runner import RunResult, evaluate, prediction_speed, run_training

__all__ = [
    "LOSS_PRESETS", "load_config", "loss_block", "with_loss", "spacy_baseline",
    "RunResult", "run_training", "evaluate", "prediction_speed",
]
