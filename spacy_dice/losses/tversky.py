"""Tversky loss (TL): dice with separate weights for false positives and false negatives.

Paper: Li et al. 2020, section 3.3, equation (10) and Table 10 (the alpha sweep with beta = 1 - alpha);
Salehi et al. 2017. ``alpha = beta = 0.5`` gives the (non-squared) dice loss.
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


class TverskyLoss(DiceFamilyLoss):
    """Smoothed Tversky loss, one-vs-rest per class.

    With ``TP = P Y``, ``FP = P (1 - Y)``, ``FN = (1 - P) Y`` on labelled rows, ``a = alpha`` (weight
    of false positives), ``b = beta`` (weight of false negatives), ``s = smooth``:

    * ``level="instance"``: ``L = (1/n) sum_i m_i agg_c [1 - (TP + s) / (TP + a FP + b FN + s)]``
    * ``level="set"``: the same with each of TP, FP, FN summed over the labelled rows first, no ``1/n``.

    ``agg_c`` is the mean or the sum over classes (``class_reduction``). The gradient is taken w.r.t.
    the pre-activation logits (see :mod:`.base`).
    """

    name = "TverskyLoss"

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        smooth: float = 1.0,
        level: str = "instance",
        class_reduction: str = "mean",
        *,
        activation: str = "softmax",
    ) -> None:
        super().__init__(activation=activation)
        self.alpha = validate_non_negative(self.name, "alpha", alpha)
        self.beta = validate_non_negative(self.name, "beta", beta)
        self.smooth = validate_non_negative(self.name, "smooth", smooth)
        if self.alpha == 0.0 and self.beta == 0.0 and self.smooth == 0.0:
            raise ValueError(
                f"{self.name}: alpha=0, beta=0 and smooth=0 together make every term 0/0;"
                " set alpha + beta > 0 (the paper uses beta = 1 - alpha) or smooth > 0"
            )
        self.level = validate_choice(self.name, "level", level, LEVELS)
        self.class_reduction = validate_choice(
            self.name, "class_reduction", class_reduction, CLASS_REDUCTIONS
        )

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        xp, P, Y = batch.xp, batch.P, batch.Y
        if batch.n == 0:
            return xp.zeros_like(P), 0.0
        a, b, s = self.alpha, self.beta, self.smooth
        mask = batch.row_mask[:, None] if batch.cell_mask is None else batch.cell_mask
        per_class = 1.0 / P.shape[1] if self.class_reduction == "mean" else 1.0
        TP = P * Y
        if self.level == "instance":
            # TP + a FP + b FN = TP (1 - a - b) + a P + b Y
            den = xp.maximum(TP * (1.0 - a - b) + a * P + b * Y + s, tiny_for(P))
            T = (TP + s) / den
            value = float(per_class * (mask * (1.0 - T)).sum() / batch.n)
            scale = mask * (-per_class / batch.n)
        else:
            tp = (mask * TP).sum(axis=0)
            fp = (mask * P).sum(axis=0) - tp
            fn = Y.sum(axis=0) - tp
            den = xp.maximum(tp + a * fp + b * fn + s, tiny_for(P))
            T = (tp + s) / den
            value = float(per_class * (1.0 - T).sum())
            scale = mask * (-per_class)
        if not with_grad:
            return None, value
        # d den / dP = Y + a (1 - Y) - b Y ; dL/dP = scale * (Y - T d den/dP) / den
        dP = (Y - T * (a + (1.0 - a - b) * Y)) / den
        dP *= scale
        return logits_grad(batch, dP), value
