"""The settings every dice component shares, their defaults and their checks.

``loss`` comes from the component's ``[components.NAME.loss]`` block (its default is per factory,
:mod:`.default_losses`); ``grad_scale`` and ``head_learn_rate_scale`` are the same for every
factory. :data:`SHARED_DEFAULTS` is their default-config fragment; :func:`dice_factory
<spacy_dice.pipeline.base.dice_factory>` adds them to each factory.
"""
import math
from typing import Any, Dict

GRAD_SCALE_LABELLED = "labelled"

SHARED_DEFAULTS: Dict[str, Any] = {"grad_scale": GRAD_SCALE_LABELLED, "head_learn_rate_scale": 1.0}
"""Default values of the shared settings other than ``loss``."""


def check_grad_scale(component: str, grad_scale: Any) -> Any:
    """Validate the ``grad_scale`` setting: ``"labelled"`` or a number > 0.

    The losses are means over the labelled rows (tokens, or docs for text classification), so their
    gradient per row is ``1/n`` of spaCy's convention: spaCy's own tagger back-propagates the
    unnormalised ``P - Y`` of every token. thinc's Adam (``eps = 1e-8``) then barely moves the hash
    embedding rows, which see few and tiny gradients: on a UNER English-EWT slice, DSC stayed at F1
    0.00 for six epochs with the mean gradient and reached 0.36 with ``"labelled"``; CE went from
    0.32 to 0.34 (``tests/test_realdata_components.py``, docs/BENCHMARKS.md).

    * ``"labelled"`` (default): multiply the gradient by ``n``, the number of labelled rows in the
      batch, i.e. back-propagate the gradient of the SUM over rows, as spaCy does;
    * a number: a constant factor (``1.0`` back-propagates the loss's own gradient unchanged).

    The loss value reported in spaCy's training table is the loss itself, not scaled.
    """
    if grad_scale == GRAD_SCALE_LABELLED:
        return grad_scale
    if _positive_number(grad_scale):
        return float(grad_scale)
    raise ValueError(
        f"[{component}] grad_scale={grad_scale!r} is not allowed; use \"{GRAD_SCALE_LABELLED}\""
        " (multiply the gradient by the number of labelled rows in the batch, spaCy's convention)"
        " or a number > 0 (1.0 leaves the loss's gradient unchanged)"
    )


def check_head_learn_rate_scale(component: str, scale: Any) -> float:
    """Validate ``head_learn_rate_scale``: a finite number > 0 (1.0 = the optimizer's rate).

    What it scales: :mod:`spacy_dice.pipeline.head_learn_rate`.
    """
    if _positive_number(scale):
        return float(scale)
    raise ValueError(
        f"[{component}] head_learn_rate_scale={scale!r} is not allowed; use a number > 0 that"
        " multiplies [training.optimizer] learn_rate for this component's own layers (1.0 = the"
        " same rate as the rest of the pipeline; e.g. 100-200 for a zero-initialised head on a"
        " transformer fine-tuned at 5e-5)"
    )


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value) and value > 0
    )
