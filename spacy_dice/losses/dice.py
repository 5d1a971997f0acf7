"""Dice loss (DL) and the paper's self-adjusting dice loss (DSC).

Paper: Li et al. 2020, section 3.3-3.4, equations (9)-(12); Milletari et al. 2016 for the squared
denominator. ``alpha = 0`` gives DL, ``alpha > 0`` the self-adjusting DSC, whose factor
``(1 - p)^alpha`` pushes down easy examples. The authors ran ``alpha = 0.01``, ``smooth = 1`` with the
squared denominator. With ``alpha > 0`` a confident positive does not reach loss 0: the positive
term is best at ``p = 1 / (1 + alpha)``.
"""
from typing import Any, Tuple

import numpy
from thinc.api import registry

from .base import (
    Batch, OverlapLoss, gold_cells, logits_grad, masked_column_sum, masked_dot, scale_labelled_rows,
    tiny_for, validate_non_negative,
)


@registry.losses("spacy-dice.DiceLoss.v1")
class DiceLoss(OverlapLoss):
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
        self._set_level(level, class_reduction)

    def _self_adjusted(self, xp: Any, P: Any, with_grad: bool) -> Tuple[Any, Any]:
        """``(Q, dQ/dP)`` with ``Q = (1-P)^alpha P`` and
        ``dQ/dP = (1-P)^alpha / (1-P) * ((1-P) - alpha P)`` (None without ``with_grad``).

        For alpha 0 that is ``(P, None)``. Where ``P = 1`` exactly the logit gradient's limit is 0,
        which the floor in the division gives.
        """
        if not self.alpha:
            return P, None
        one_minus = 1.0 - P
        # (1-P)^alpha as exp(alpha log(1-P)): the same to an ulp and twice as fast as a power;
        # log(0) = -inf gives exp(-inf) = 0 = 0^alpha
        with numpy.errstate(divide="ignore"):
            factor = xp.log(one_minus)
        factor *= self.alpha
        factor = xp.exp(factor, out=factor)
        Q = factor * P
        if not with_grad:
            return Q, None
        chain = factor
        chain /= xp.maximum(one_minus, tiny_for(P), out=one_minus)
        # (1 - P) - alpha P = 1 - (1 + alpha) P, written into the floored (1 - P)'s buffer
        rest = xp.multiply(P, -(1.0 + self.alpha), out=one_minus)
        rest += 1.0
        chain *= rest
        return Q, chain

    def _softmax(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        """Softmax batches: ``Y`` is one-hot, so the dense work is done as if every cell had
        ``Y = 0`` and the ``n`` gold cells are then corrected from their own values."""
        xp, P, ids = batch.xp, batch.P, batch.gold_ids
        n, C = batch.n, P.shape[1]
        tiny = tiny_for(P)
        s = self.smooth
        squared = self.square_denominator
        k = 2.0 if squared else 1.0
        per_class = self.per_class(C)
        Q, chain = self._self_adjusted(xp, P, with_grad)
        q = gold_cells(batch, Q)
        qk = q * q if squared else q
        if self.level == "instance":
            # gold cells: D1 = (2 q + s) / (q^k + 1 + s), 1 - D1 = (1 - q)^2 / den1 (k = 2) or
            # (1 - q) / den1 (k = 1); other cells: 1 - D0 = Q^k / (Q^k + s) (= 1 for s = 0).
            den1 = qk + (1.0 + s)
            D1 = (2.0 * q + s) / den1
            L1 = ((1.0 - q) ** 2 if squared else 1.0 - q) / den1
            B = den0 = None
            if s > 0.0:
                if squared:
                    den0 = Q * Q
                    den0 += s
                else:
                    den0 = Q + s
                if s < tiny:
                    xp.maximum(den0, tiny, out=den0)
                # B = Q^(k-1) / den0, so that 1 - D0 = Q B and the gradient below is s B / den0
                B = xp.divide(Q if squared else 1.0, den0)
                L0_sum = masked_dot(batch, Q, B)
                den0_gold = qk + s
                if s < tiny:
                    den0_gold = xp.maximum(den0_gold, tiny)
                L0_gold = qk / den0_gold  # the same arithmetic as 1 - D0 on the gold cells
            else:
                L0_sum, L0_gold = float(n * C), 1.0
            # sum over the labelled rows and classes of 1 - D, the gold cells' 1 - D0 replaced by 1 - D1
            value = per_class * (L0_sum + float((L1 - L0_gold).sum())) / n
            if not with_grad:
                return None, value
            # dL/dQ = -(per_class / n) m (2 Y - D k Q^(k-1)) / den; where Y = 0 that is
            # (per_class / n) m k Q^(k-1) s / den0^2 (0 for s = 0)
            if den0 is None:
                dQ = xp.zeros_like(P)
            else:
                dQ = B
                dQ /= den0
                scale_labelled_rows(batch, dQ, k * per_class * s / n)
            dQ.ravel()[batch.gold_flat] = (
                (-per_class / n) * (2.0 - D1 * (2.0 * q if squared else 1.0)) / den1
            )
        else:
            counts = xp.bincount(ids, minlength=C).astype(P.dtype)  # sum_i Y_ic
            overlap = xp.bincount(ids, weights=q, minlength=C).astype(P.dtype)
            Qk_sum = masked_column_sum(batch, Q, squared=squared)
            den = xp.maximum(Qk_sum + counts + s, tiny)
            D = (2.0 * overlap + s) / den
            value = float(per_class * (1.0 - D).sum())
            if not with_grad:
                return None, value
            # dL/dQ_ic = -per_class m_i (2 Y_ic - D_c k Q_ic^(k-1)) / den_c
            coef = (k * per_class) * D / den
            if squared:
                dQ = Q * coef[None, :]
            else:
                dQ = xp.empty_like(P)
                dQ[...] = coef[None, :]
            scale_labelled_rows(batch, dQ, 1.0)
            den_gold = den[ids]
            dQ.ravel()[batch.gold_flat] = (
                (q * coef[ids] if squared else coef[ids]) - (2.0 * per_class) / den_gold
            )
        if chain is not None:
            dQ *= chain
        return logits_grad(batch, dQ), value

    def _dense(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        """Sigmoid batches: dense 0/1 gold ``Y`` and per-cell mask."""
        xp, P, Y = batch.xp, batch.P, batch.Y
        tiny = tiny_for(P)
        s = self.smooth
        Q, chain = self._self_adjusted(xp, P, with_grad)
        Qk = Q * Q if self.square_denominator else Q
        mask = batch.cell_mask
        per_class = self.per_class(P.shape[1])
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
        if chain is not None:
            dQ *= chain
        return logits_grad(batch, dQ), value
