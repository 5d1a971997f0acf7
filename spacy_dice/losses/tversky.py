"""Tversky loss (TL): dice with separate weights for false positives and false negatives.

Paper: Li et al. 2020, section 3.3, equation (10) and Table 10 (the alpha sweep with beta = 1 - alpha);
Salehi et al. 2017. ``alpha = beta = 0.5`` gives the (non-squared) dice loss.
"""
from typing import Any, Tuple

from thinc.api import registry

from .base import (
    Batch, OverlapLoss, gold_cells, logits_grad, masked_column_sum, masked_dot, scale_labelled_rows,
    tiny_for, validate_non_negative,
)


@registry.losses("spacy-dice.TverskyLoss.v1")
class TverskyLoss(OverlapLoss):
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
        self._set_level(level, class_reduction)

    def _softmax(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        """Softmax batches: ``Y`` is one-hot, so the dense work is done as if every cell had
        ``Y = 0`` (``TP = FN = 0``, ``FP = P``) and the ``n`` gold cells are then corrected."""
        xp, P, ids = batch.xp, batch.P, batch.gold_ids
        n, C = batch.n, P.shape[1]
        a, b, s = self.alpha, self.beta, self.smooth
        tiny = tiny_for(P)
        per_class = self.per_class(C)
        p = gold_cells(batch, P)
        if self.level == "instance":
            # gold cells: T1 = (p + s) / ((1 - b) p + b + s); other cells: T0 = s / (a P + s)
            den1 = xp.maximum((1.0 - b) * p + (b + s), tiny)
            T1 = (p + s) / den1
            B = den0 = None
            if s > 0.0 and a > 0.0:
                den0 = P * a
                den0 += s
                if s < tiny:
                    xp.maximum(den0, tiny, out=den0)
                B = xp.divide(1.0, den0)  # 1 - T0 = a P B; the gradient below is a s B / den0
                L0_sum = a * masked_dot(batch, P, B)
                ap = p * a
                den0_gold = ap + s
                if s < tiny:
                    den0_gold = xp.maximum(den0_gold, tiny)
                L0_gold = ap / den0_gold  # 1 - T0 on the gold cells
            elif s > 0.0:  # a = 0: T0 = s / s = 1
                L0_sum, L0_gold = 0.0, 0.0
            else:  # s = 0: T0 = 0 / max(a P, tiny) = 0
                L0_sum, L0_gold = float(n * C), 1.0
            value = per_class * (L0_sum + float((1.0 - T1 - L0_gold).sum())) / n
            if not with_grad:
                return None, value
            # dL/dP = -(per_class / n) m (Y - T (a + (1 - a - b) Y)) / den; where Y = 0 that is
            # (per_class / n) m a s / den0^2 (0 for s = 0 or a = 0)
            if den0 is None:
                dP = xp.zeros_like(P)
            else:
                dP = B
                dP /= den0
                scale_labelled_rows(batch, dP, a * s * per_class / n)
            dP.ravel()[batch.gold_flat] = (-per_class / n) * (1.0 - T1 * (1.0 - b)) / den1
        else:
            counts = xp.bincount(ids, minlength=C).astype(P.dtype)  # sum_i Y_ic
            tp = xp.bincount(ids, weights=p, minlength=C).astype(P.dtype)
            fp = masked_column_sum(batch, P) - tp
            fn = counts - tp
            den = xp.maximum(tp + a * fp + b * fn + s, tiny)
            T = (tp + s) / den
            value = float(per_class * (1.0 - T).sum())
            if not with_grad:
                return None, value
            # dL/dP_ic = -per_class m_i (Y_ic - T_c (a + (1 - a - b) Y_ic)) / den_c
            dP = xp.empty_like(P)
            dP[...] = ((a * per_class) * T / den)[None, :]
            scale_labelled_rows(batch, dP, 1.0)
            dP.ravel()[batch.gold_flat] = -per_class * (1.0 - T[ids] * (1.0 - b)) / den[ids]
        return logits_grad(batch, dP), value

    def _dense(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        """Sigmoid batches: dense 0/1 gold ``Y`` and per-cell mask."""
        xp, P, Y = batch.xp, batch.P, batch.Y
        a, b, s = self.alpha, self.beta, self.smooth
        mask = batch.cell_mask
        per_class = self.per_class(P.shape[1])
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
