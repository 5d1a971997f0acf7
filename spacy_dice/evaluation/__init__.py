"""Evaluation of trained pipelines: what is read off a model or its data, never trained.

:mod:`.scores` (spaCy's scores summarized per label), :mod:`.confidences` (each component's
confidences and whether they are right), :mod:`.reliability` (expected calibration error and the
reliability diagram of those confidences), :mod:`.evaluate_table` (the ``evaluate-table`` command's
library function), :mod:`.imbalance` (how imbalanced a corpus is per component, for
``debug-data``), :mod:`.plots` (the figures).
"""
