"""Registry functions: ``spacy-dice.<Name>.v1`` in thinc's ``losses`` registry.

Registered both here (``@registry.losses``) and through the ``thinc_losses`` entry point group in
``setup.cfg``, so a config resolves them without importing ``spacy_dice``. Behaviour of a ``.v1``
name never changes; a change of behaviour gets a ``.v2``.
"""
from typing import Any, Dict, List, Optional, Union

from thinc.api import registry

from .combined import CombinedLoss
from .cross_entropy import CrossEntropy, FocalLoss
from .dice import DiceLoss
from .log_dice import LogDiceLoss
from .scheduled import ScheduledCombinedLoss
from .schedules import linear_ramp_v1  # noqa: F401  (registers spacy-dice.LinearRamp.v1)
from .tversky import TverskyLoss

ClassWeights = Optional[Union[str, Dict[str, float], List[float]]]


@registry.losses("spacy-dice.CrossEntropy.v1")
def cross_entropy_v1(
    class_weights: ClassWeights = None,
    label_smoothing: float = 0.0,
    activation: str = "softmax",
) -> CrossEntropy:
    """CE; with ``class_weights`` (a dict by label, a list, ``"inverse_frequency"`` or
    ``"inverse_sqrt_frequency"``) the paper's weighted CE."""
    return CrossEntropy(
        class_weights=class_weights, label_smoothing=label_smoothing, activation=activation
    )


@registry.losses("spacy-dice.FocalLoss.v1")
def focal_loss_v1(
    gamma: float = 2.0,
    class_weights: ClassWeights = None,
    activation: str = "softmax",
) -> FocalLoss:
    """Focal loss ``(1-p)^gamma (-log p)``, optionally class-weighted (the focal ``alpha_t``)."""
    return FocalLoss(gamma, class_weights=class_weights, activation=activation)


@registry.losses("spacy-dice.DiceLoss.v1")
def dice_loss_v1(
    smooth: float = 1.0,
    alpha: float = 0.0,
    square_denominator: bool = True,
    level: str = "instance",
    class_reduction: str = "mean",
    activation: str = "softmax",
) -> DiceLoss:
    """Dice loss (``alpha = 0``) or the paper's self-adjusting DSC (``alpha > 0``; paper: 0.01)."""
    return DiceLoss(
        smooth, alpha, square_denominator, level, class_reduction, activation=activation
    )


@registry.losses("spacy-dice.LogDiceLoss.v1")
def log_dice_loss_v1(
    smooth: float = 0.01,
    alpha: float = 0.0,
    square_denominator: bool = True,
    level: str = "set",
    class_reduction: str = "mean",
    activation: str = "softmax",
) -> LogDiceLoss:
    """``-log`` of the (self-adjusting) dice coefficient: dice whose gradient does not vanish with
    the probability of a class (docs/LOSSES.md). ``smooth`` must be > 0."""
    return LogDiceLoss(
        smooth, alpha, square_denominator, level, class_reduction, activation=activation
    )


@registry.losses("spacy-dice.TverskyLoss.v1")
def tversky_loss_v1(
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    level: str = "instance",
    class_reduction: str = "mean",
    activation: str = "softmax",
) -> TverskyLoss:
    """Tversky loss: ``alpha`` weighs false positives, ``beta`` false negatives."""
    return TverskyLoss(alpha, beta, smooth, level, class_reduction, activation=activation)


@registry.losses("spacy-dice.CombinedLoss.v1")
def combined_loss_v1(
    losses: Dict[str, Any],
    weights: Optional[Dict[str, float]] = None,
) -> CombinedLoss:
    """Weighted sum of named sub-losses (``[loss.losses.NAME]`` blocks, ``[loss.weights]``).

    ``losses`` is typed ``Any`` because confection validates the unresolved sub-blocks against the
    annotation; :class:`CombinedLoss` checks that each resolved value is a loss.
    """
    return CombinedLoss(losses, weights)


@registry.losses("spacy-dice.ScheduledCombinedLoss.v1")
def scheduled_combined_loss_v1(
    losses: Dict[str, Any],
    weights: Optional[Dict[str, Any]] = None,
) -> ScheduledCombinedLoss:
    """Weighted sum of named sub-losses whose weights are numbers or thinc schedules over the
    component's update steps (``[loss.weights.NAME]`` with ``@schedules = ...``), e.g. CE first and
    dice later. See :mod:`spacy_dice.losses.scheduled`.
    """
    return ScheduledCombinedLoss(losses, weights)
