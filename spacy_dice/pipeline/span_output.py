"""Output layers of the span components: sigmoid probabilities forward, LOGIT gradients backward.

spacy-dice losses return ``dL/dZ``, the gradient with respect to the pre-activation logits ``Z``
(see :mod:`spacy_dice.losses.base`). spaCy's span models end in ``spacy.LinearLogistic.v1`` =
``chain(Linear, Logistic)``, whose ``Logistic`` backprop multiplies the incoming gradient by the
sigmoid's derivative ``P (1 - P)``: spaCy's ``spancat`` feeds it ``P - Y``, so its loss is in effect
the squared error ``(1/2) sum (P - Y)^2`` on probabilities, whose logit gradient
``(P - Y) P (1 - P)`` vanishes on confidently wrong spans.

* :func:`sigmoid_logits` (``spacy-dice.SigmoidLogits.v1``): ``P = sigmoid(Z)`` forward, identity
  backward (``dZ = dP``): the sigmoid counterpart of thinc's ``Softmax_v2``.
* :func:`linear_logits` (``spacy-dice.LinearLogits.v1``): ``chain(Linear, SigmoidLogits)``, a
  drop-in for ``spacy.LinearLogistic.v1`` with the same parameters, initialisation and forward.
* :func:`prepare_span_scorer`: what ``dice_spancat``, ``dice_spancat_singlelabel`` and
  ``dice_span_finder`` do with their model: accept an output layer that passes logit gradients,
  ADAPT spaCy's ``LinearLogistic`` (its parameter-free ``Logistic`` node is replaced by
  ``SigmoidLogits``: same forward, same weights, same serialised structure), refuse anything else
  with a message that names the component and what to use.
"""
from typing import Callable, List, Optional, Tuple

from thinc.api import Linear, Model, chain, glorot_uniform_init, registry
from thinc.types import Floats2d

SIGMOID_LOGITS = "sigmoid_logits"
# thinc layers whose forward is a sigmoid and whose backprop multiplies by P (1 - P): parameter
# free, so the component can swap them for SigmoidLogits without touching a weight.
ADAPTABLE_SIGMOIDS = ("logistic", "sigmoid_activation")
# softmax layers whose backprop is the identity (logit gradients): thinc's Softmax and Softmax_v2
LOGIT_GRADIENT_SOFTMAX = ("softmax",)


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


def _last_leaf(model: Model) -> Tuple[Optional[Model], Model]:
    """``(parent, leaf)``: the last node reached by following ``layers[-1]`` from ``model``."""
    parent = None
    node = model
    while node.layers:
        parent, node = node, node.layers[-1]
    return parent, node


def prepare_span_scorer(component: str, model: Model, activation: str) -> List[str]:
    """Make sure the gradient a loss returns reaches the logits unchanged; adapt or refuse.

    ``model`` must have a ``"scorer"`` reference (``spacy.SpanCategorizer.v1``,
    ``spacy.SpanFinder.v1``). Its last layer must, for ``activation="sigmoid"``, be
    ``SigmoidLogits`` (accepted) or thinc's ``Logistic`` / ``sigmoid_activation`` inside a chain
    (replaced in place by ``SigmoidLogits``); for ``activation="softmax"``, thinc's ``Softmax`` or
    ``Softmax_v2`` (whose backprop is already the identity). Returns the adaptations made (for
    the component's log), e.g. ``["logistic -> sigmoid_logits"]``.

    Raises:
        ValueError: no ``scorer`` reference, or an output layer that is neither accepted nor
            adaptable; the message names the component and the layers to use.
    """
    use = (
        "spacy-dice.LinearLogits.v1 (or spaCy's spacy.LinearLogistic.v1, which the component"
        " adapts)" if activation == "sigmoid" else "thinc's Softmax.v2 (spaCy's default)"
    )
    if not model.has_ref("scorer"):
        raise ValueError(
            f"[{component}] model: {model.name!r} has no 'scorer' layer; use spaCy's"
            " spacy.SpanCategorizer.v1 (span categorizers) or spacy.SpanFinder.v1 (span finder)"
            f" with scorer = {use}"
        )
    parent, leaf = _last_leaf(model.get_ref("scorer"))
    if activation == "sigmoid":
        if leaf.name == SIGMOID_LOGITS:
            return []
        if leaf.name in ADAPTABLE_SIGMOIDS and parent is not None and not leaf.param_names:
            parent.layers[-1] = sigmoid_logits()
            return [f"{leaf.name} -> {SIGMOID_LOGITS}"]
    elif leaf.name in LOGIT_GRADIENT_SOFTMAX:
        return []
    raise ValueError(
        f"[{component}] model: the scorer's output layer {leaf.name!r} does not pass gradients"
        f" with respect to the logits to the layers below it, which spacy-dice losses need"
        f" ({activation} mode). Use scorer = {use}."
    )

