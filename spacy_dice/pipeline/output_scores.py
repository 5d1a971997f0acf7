"""What a component's model returns at prediction: probabilities or logits, and log-probabilities of either.

thinc's ``Softmax_v2`` (the last layer of ``spacy.Tagger.v2`` and ``spacy.TextCatReduce.v1``) always
normalises while training, but at prediction only when ``normalize_outputs`` is true (its
``attrs["softmax_normalize"]``). ``spacy.Tagger.v2`` ships with ``normalize = false``: ``model.predict``
then returns raw logits ``z``, and treating them as probabilities is wrong (``log(max(z, tiny))`` turns
every negative logit into about -708). The decoder needs the log-probabilities of the softmax the
model was trained with (PAPER.md, Eq. 1: ``p = softmax(z)``)::

    log p_ij = z_ij - log sum_k exp(z_ik)                  (logits, log-softmax)
    log p_ij = log(max(p_ij, tiny))                         (probabilities)

:func:`output_normalizes` reads the output layer instead of guessing; only for a last layer that is
not a thinc softmax (no ``softmax_normalize`` attribute) are the values inspected (rows of
non-negative numbers summing to 1 are probabilities).
"""
from typing import Any, Optional

import numpy
from thinc.api import Model, get_array_module

_TINY = float(numpy.finfo(numpy.float32).tiny)


def output_layer(model: Model) -> Model:
    """The layer that produces ``model``'s output (the last leaf of its last-layer chain)."""
    node = model
    while node.layers:
        node = node.layers[-1]
    return node


def output_normalizes(model: Model) -> Optional[bool]:
    """Whether ``model.predict`` returns probabilities (True), logits (False) or unknown (None).

    Read from the output layer's ``softmax_normalize`` attribute (thinc's ``Softmax`` and
    ``Softmax_v2``); a ``softmax_activation`` / ``logistic`` layer always normalises. Anything else
    is ``None``: :func:`log_probs` then looks at the values.
    """
    layer = output_layer(model)
    if "softmax_normalize" in layer.attrs:
        return bool(layer.attrs["softmax_normalize"])
    if layer.name in ("softmax_activation", "sigmoid_activation", "logistic"):
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
