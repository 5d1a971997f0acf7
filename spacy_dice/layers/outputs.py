"""What a model's output layer emits, at prediction and in its backprop.

spacy-dice losses take probabilities and return gradients with respect to the LOGITS ``z``
(``p = softmax(z)`` or ``sigmoid(z)``; PAPER.md, Eq. 1). So for each output layer two questions
matter, and this module is the one place that answers them:

1. **Which gradient does its backprop take?** thinc's ``Softmax`` / ``Softmax_v2`` and our
   ``SigmoidLogits`` pass the incoming gradient through unchanged: it must be ``dL/dz``
   (:data:`LOGIT_GRADIENT_LAYERS`). ``softmax_activation``, ``sigmoid_activation`` and ``Logistic``
   multiply it by the activation's Jacobian: they expect ``dL/dp`` (:data:`PROBABILITY_GRADIENT_LAYERS`).
   ``Linear`` / ``SparseLinear`` emit logits and no probabilities at all (:data:`LOGIT_OUTPUT_LAYERS`).
   A parameter-free ``Logistic`` / ``sigmoid_activation`` inside a chain can be swapped for
   ``SigmoidLogits`` without touching a weight (:func:`adapt_sigmoid_output`).
2. **What does ``model.predict`` return?** ``Softmax_v2`` always normalises while training but at
   prediction only when ``normalize_outputs`` is true (its ``attrs["softmax_normalize"]``);
   ``spacy.Tagger.v2`` ships with ``normalize = false``, so ``predict`` returns raw logits.
   :func:`output_normalizes` reads the layer; :func:`log_probs` and :func:`probabilities` turn
   either into what the decoder and ``doc.cats`` need::

       log p_ij = z_ij - log sum_k exp(z_ik)                  (logits, log-softmax)
       log p_ij = log(max(p_ij, tiny))                         (probabilities)

   Only for a last layer that is not a thinc softmax are the values inspected (rows of
   non-negative numbers summing to 1 are probabilities).
"""
from typing import Any, List, Optional, Tuple

import numpy
from thinc.api import Model, get_array_module

from .logits import SIGMOID_LOGITS, sigmoid_logits

_TINY = float(numpy.finfo(numpy.float32).tiny)

LOGIT_GRADIENT_LAYERS = ("softmax", SIGMOID_LOGITS)
"""Backprop is the identity: the gradient must be (and is) ``dL/dz`` (thinc's Softmax, Softmax_v2;
``spacy-dice.SigmoidLogits.v1``)."""
PROBABILITY_GRADIENT_LAYERS = ("softmax_activation", "sigmoid_activation", "logistic")
"""Backprop multiplies by the activation's Jacobian: the gradient must be ``dL/dp``."""
ADAPTABLE_SIGMOIDS = ("logistic", "sigmoid_activation")
"""Parameter-free sigmoids that :func:`adapt_sigmoid_output` replaces by ``SigmoidLogits``."""
LOGIT_OUTPUT_LAYERS = ("linear", "sparse_linear")
"""Layers that give logits (no softmax): a loss would read logits as probabilities."""
TRANSITION_MODEL_NAMES = ("parser_model",)
"""Model names of spaCy's transition-based parser/ner models (``spacy.TransitionBasedParser.v2``)."""


def last_leaf(model: Model) -> Tuple[Optional[Model], Model]:
    """``(parent, leaf)``: the last node reached by following ``layers[-1]`` from ``model``."""
    parent = None
    node = model
    while node.layers:
        parent, node = node, node.layers[-1]
    return parent, node


def output_layer(model: Model) -> Model:
    """The layer that produces ``model``'s output (the last leaf of its last-layer chain)."""
    return last_leaf(model)[1]


def adapt_sigmoid_output(model: Model) -> List[str]:
    """Make ``model``'s sigmoid output pass logit gradients; return the swaps made.

    A last layer that is already ``SigmoidLogits`` is kept (``[]``); a parameter-free ``Logistic``
    / ``sigmoid_activation`` inside a chain is replaced in place by ``SigmoidLogits`` (same
    forward, same weights, same serialised structure): ``["logistic -> sigmoid_logits"]``.

    Raises:
        ValueError: any other last layer (the caller words the refusal for its component).
    """
    parent, leaf = last_leaf(model)
    if leaf.name == SIGMOID_LOGITS:
        return []
    if leaf.name in ADAPTABLE_SIGMOIDS and parent is not None and not leaf.param_names:
        parent.layers[-1] = sigmoid_logits()
        return [f"{leaf.name} -> {SIGMOID_LOGITS}"]
    raise ValueError(f"output layer {leaf.name!r} cannot be adapted to logit gradients")


def output_normalizes(model: Model) -> Optional[bool]:
    """Whether ``model.predict`` returns probabilities (True), logits (False) or unknown (None).

    Read from the output layer's ``softmax_normalize`` attribute (thinc's ``Softmax`` and
    ``Softmax_v2``); a ``softmax_activation`` / ``logistic`` layer always normalises. Anything else
    is ``None``: :func:`log_probs` then looks at the values.
    """
    layer = output_layer(model)
    if "softmax_normalize" in layer.attrs:
        return bool(layer.attrs["softmax_normalize"])
    if layer.name in PROBABILITY_GRADIENT_LAYERS:
        return True
    return None


def looks_normalized(scores: Any, atol: float = 1e-3) -> bool:
    """Every row lies in [0, 1] and sums to 1 (within ``atol``); an empty array counts as yes."""
    xp = get_array_module(scores)
    if scores.size == 0:
        return True
    if bool((scores < 0).any()) or bool((scores > 1 + atol).any()):
        return False
    return bool(xp.all(xp.abs(scores.sum(axis=-1) - 1.0) <= atol))


def log_softmax(logits: Any) -> Any:
    """Row-wise ``z - logsumexp(z)`` (stable: the row maximum is subtracted first), same array module."""
    xp = get_array_module(logits)
    z = logits.astype("float64") if xp is numpy else logits.astype(logits.dtype)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def log_probs(scores: Any, normalized: Optional[bool]) -> Any:
    """Log-probabilities of one ``(n, n_classes)`` score array.

    ``normalized``: what :func:`output_normalizes` said (None: decided by :func:`looks_normalized`).
    """
    xp = get_array_module(scores)
    if normalized is None:
        normalized = looks_normalized(scores)
    if normalized:
        return xp.log(xp.maximum(scores, _TINY))
    return log_softmax(scores)


def probabilities(scores: Any, normalized: Optional[bool]) -> Any:
    """``softmax(scores)`` when they are logits, else ``scores`` unchanged."""
    if normalized is None:
        normalized = looks_normalized(scores)
    if normalized:
        return scores
    xp = get_array_module(scores)
    return xp.exp(log_softmax(scores)).astype(scores.dtype)
