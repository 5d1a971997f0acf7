"""Cross-entropy (CE), weighted cross-entropy (WCE) and focal loss (FL).

Paper: Li et al. 2020, section 3.2 (CE, WCE) and Table 3-7 rows "+FL" (Lin et al. 2017).
"""
from typing import Any, Tuple

from thinc.api import registry

from .base import Batch, DiceFamilyLoss, eps_for, tiny_for, validate_non_negative
from .weights import ClassWeightsSpec


@registry.losses("spacy-dice.FocalLoss.v1")
class FocalLoss(DiceFamilyLoss):
    """Focal loss; with ``gamma = 0`` it is (weighted) cross-entropy.

    softmax (``p_i = P[i, y_i]``, the probability of row i's gold class):
        ``L = (1/n) sum_i m_i w_{y_i} (1 - p_i)^gamma (-log p_i)``
    gradient w.r.t. the logits, with ``g_i = (1 - p_i)^gamma - gamma (1 - p_i)^(gamma-1) p_i log p_i``:
        ``dZ_ic = (m_i w_{y_i} / n) g_i (P_ic - Y_ic)`` (``g = 1`` for CE: ``dZ = (P - Y) / n``).

    sigmoid (each column an independent binary problem, ``p_t = P`` where gold is 1, ``1 - P`` where 0):
        ``L = (1/n) sum_i (1/C) sum_c m_ic w_c (1 - p_t)^gamma (-log p_t)`` (torch's
        ``binary_cross_entropy`` with mean reduction when nothing is missing).

    ``log`` is taken of ``max(p, tiny)``, so exact zeros give a large finite loss, never inf.
    Class weights (``w``) are the paper's WCE / the focal ``alpha_t``; see :mod:`.weights`.
    """

    name = "FocalLoss"

    def __init__(
        self,
        gamma: float = 2.0,
        *,
        class_weights: ClassWeightsSpec = None,
        activation: str = "softmax",
    ) -> None:
        super().__init__(activation=activation, class_weights=class_weights)
        self.gamma = validate_non_negative(self.name, "gamma", gamma)

    def _focal_factor(self, xp: Any, p: Any) -> Tuple[Any, Any]:
        """Return ``(1-p)^gamma * (-log p)`` and ``g`` such that ``p * dloss/dp = -g`` (None: g = 1)."""
        neg_log_p = -xp.log(xp.maximum(p, tiny_for(p)))
        if self.gamma == 0.0:
            return neg_log_p, None
        one_minus = 1.0 - p
        modulator = one_minus**self.gamma
        # (1-p)^(gamma-1) is infinite at p = 1 for gamma < 1; there p log p = 0, so flooring 1-p is exact.
        slope = self.gamma * xp.maximum(one_minus, eps_for(p)) ** (self.gamma - 1.0)
        return modulator * neg_log_p, modulator + slope * p * neg_log_p

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        xp, P = batch.xp, batch.P
        if batch.n == 0:
            return xp.zeros_like(P), 0.0
        weights = self.weight_vector(batch)
        if batch.cell_mask is None:
            return self._softmax(batch, weights, with_grad)
        return self._sigmoid(batch, weights, with_grad)

    def _softmax(self, batch: Batch, weights: Any, with_grad: bool) -> Tuple[Any, float]:
        xp, P, gold, mask = batch.xp, batch.P, batch.gold, batch.row_mask
        safe_gold = xp.maximum(gold, 0)
        p = P[xp.arange(P.shape[0]), safe_gold]
        losses, g = self._focal_factor(xp, p)
        row_scale = mask / batch.n
        if weights is not None:
            row_scale = row_scale * weights[safe_gold]
        value = float((losses * row_scale).sum())
        if not with_grad:
            return None, value
        dZ = P.copy()
        dZ.ravel()[batch.gold_flat] -= 1.0  # P - Y without building the one-hot Y
        dZ *= (row_scale if g is None else g * row_scale)[:, None]
        return dZ, value

    def _sigmoid(self, batch: Batch, weights: Any, with_grad: bool) -> Tuple[Any, float]:
        xp, P, Y, mask = batch.xp, batch.P, batch.Y, batch.cell_mask
        p_t = xp.where(Y > 0, P, 1.0 - P)
        losses, g = self._focal_factor(xp, p_t)
        cell_scale = mask / (batch.n * P.shape[1])
        if weights is not None:
            cell_scale = cell_scale * weights[None, :]
        value = float((losses * cell_scale).sum())
        if not with_grad:
            return None, value
        # dz p_t = +-p_t (1 - p_t), so dL/dz = g (1 - p_t) * (-1 if gold is 1 else +1) = g (P - Y).
        dZ = (P - Y) * cell_scale
        return (dZ if g is None else dZ * g), value


@registry.losses("spacy-dice.CrossEntropy.v1")
class CrossEntropy(FocalLoss):
    """Cross-entropy (CE); with class weights, the paper's weighted CE (WCE).

    softmax, with label smoothing ``eps`` the target is ``T = (1 - eps) Y + eps / C``:
        ``L = (1/n) sum_i m_i w_{y_i} sum_c -T_ic log P_ic``, ``dZ_ic = (m_i w_{y_i} / n) (P_ic - T_ic)``.
    Without smoothing this is ``(1/n) sum_i m_i w_{y_i} (-log P[i, y_i])``: focal loss with gamma 0.
    sigmoid: binary cross-entropy per column (see :class:`FocalLoss`), smoothing ``T = (1-eps) Y + eps/2``.
    """

    name = "CrossEntropy"

    def __init__(
        self,
        *,
        class_weights: ClassWeightsSpec = None,
        label_smoothing: float = 0.0,
        activation: str = "softmax",
    ) -> None:
        super().__init__(0.0, class_weights=class_weights, activation=activation)
        smoothing = validate_non_negative(self.name, "label_smoothing", label_smoothing)
        if smoothing >= 1.0:
            raise ValueError(
                f"{self.name}: label_smoothing={label_smoothing!r} is not allowed; use 0 <= value < 1"
            )
        self.label_smoothing = smoothing

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        if self.label_smoothing == 0.0 or batch.n == 0:
            return super()._compute(batch, with_grad)
        xp, P, Y = batch.xp, batch.P, batch.Y
        weights = self.weight_vector(batch)
        eps = self.label_smoothing
        log_P = xp.log(xp.maximum(P, tiny_for(P)))
        if batch.cell_mask is None:
            T = (1.0 - eps) * Y + eps / P.shape[1]
            scale = batch.row_mask / batch.n
            if weights is not None:
                scale = scale * weights[xp.maximum(batch.gold, 0)]
            value = float((-(T * log_P).sum(axis=1) * scale).sum())
            return ((P - T) * scale[:, None] if with_grad else None), value
        T = (1.0 - eps) * Y + eps / 2.0
        log_1mP = xp.log(xp.maximum(1.0 - P, tiny_for(P)))
        scale = batch.cell_mask / (batch.n * P.shape[1])
        if weights is not None:
            scale = scale * weights[None, :]
        value = float((-(T * log_P + (1.0 - T) * log_1mP) * scale).sum())
        return ((P - T) * scale if with_grad else None), value
