"""Test oracles of the BILUO decoder (:mod:`spacy_dice.pipeline.decoder`), used by
``tests/test_decoder.py`` and ``benchmarks/bench_decoder.py`` (its ``generic`` row).

* :func:`viterbi_decode`: the textbook Viterbi algorithm for ANY ``(T, T)`` allowed-transition
  matrix (O(T^2) numpy work per token, one Python step per token): the general reference the
  fast BILUO decoder is checked against;
* :func:`path_score`: the score of a tag sequence.
"""
from typing import Sequence

import numpy as np

from spacy_dice.pipeline.decoder import _sanitize


def path_score(log_probs, tag_ids: Sequence[int]) -> float:
    """Sum of ``log_probs[t, tag_ids[t]]`` (as given: ``-inf`` stays ``-inf``)."""
    lp = np.asarray(log_probs, dtype=np.float64)
    ids = np.asarray(tag_ids, dtype=np.int64).reshape(-1)
    return float(lp[np.arange(ids.size), ids].sum())


def viterbi_decode(
    log_probs: np.ndarray,
    allowed: np.ndarray,
    start_allowed: np.ndarray,
    end_allowed: np.ndarray,
) -> np.ndarray:
    """Highest-scoring sequence under arbitrary transition constraints.

    log_probs: ``(N, T)`` scores (log-probabilities); ``allowed``: ``(T, T)`` bool, ``allowed[i,
    j]`` = tag ``j`` may follow tag ``i``; ``start_allowed``/``end_allowed``: ``(T,)`` bool.
    Returns ``(N,)`` ``np.int32`` tag ids maximising the sum of scores over valid sequences
    (ties: lowest tag index, going backwards). O(N T^2) numpy work, one Python step per token;
    for BILUO tags :class:`BiluoDecoder` is much faster. Raises ``ValueError`` if no valid
    sequence exists.
    """
    lp = _sanitize(np.asarray(log_probs))
    if lp.ndim != 2:
        raise ValueError(f"log_probs must be 2-d (N, T), got shape {lp.shape}")
    n, n_tags = lp.shape
    allowed = np.asarray(allowed, dtype=bool)
    start_allowed = np.asarray(start_allowed, dtype=bool).reshape(-1)
    end_allowed = np.asarray(end_allowed, dtype=bool).reshape(-1)
    if allowed.shape != (n_tags, n_tags) or start_allowed.shape != (n_tags,) or (
        end_allowed.shape != (n_tags,)
    ):
        raise ValueError(
            f"constraint shapes {allowed.shape}, {start_allowed.shape}, {end_allowed.shape}"
            f" do not match {n_tags} tags"
        )
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    transition = np.where(allowed, 0.0, -np.inf)
    cols = np.arange(n_tags)
    score = np.where(start_allowed, lp[0], -np.inf)
    back = np.zeros((n, n_tags), dtype=np.int32)
    for t in range(1, n):
        candidates = score[:, None] + transition  # (previous tag, next tag)
        best = candidates.argmax(axis=0)
        back[t] = best
        score = candidates[best, cols] + lp[t]
    final = np.where(end_allowed, score, -np.inf)
    last = int(final.argmax())
    if final[last] == -np.inf:
        raise ValueError(f"no tag sequence of length {n} satisfies the constraints")
    path = np.empty(n, dtype=np.int32)
    path[-1] = last
    back_rows = back.tolist()
    for t in range(n - 1, 0, -1):
        last = back_rows[t][last]
        path[t - 1] = last
    return path
