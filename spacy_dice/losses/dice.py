"""Dice loss (DL) and the paper's self-adjusting dice loss (DSC).

Paper: Li et al. 2020, section 3.3-3.4, equations (9)-(12); Milletari et al. 2016 for the squared
denominator. ``alpha = 0`` gives DL, ``alpha > 0`` the self-adjusting DSC, whose factor
``(1 - p)^alpha`` pushes down easy examples. The authors ran ``alpha = 0.01``, ``smooth = 1`` with the
squared denominator. With ``alpha > 0`` a confident positive does not reach loss 0: the positive
term is best at ``p = 1 / (1 + alpha)``.
"""
from typing import Any, Tuple

from .base import (
    CLASS_REDUCTIONS,
    LEVELS,
    Batch,
    DiceFamilyLoss,
    logits_grad,
    tiny_for,
    validate_choice,
    validate_non_negative,
)


class DiceLoss(DiceFamilyLoss):
    """Smoothed (self-adjusting) dice loss, one-vs-rest per class.

    With ``Q = (1 - P)^alpha * P``, ``k = 2`` if ``square_denominator`` else 1, ``s = smooth`` and
    ``agg_c`` the mean (``class_reduction="mean"``) or sum over the ``C`` classes:

    * ``level="instance"`` (paper eq. 12, one term per row and class):
      ``L = (1/n) sum_i m_i agg_c [1 - (2 Q_ic Y_ic + s) / (Q_ic^k + Y_ic^k + s)]``
    * ``level="set"`` (the whole batch as one set, as the authors' code does for binary tasks):
      ``L = agg_c [1 - (2 sum_i m_i Q_ic Y_ic + s) / (sum_i m_i Q_ic^k + sum_i m_i Y_ic^k + s)]``

    The gradient is taken w.r.t. the pre-activation logits (see :mod:`.base`), through
    ``dQ/dP = (1-P)^(alpha-1) ((1-P) - alpha P)``. For hard 0/1 predictions, ``smooth = 0``,
    ``alpha = 0`` and one class at set level, the loss is ``1 - F1``.
    """

    name = "DiceLoss"

    def __init__(
        self,
        smooth: float = 1.0,
        alpha: float = 0.0,
        square_denominator: bool = True,
        level: str = "instance",
        class_reduction: str = "mean",
        *,
        activation: str = "softmax",
    ) -> None:
        super().__init__(activation=activation)
        self.smooth = validate_non_negative(self.name, "smooth", smooth)
        self.alpha = validate_non_negative(self.name, "alpha", alpha)
        if not isinstance(square_denominator, bool):
            raise ValueError(
                f"{self.name}: square_denominator={square_denominator!r} is not allowed; use true or false"
            )
        self.square_denominator = square_denominator
        self.level = validate_choice(self.name, "level", level, LEVELS)
        self.class_reduction = validate_choice(
            self.name, "class_reduction", class_reduction, CLASS_REDUCTIONS
        )

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        xp, P, Y = batch.xp, batch.P, batch.Y
        if batch.n == 0:
            return xp.zeros_like(P), 0.0
        tiny = tiny_for(P)
        s = self.smooth
        if self.alpha:
            one_minus = 1.0 - P
            factor = one_minus**self.alpha
            Q = factor * P
        else:
            Q = P
        Qk = Q * Q if self.square_denominator else Q
        mask = batch.row_mask[:, None] if batch.cell_mask is None else batch.cell_mask
        per_class = 1.0 / P.shape[1] if self.class_reduction == "mean" else 1.0
        QY = Q * Y
        if self.level == "instance":
            # Y is 0/1 so Y^k = Y.
            den = xp.maximum(Qk + Y + s, tiny)
            D = (2.0 * QY + s) / den
            value = float(per_class * (mask * (1.0 - D)).sum() / batch.n)
            scale = mask * (-per_class / batch.n)
        else:
            overlap = (mask * QY).sum(axis=0)
            den = xp.maximum((mask * Qk).sum(axis=0) + Y.sum(axis=0) + s, tiny)
            D = (2.0 * overlap + s) / den
            value = float(per_class * (1.0 - D).sum())
            scale = mask * (-per_class)
        if not with_grad:
            return None, value
        # dL/dQ = scale * (2 Y - D k Q^(k-1)) / den
        dQ = (2.0 * Y - (2.0 * D * Q if self.square_denominator else D)) / den
        dQ *= scale
        if self.alpha:
            # dQ/dP = (1-P)^alpha / (1-P) * ((1-P) - alpha P); where P = 1 exactly the logit
            # gradient's limit is 0, which the floor in the division gives.
            dQ *= factor / xp.maximum(one_minus, tiny) * (one_minus - self.alpha * P)
        return logits_grad(batch, dQ), value
