"""Marginal probabilities of entities under the constrained BILUO lattice (``dice_ner``'s confidences).

``dice_ner`` gives, per doc, log-probabilities ``lp[t, y]`` of every tag ``y`` at every token ``t``
(plus the ``label_bias``). Read as a distribution over the VALID tag sequences of the doc
(:func:`spacy_dice.pipeline.biluo.biluo_constraints`)::

    p(y) = exp(sum_t lp[t, y_t]) / Z,    Z = sum over valid y of exp(sum_t lp[t, y_t])

the Viterbi decoder returns its mode, and the confidence of an entity ``(s, e, X)`` (tokens
``s .. e-1``) is its marginal: the probability that tokens ``s .. e-1`` carry exactly ``U-X``
(``e = s + 1``) or ``B-X I-X ... I-X L-X``. A valid sequence that contains this entity is any
valid sequence of tokens ``0 .. s-1`` that ends "closed", the entity, and any valid sequence of
tokens ``e .. N-1`` that starts closed, so::

    P(s, e, X) = exp(alpha_C[s-1] + score(s, e, X) + beta_C[e] - log Z)

    score(s, e, X) = lp[s, U-X]                                         if e = s + 1
                   = lp[s, B-X] + sum_{s<t<e-1} lp[t, I-X] + lp[e-1, L-X]  otherwise

with the forward and backward sums over the ``K + 1`` lattice states "closed" (``C``) and "open
with label X" (``X``), in log space (``lse`` = log-sum-exp)::

    forward, alpha[t] = after token t (alpha_C[-1] = 0, alpha_X[-1] = -inf):
      alpha_C[t] = lse(alpha_C[t-1] + stay[t],  lse_X(alpha_X[t-1] + lp[t, L-X]))
      alpha_X[t] = lse(alpha_C[t-1] + lp[t, B-X],  alpha_X[t-1] + lp[t, I-X])
      stay[t]    = lse(lp[t, O], lse_X lp[t, U-X])          (O or a unit entity: stays closed)

    backward, beta[t] = from token t on, entered in the state (beta_C[N] = 0, beta_X[N] = -inf):
      beta_C[t] = lse(stay[t] + beta_C[t+1],  lse_X(lp[t, B-X] + beta_X[t+1]))
      beta_X[t] = lse(lp[t, I-X] + beta_X[t+1],  lp[t, L-X] + beta_C[t+1])

    log Z = alpha_C[N-1] = beta_C[0]

(``alpha_C[-1] = 0`` and ``beta_C[N] = 0`` also serve the entities at the doc's edges.) The
entities of one position partition the sequences with the "closed" state before ``s``: e.g. for a
one-token doc ``sum_X P(U-X) + P(O) = 1``; for any token, the marginals of all entities covering
it plus the probability that it is ``O`` sum to 1.

**Batching.** Like the decoder (:mod:`.decoder`), the docs are sorted by length and every step
runs over all docs still active at that position, forward from the start and backward from each
doc's own end: one Python step per position of the longest doc, ``O(K)`` array work per token,
no loop over labels or docs. All array work is on the log-probabilities' own array module
(``numpy`` on CPU, ``cupy`` on GPU), in float64; only the index bookkeeping (lengths, entity
positions) is built on the host. Docs with no entity to score are left out.

Scores that are ``-inf`` or NaN count as ``NEG_FLOOR`` (``-1e30``), as in the decoder. The
marginals are exact whenever some valid sequence has a finite score (e.g. whitespace rows, ``O``
= 0 and the rest ``NEG_FLOOR``, are fine); they are clipped to ``[0, 1]``. When every valid
sequence goes through a ``NEG_FLOOR`` score the distribution is not defined and the values are
not meaningful.
"""
from typing import Any, List, Sequence, Tuple

import numpy
from thinc.api import get_array_module

from .biluo import BEGIN, IN, LAST, OUT, UNIT, labels_from_tag_names, make_tag_index
from .decoder import NEG_FLOOR, LengthOrder, unsort

Entity = Tuple[int, int, str]


def _lse_pair(xp: Any, a: Any, b: Any) -> Any:
    """Elementwise ``log(exp(a) + exp(b))``."""
    return xp.logaddexp(a, b)


def _lse_closed(xp: Any, single: Any, per_label: Any) -> Any:
    """``log(exp(single) + sum_X exp(per_label[:, X]))`` per row; ``single`` is finite."""
    top = xp.maximum(single, per_label.max(axis=1))
    total = xp.exp(single - top) + xp.exp(per_label - top[:, None]).sum(axis=1)
    return top + xp.log(total)


class _Columns:
    """The tag columns of ``tag_names`` the lattice reads: O, and B, I, L, U per label."""

    def __init__(self, tag_names: Sequence[str]) -> None:
        index = make_tag_index(tag_names)
        if OUT not in index:
            raise ValueError(f"BILUO tag names need 'O', got {list(tag_names)!r}")
        self.labels = labels_from_tag_names(tag_names)
        self.label_index = {label: k for k, label in enumerate(self.labels)}
        self.o = index[OUT]
        self.b, self.i, self.l, self.u = (
            numpy.array([index[f"{p}-{x}"] for x in self.labels], dtype="int64") for p in (BEGIN, IN, LAST, UNIT)
        )


def entity_marginals(
    log_probs: Sequence[Any], entities: Sequence[Sequence[Entity]], tag_names: Sequence[str]
) -> List[numpy.ndarray]:
    """Per doc, the marginal probability of each of its ``entities`` (a float64 numpy array).

    ``log_probs``: per doc ``(N_d, T)`` arrays (numpy or cupy) over ``tag_names``; ``entities``:
    per doc ``(start, end, label)`` triples, any spans (overlapping alternatives too), each
    with ``0 <= start < end <= N_d``. See the module docstring for the recursions.
    """
    if len(log_probs) != len(entities):
        raise ValueError(f"{len(log_probs)} log-probability arrays for {len(entities)} entity lists")
    result = [numpy.zeros(len(ents), dtype="float64") for ents in entities]
    chosen = [d for d, ents in enumerate(entities) if len(ents)]
    if not chosen:
        return result
    columns = _Columns(tag_names)
    if not columns.labels:
        raise ValueError("entities to score, but the tag names have no entity label")
    lengths = numpy.array([int(log_probs[d].shape[0]) for d in chosen], dtype="int64")
    starts = numpy.cumsum(lengths) - lengths
    xp = get_array_module(log_probs[chosen[0]])
    flat = xp.concatenate([xp.asarray(log_probs[d], dtype="float64") for d in chosen])
    if flat.ndim != 2 or flat.shape[1] != len(tag_names):
        raise ValueError(f"log-probabilities of shape {tuple(flat.shape)}; expected (n_tokens, {len(tag_names)})")
    flat = xp.minimum(xp.fmax(flat, NEG_FLOOR), -NEG_FLOOR)  # fmax: NaN -> NEG_FLOOR

    # Entity bookkeeping on the host: flat token rows and the tag column of each entity token.
    ent_doc, ent_start, ent_end, ent_label = [], [], [], []
    for j, d in enumerate(chosen):
        n = int(lengths[j])
        for start, end, label in entities[d]:
            if not (0 <= start < end <= n):
                raise ValueError(f"entity ({start}, {end}, {label!r}) outside a doc of {n} tokens")
            if label not in columns.label_index:
                raise ValueError(f"entity label {label!r} is not one of {columns.labels}")
            ent_doc.append(j)
            ent_start.append(start)
            ent_end.append(end)
            ent_label.append(columns.label_index[label])
    e_doc, e_start, e_end, e_label = (numpy.asarray(v, dtype="int64") for v in (ent_doc, ent_start, ent_end, ent_label))
    sizes = e_end - e_start
    tok_entity = numpy.repeat(numpy.arange(sizes.size), sizes)
    tok_offset = numpy.arange(int(sizes.sum())) - numpy.repeat(numpy.cumsum(sizes) - sizes, sizes)
    tok_row = starts[e_doc][tok_entity] + e_start[tok_entity] + tok_offset
    lab = e_label[tok_entity]
    first, last = tok_offset == 0, tok_offset == sizes[tok_entity] - 1
    tok_col = numpy.where(
        first & last, columns.u[lab], numpy.where(first, columns.b[lab], numpy.where(last, columns.l[lab], columns.i[lab]))
    )

    alpha_c, beta_c, log_z = _forward_backward(xp, flat, lengths, starts, columns)

    # score(s, e, X): sum of the entity tokens' log-probabilities (a segment sum; no cumsum, whose
    # rounding would swamp small scores next to NEG_FLOOR ones).
    tok_lp = flat[xp.asarray(tok_row), xp.asarray(tok_col)]
    score = xp.bincount(xp.asarray(tok_entity), weights=tok_lp, minlength=sizes.size)
    row_s = starts[e_doc] + e_start
    row_e = starts[e_doc] + e_end  # first row after the entity
    before = xp.where(xp.asarray(e_start > 0), alpha_c[xp.asarray(numpy.maximum(row_s - 1, 0))], 0.0)
    after_ok = e_end < lengths[e_doc]
    after = xp.where(xp.asarray(after_ok), beta_c[xp.asarray(numpy.where(after_ok, row_e, 0))], 0.0)
    log_m = before + score + after - log_z[xp.asarray(e_doc)]
    marginal = xp.clip(xp.nan_to_num(xp.exp(xp.minimum(log_m, 0.0)), nan=0.0), 0.0, 1.0)
    marginal = numpy.asarray(marginal.get() if hasattr(marginal, "get") else marginal, dtype="float64")
    bounds = numpy.cumsum([len(entities[d]) for d in chosen])
    for d, piece in zip(chosen, numpy.split(marginal, bounds[:-1])):
        result[d] = piece
    return result


def _forward_backward(xp: Any, flat: Any, lengths: numpy.ndarray, starts: numpy.ndarray, columns: _Columns):
    """``alpha_C`` and ``beta_C`` per flat token row, and ``log Z`` per doc (module docstring).

    ``alpha_c[r]``: forward sum after token r, closed; ``beta_c[r]``: backward sum from token r
    on, entered closed.
    """
    # the step-t rows of the docs longer than t, packed together: forward (token t) and backward
    # (token len - 1 - t)
    by_length = LengthOrder(lengths)
    order, active, offsets, step = by_length.order, by_length.active, by_length.offsets, by_length.step
    n_docs = lengths.size
    doc = order[by_length.sorted]
    fwd_rows = xp.asarray(starts[doc] + step)
    bwd_rows = xp.asarray(starts[doc] + lengths[doc] - 1 - step)

    stay_all = _lse_closed(xp, flat[:, columns.o], flat[:, xp.asarray(columns.u)])
    b_all, i_all, l_all = (flat[:, xp.asarray(c)] for c in (columns.b, columns.i, columns.l))
    k = columns.b.size

    def run(rows: Any, forward: bool) -> Tuple[Any, Any]:
        stay, b, i, l = stay_all[rows], b_all[rows], i_all[rows], l_all[rows]
        closed = xp.zeros(n_docs, dtype="float64")
        open_ = xp.full((n_docs, k), -xp.inf, dtype="float64")
        out = xp.empty(rows.shape[0], dtype="float64")
        for lo, n in zip(offsets.tolist(), active.tolist()):
            hi = lo + n
            c, x = closed[:n], open_[:n]
            if forward:
                new_c = _lse_closed(xp, c + stay[lo:hi], x + l[lo:hi])
                new_x = _lse_pair(xp, c[:, None] + b[lo:hi], x + i[lo:hi])
            else:
                new_c = _lse_closed(xp, c + stay[lo:hi], x + b[lo:hi])
                new_x = _lse_pair(xp, x + i[lo:hi], c[:, None] + l[lo:hi])
            closed[:n] = new_c
            open_[:n] = new_x
            out[lo:hi] = new_c
        return out, closed

    alpha_packed, log_z_sorted = run(fwd_rows, True)
    beta_packed, _ = run(bwd_rows, False)
    alpha_c = xp.empty(flat.shape[0], dtype="float64")
    beta_c = xp.empty(flat.shape[0], dtype="float64")
    alpha_c[fwd_rows] = alpha_packed
    beta_c[bwd_rows] = beta_packed
    return alpha_c, beta_c, unsort(log_z_sorted, order)  # closed[j]: doc order[j]
