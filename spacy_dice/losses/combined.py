"""A weighted sum of losses, e.g. CE + dice (a common remedy for dice's slow start).

``L = sum_k w_k L_k`` and ``dZ = sum_k w_k dZ_k``. Config form::

    [components.ner.loss]
    @losses = "spacy-dice.CombinedLoss.v1"

    [components.ner.loss.losses]

    [components.ner.loss.losses.ce]
    @losses = "spacy-dice.CrossEntropy.v1"

    [components.ner.loss.losses.dsc]
    @losses = "spacy-dice.DiceLoss.v1"
    alpha = 0.01

    [components.ner.loss.weights]
    ce = 0.5
    dsc = 1.0
"""
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from thinc.api import registry
from thinc.loss import Loss

from .base import DiceFamilyLoss, Guesses, Truths


@registry.losses("spacy-dice.CombinedLoss.v1")
class CombinedLoss(Loss):
    """Weighted sum of named sub-losses; sub-losses not named in ``weights`` weigh 1.

    Sub-losses of this package share one flattened batch. Any other thinc loss with the same call
    convention (``loss(guesses, truths) -> (d_guesses, value)``) may be mixed in.
    """

    name = "CombinedLoss"

    def __init__(
        self, losses: Mapping[str, Any], weights: Optional[Mapping[str, float]] = None
    ) -> None:
        if not losses:
            raise ValueError(
                f"{self.name}: losses is empty; give at least one sub-loss, e.g."
                " [loss.losses.ce] with @losses = \"spacy-dice.CrossEntropy.v1\""
            )
        for key, loss in losses.items():
            if not callable(loss) or not hasattr(loss, "get_grad"):
                raise ValueError(
                    f"{self.name}: losses[{key!r}] is a {type(loss).__name__}, not a thinc loss;"
                    " use an @losses block"
                )
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(losses))
        if unknown:
            raise ValueError(
                f"{self.name}: weights name unknown sub-loss(es) {unknown}; the sub-losses are"
                f" {sorted(losses)}"
            )
        for key, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
                raise ValueError(
                    f"{self.name}: weights[{key!r}]={weight!r} is not allowed; use a number >= 0"
                )
        activations = {getattr(loss, "activation", None) for loss in losses.values()} - {None}
        if len(activations) > 1:
            raise ValueError(
                f"{self.name}: the sub-losses mix activations {sorted(activations)}; all must be"
                " 'softmax' or all 'sigmoid'"
            )
        self.losses: Dict[str, Any] = dict(losses)
        self.weights: Dict[str, float] = {k: float(weights.get(k, 1.0)) for k in self.losses}
        self.activation = activations.pop() if activations else "softmax"

    def initialize(self, labels: Sequence[str], label_counts: Optional[Mapping[str, int]] = None) -> None:
        """Pass the label names and counts on to every sub-loss that takes them."""
        for loss in self.losses.values():
            if hasattr(loss, "initialize"):
                loss.initialize(labels, label_counts)

    def _active(self) -> Dict[str, Any]:
        """The sub-losses to compute (all of them here; subclasses may skip zero weights)."""
        return self.losses

    def __call__(self, guesses: Guesses, truths: Truths) -> Tuple[Any, float]:
        active = self._active()
        ours = [k for k, loss in active.items() if isinstance(loss, DiceFamilyLoss)]
        total_grad = None
        total = 0.0
        if ours:
            batch = self.losses[ours[0]].make_batch(guesses, truths)
            for key in ours:
                grad, value = self.losses[key]._compute(batch, True)
                grad = grad * self.weights[key]
                total_grad = grad if total_grad is None else total_grad + grad
                total += self.weights[key] * value
            total_grad = batch.unflatten(total_grad)
        for key, loss in active.items():
            if key in ours:
                continue
            grad, value = loss(guesses, truths)
            total += self.weights[key] * float(value)
            total_grad = _add_scaled(total_grad, grad, self.weights[key])
        return total_grad, total

    def get_grad(self, guesses: Guesses, truths: Truths) -> Any:
        return self(guesses, truths)[0]

    def get_loss(self, guesses: Guesses, truths: Truths) -> float:
        return sum(
            self.weights[key] * float(loss.get_loss(guesses, truths))
            for key, loss in self._active().items()
        )


def _add_scaled(total: Any, grad: Any, weight: float) -> Any:
    """``total + weight * grad`` for an array or a list of arrays (``total`` may be None)."""
    if isinstance(grad, (list, tuple)):
        if total is None:
            return [g * weight for g in grad]
        return [t + g * weight for t, g in zip(total, grad)]
    return grad * weight if total is None else total + grad * weight
