"""Log-space dice loss: ``-log`` of the (self-adjusting) dice coefficient.

The remedy docs/LOSSES.md derives for dice's vanishing gradient. Through the softmax, the gradient
of any loss w.r.t. the gold logit is ``dL/dz_c = p_c (dL/dp_c - sum_k p_k dL/dp_k)``. Dice's
``dL/dp_c`` is bounded, so once a class's probability is pushed toward 0 its logit gradient goes to
0 with it (it carries the factor ``p_c``). Taking the log of the coefficient divides the gradient by
the coefficient: at set level the gold token's logit gradient becomes about
``-2 p_ic / (2 TP_c + s)``, i.e. ``-1 / count_c`` when all of class ``c``'s probabilities are
equally small: it does not vanish as long as ``smooth`` is small next to ``TP_c``. At instance level
the gold cell's term is ``-log((2q + s) / (q^k + 1 + s))``, about ``-log 2q``, cross-entropy-like.

This is the paper's dice (Li et al. 2020, eq. 11-12) with a log, the ``gamma = 1`` case of the
exponential logarithmic loss of Wong et al. (MICCAI 2018).
"""
from typing import Any, Tuple

from thinc.api import registry

from .base import Batch, logits_grad
from .dice import DiceLoss


@registry.losses("spacy-dice.LogDiceLoss.v1")
class LogDiceLoss(DiceLoss):
    """``-log`` of the smoothed (self-adjusting) dice coefficient, one-vs-rest per class.

    With ``Q = (1 - P)^alpha P``, ``k = 2`` if ``square_denominator`` else 1, ``s = smooth > 0``, ``M``
    the labelled-cell mask, ``n`` the number of labelled rows and ``agg_c`` the mean
    (``class_reduction="mean"``) or sum over the ``C`` classes:

    * ``level="set"`` (default; the form that approximates F1):
      ``L = agg_c -log[(2 sum_i M_ic Q_ic Y_ic + s) / (sum_i M_ic Q_ic^k + sum_i M_ic Y_ic + s)]``,
      ``dL/dQ_ic = agg M_ic (k Q_ic^(k-1) / den_c - 2 Y_ic / num_c)``;
    * ``level="instance"``:
      ``L = (1/n) sum_i agg_c M_ic -log[(2 Q_ic Y_ic + s) / (Q_ic^k + Y_ic + s)]``,
      ``dL/dQ_ic = (agg / n) M_ic (k Q_ic^(k-1) / den_ic - 2 Y_ic / num_ic)``.

    ``smooth`` must be > 0 (a class with no gold and no probability mass would be ``-log(0/0)``); it
    is also the floor below which the log no longer rescues a vanishing class, so keep it small
    next to the overlap ``TP_c`` of a batch (default 0.01). The gradient is returned w.r.t. the
    pre-activation logits (see :mod:`.base`).
    """

    name = "LogDiceLoss"

    def __init__(
        self,
        smooth: float = 0.01,
        alpha: float = 0.0,
        square_denominator: bool = True,
        level: str = "set",
        class_reduction: str = "mean",
        *,
        activation: str = "softmax",
    ) -> None:
        super().__init__(smooth, alpha, square_denominator, level, class_reduction,
                         activation=activation)
        if not self.smooth > 0.0:
            raise ValueError(
                f"{self.name}: smooth={smooth!r} is not allowed; use a number > 0 (a class without"
                " gold or probability mass gives -log(0/0) otherwise), e.g. 0.01"
            )

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        xp, P = batch.xp, batch.P
        if batch.n == 0:
            return xp.zeros_like(P), 0.0
        Y = batch.Y
        M = batch.cell_mask if batch.cell_mask is not None else batch.row_mask[:, None]
        s = self.smooth
        squared = self.square_denominator
        k = 2.0 if squared else 1.0
        per_class = self.per_class(P.shape[1])
        Q, chain = self._self_adjusted(xp, P, with_grad)
        Qk = Q * Q if squared else Q
        if self.level == "instance":
            num = 2.0 * Q * Y + s
            den = Qk + Y + s
            value = float(per_class * (M * (xp.log(den) - xp.log(num))).sum() / batch.n)
            scale = M * (per_class / batch.n)
        else:
            num = 2.0 * (M * Q * Y).sum(axis=0) + s
            den = (M * Qk).sum(axis=0) + (M * Y).sum(axis=0) + s
            value = float(per_class * (xp.log(den) - xp.log(num)).sum())
            scale = M * per_class
            num, den = num[None, :], den[None, :]
        if not with_grad:
            return None, value
        dQ = (k * Q if squared else 1.0) / den - 2.0 * Y / num
        dQ = dQ * scale
        if chain is not None:
            dQ *= chain
        return logits_grad(batch, dQ), value
