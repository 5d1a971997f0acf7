"""Sigmoid output layers whose backprop takes LOGIT gradients.

spacy-dice losses return ``dL/dZ``, the gradient with respect to the pre-activation logits ``Z``
(see :mod:`spacy_dice.losses.base`). thinc's ``Logistic`` (the end of spaCy's
``spacy.LinearLogistic.v1``) multiplies the incoming gradient by the sigmoid's derivative
``P (1 - P)``: spaCy's ``spancat`` feeds it ``P - Y``, so its loss is in effect the squared error
``(1/2) sum (P - Y)^2`` on probabilities, whose logit gradient ``(P - Y) P (1 - P)`` vanishes on
confidently wrong spans.

* :func:`sigmoid_logits` (``spacy-dice.SigmoidLogits.v1``): ``P = sigmoid(Z)`` forward, identity
  backward (``dZ = dP``): the sigmoid counterpart of thinc's ``Softmax_v2``.
* :func:`linear_logits` (``spacy-dice.LinearLogits.v1``): ``chain(Linear, SigmoidLogits)``, a
  drop-in for ``spacy.LinearLogistic.v1`` with the same parameters, initialisation and forward.
"""
from typing import Callable, Optional, Tuple

from thinc.api import Linear, Model, chain, glorot_uniform_init, registry
from thinc.types import Floats2d

SIGMOID_LOGITS = "sigmoid_logits"
"""The name of the :func:`sigmoid_logits` node."""


@registry.layers("spacy-dice.SigmoidLogits.v1")
def sigmoid_logits() -> Model[Floats2d, Floats2d]:
    """``P = sigmoid(Z)``; backprop passes the gradient through unchanged (it must be ``dL/dZ``)."""
    return Model(SIGMOID_LOGITS, _sigmoid_logits_forward)


def _sigmoid_logits_forward(
    model: Model[Floats2d, Floats2d], X: Floats2d, is_train: bool
) -> Tuple[Floats2d, Callable[[Floats2d], Floats2d]]:
    Y = model.ops.sigmoid(X, inplace=False)

    def backprop(dZ: Floats2d) -> Floats2d:
        return dZ

    return Y, backprop


@registry.layers("spacy-dice.LinearLogits.v1")
def linear_logits(nO: Optional[int] = None, nI: Optional[int] = None) -> Model[Floats2d, Floats2d]:
    """``sigmoid(X W + b)`` with logit-gradient backprop; ``spacy.LinearLogistic.v1``'s parameters."""
    return chain(Linear(nO=nO, nI=nI, init_W=glorot_uniform_init), sigmoid_logits())
