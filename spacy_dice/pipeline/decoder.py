"""Constrained Viterbi decoding of BILUO tag sequences for the per-token NER component.

The component predicts, for every token, a distribution over the tags of
:func:`spacy_dice.pipeline.biluo.make_tag_names`. This module picks, per doc, the VALID tag
sequence with the highest sum of log-probabilities, under the BILUO validity constraints of
:func:`spacy_dice.pipeline.biluo.biluo_constraints` (a doc starts and ends "closed"; after ``B-X``
or ``I-X`` comes ``I-X`` or ``L-X``).

:class:`BiluoDecoder` (used by :func:`decode_log_probs_batch`, i.e. by the component) exploits the
BILUO structure. The state of a valid path after token t is either "closed" or "open with
label X", and the recursion over those ``K + 1`` states (``K`` labels) is::

    closed[t] = max(closed[t-1] + max(lp[t, O], lp[t, U-*]),   # O or U-* after closed
                    max_X open_X[t-1] + lp[t, L-X])             # L-X closes X
    open_X[t] = max(closed[t-1] + lp[t, B-X],                   # B-X opens X
                    open_X[t-1] + lp[t, I-X])                   # I-X continues X

with ``closed[-1] = 0``, ``open_X[-1] = -inf`` and the answer ``closed[N-1]``: O(T) work per
token. Every Python-level step works on many rows at once:

1. **fast path**: where the per-token argmax sequence of a doc is already valid it is the
   constrained optimum too (it is optimal over all sequences), so it is returned as is; a
   trained model gets most docs right this way with no DP at all;
2. the other docs are decoded together, one vectorised step per position over all docs
   still running (docs sorted by length, so there is no padding);
3. docs longer than ``long_doc`` tokens are cut into chunks of ``chunk_size`` tokens. Chunk 0
   runs from the doc start as above; every later chunk runs from each of its ``K + 1``
   possible entry states at once, which gives its max-plus transfer matrix
   ``(entry state -> exit state)``. The chunk matrices of a doc are then combined in order
   (one small step per chunk) and the path is traced back through every chunk in parallel.
   This is exact; it costs O(K^2) instead of O(K) numpy work per token but only
   ``chunk_size`` Python steps instead of one per token, so a 100k-token doc decodes in
   well under a second.

``tests/decoder_oracles.py`` holds the textbook Viterbi for any transition matrix that the tests
check this decoder against.

Ties are broken deterministically, by the lowest index: staying closed (``O`` before ``U-*``,
then labels in tag order) before closing an entity, ``B-X`` before ``I-X``, lower entry states
first. The result for a doc depends only on that doc (and the decoder's settings), not on the
other docs of the batch. Scores that are ``-inf`` (log 0) or NaN count as ``NEG_FLOOR``
(``-1e30``), so no NaN arises, paths through fewer impossible tokens win, and a valid sequence
is always returned.
"""
from functools import lru_cache
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from thinc.api import get_array_module, to_numpy

from .biluo import (
    BEGIN,
    IN,
    LAST,
    OUT,
    UNIT,
    biluo_constraints,
    labels_from_tag_names,
    make_tag_index,
)

#: Score that replaces ``-inf``/NaN log-probabilities (and the lower clip for all scores).
NEG_FLOOR = -1e30
_TINY = np.finfo(np.float64).tiny

# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def log_probs_from_probs(probs) -> np.ndarray:
    """``log(max(p, tiny))`` as a float64 numpy array (cupy input is copied to the host).

    Exact zeros (and NaN) become ``log(tiny) ~ -708`` instead of ``-inf``.
    """
    p = np.asarray(to_numpy(probs), dtype=np.float64)
    return np.log(np.fmax(p, _TINY))


def _sanitize(scores: np.ndarray) -> np.ndarray:
    """float64 copy with NaN/-inf -> NEG_FLOOR and everything clipped to +-1e30."""
    out = np.fmax(np.asarray(scores, dtype=np.float64), NEG_FLOOR)  # fmax: NaN -> NEG_FLOOR
    np.minimum(out, -NEG_FLOOR, out=out)
    return out


# --------------------------------------------------------------------------------------------
# BILUO decoder
# --------------------------------------------------------------------------------------------


class LengthOrder:
    """Items (docs, segments) sorted longest first, and their rows packed by step, so that one
    vectorised step runs over every item still active at that position (no padding).

    ``order``: sorted position -> item (a stable sort); ``lengths``: the lengths in sorted order;
    ``active[t]``: the number of items longer than ``t`` (the first ``active[t]`` in sorted order),
    whose step-``t`` rows are ``offsets[t] .. offsets[t] + active[t] - 1``; ``step`` and ``sorted``:
    the step and the sorted position of each packed row. :func:`unsort` puts values indexed by
    sorted position back in item order. ``lengths`` must not be empty.
    """

    def __init__(self, lengths: np.ndarray) -> None:
        self.order = np.argsort(-lengths, kind="stable")
        self.lengths = lengths[self.order]
        n_steps = int(self.lengths[0])
        counts = np.bincount(self.lengths, minlength=n_steps + 1)
        self.active = self.lengths.size - np.cumsum(counts)[:n_steps]
        self.offsets = np.cumsum(self.active) - self.active
        self.step = np.repeat(np.arange(n_steps), self.active)
        self.sorted = np.arange(self.step.size) - self.offsets[self.step]


class _Forward:
    """Result of one forward pass over a group of segments (sorted by length, descending)."""

    def __init__(
        self, order, active, offsets, packed, segment, final, back_closed, back_open, stay_tag
    ):
        self.order = order  # sorted position -> segment number in the group
        self.active = active  # active[t]: segments with more than t tokens
        self.offsets = offsets  # offsets[t]: first packed row of step t
        self.packed = packed  # packed row -> flat token row
        self.segment = segment  # packed row -> sorted position of its segment
        self.final = final  # (S, E, K + 1) scores of the exit states, per entry state
        self.back_closed = back_closed  # (P, E): 0 stayed closed, 1 + k closed label k
        self.back_open = back_open  # (P, E, K): True continued label k with I-k
        self.stay_tag = stay_tag  # (P,): tag used to stay closed (O or the best U-*)


class BiluoDecoder:
    """Exact constrained Viterbi for BILUO tags (see the module docstring for the algorithm).

    tag_names: ``"O"`` plus ``B-X, I-X, L-X, U-X`` for every label, in any order (class id =
    index). chunk_size / long_doc: docs longer than ``long_doc`` tokens are decoded in chunks
    of ``chunk_size`` tokens (exact; only a speed setting).
    """

    def __init__(self, tag_names: Sequence[str], *, chunk_size: int = 128, long_doc: int = 1024):
        if chunk_size < 1 or long_doc < 1:
            raise ValueError(f"chunk_size={chunk_size} and long_doc={long_doc} must be >= 1")
        self.tag_names = tuple(tag_names)
        self.chunk_size = int(chunk_size)
        self.long_doc = int(long_doc)
        index = make_tag_index(self.tag_names)
        if OUT not in index:
            raise ValueError(f"BILUO tag names need 'O', got {list(self.tag_names)!r}")
        self.labels = labels_from_tag_names(self.tag_names)
        missing = [
            f"{p}-{label}" for label in self.labels for p in (BEGIN, IN, LAST, UNIT)
            if f"{p}-{label}" not in index
        ]
        if missing:
            raise ValueError(f"BILUO tag names lack {missing!r}")
        self.n_tags = len(self.tag_names)
        self.n_labels = len(self.labels)
        self.allowed, self.start_allowed, self.end_allowed = biluo_constraints(self.tag_names)
        self._o = index[OUT]

        def ids(prefix: str) -> np.ndarray:
            return np.array([index[f"{prefix}-{x}"] for x in self.labels], dtype=np.int32)

        self._b, self._i, self._l, self._u = ids(BEGIN), ids(IN), ids(LAST), ids(UNIT)
        # Column order the DP works in: O, then B, I, L, U of each label (make_tag_names').
        self._perm = np.concatenate(
            [[self._o], np.stack([self._b, self._i, self._l, self._u], axis=1).reshape(-1)]
        ).astype(np.int64)
        self._canonical = bool((self._perm == np.arange(self.n_tags)).all())

    # -- public -------------------------------------------------------------------------------

    def decode(self, log_probs) -> np.ndarray:
        """Decode one doc's ``(N, T)`` log-probabilities; returns ``(N,)`` ``np.int32``."""
        return self.decode_many([log_probs])[0]

    def decode_many(self, log_probs: Sequence) -> List[np.ndarray]:
        """Decode a batch of ``(N_i, T)`` log-probability arrays (numpy or cupy)."""
        flat, lengths = self._gather(log_probs)
        return self._decode(flat, lengths, _sanitize)

    def decode_probs(self, probs: Sequence) -> List[np.ndarray]:
        """Decode a batch of ``(N_i, T)`` probability arrays (numpy or cupy), e.g. softmax
        outputs; scores are ``log_probs_from_probs(probs)``."""
        flat, lengths = self._gather(probs)
        return self._decode(flat, lengths, log_probs_from_probs)

    # -- batch plumbing -----------------------------------------------------------------------

    def _gather(self, arrays: Sequence) -> Tuple[np.ndarray, np.ndarray]:
        """Concatenate on the arrays' device, copy to the host once, check shapes."""
        arrays = [a if hasattr(a, "ndim") else np.asarray(a, dtype=np.float64) for a in arrays]
        for i, array in enumerate(arrays):
            if array.ndim != 2 or array.shape[1] != self.n_tags:
                raise ValueError(
                    f"scores[{i}] has shape {tuple(array.shape)}; expected (n_tokens,"
                    f" {self.n_tags}) for {self.n_tags} tags"
                )
        lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        if not arrays:
            return np.zeros((0, self.n_tags)), lengths
        if all(isinstance(a, np.ndarray) for a in arrays):
            return np.concatenate(arrays), lengths
        xp = get_array_module(next(a for a in arrays if not isinstance(a, np.ndarray)))
        return np.asarray(to_numpy(xp.concatenate([xp.asarray(a) for a in arrays]))), lengths

    def _decode(self, flat: np.ndarray, lengths: np.ndarray, to_scores) -> List[np.ndarray]:
        """``flat``: the docs' raw rows concatenated; ``to_scores`` makes them sanitized
        float64 log-probabilities (only applied to the docs that need the DP)."""
        out = np.zeros(flat.shape[0], dtype=np.int32)  # all "O" if there are no labels
        if self.n_labels and flat.shape[0]:
            if np.isnan(flat).any():
                # NaN scores count as NEG_FLOOR / tiny in the DP but win an argmax.
                dp_docs = np.flatnonzero(lengths > 0)
            else:
                # log is monotone (and sanitizing keeps order up to exact ties), so the
                # argmax of the raw rows is the argmax of the scores.
                out[:] = flat.argmax(axis=1)
                dp_docs = np.flatnonzero(~self._valid_docs(out, lengths))
            if dp_docs.size == lengths.size:
                out[:] = self._viterbi(to_scores(flat), lengths)
            elif dp_docs.size:
                rows = _doc_rows(lengths, dp_docs)
                out[rows] = self._viterbi(to_scores(flat[rows]), lengths[dp_docs])
        ends = np.cumsum(lengths).tolist()
        return [out[e - n : e] for e, n in zip(ends, lengths.tolist())]

    def _valid_docs(self, tags: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Per doc: is its slice of ``tags`` a valid sequence? (vectorised over the batch)"""
        ends = np.cumsum(lengths)
        starts = ends - lengths
        nonempty = lengths > 0
        bad_pair = ~self.allowed[tags[:-1], tags[1:]]  # pair p = (token p, token p + 1)
        n_bad = np.concatenate([[0], np.cumsum(bad_pair)])
        valid = np.ones(lengths.size, dtype=bool)
        s, e = starts[nonempty], ends[nonempty]
        valid[nonempty] = (
            (n_bad[e - 1] == n_bad[s])  # no bad pair inside the doc
            & self.start_allowed[tags[s]]
            & self.end_allowed[tags[e - 1]]
        )
        return valid

    # -- the DP -------------------------------------------------------------------------------

    def _viterbi(self, lp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Best valid paths of the concatenated docs ``lp`` (lengths > 0); flat tag ids."""
        k = self.n_labels
        if not self._canonical:
            lp = lp[:, self._perm]  # columns: O, then B, I, L, U of each label
        doc_starts = np.cumsum(lengths) - lengths
        # Segments: docs up to long_doc tokens whole, longer docs in chunks of chunk_size.
        is_long = lengths > self.long_doc
        n_chunks = np.where(is_long, -(-lengths // self.chunk_size), 1)
        seg_doc = np.repeat(np.arange(lengths.size), n_chunks)
        first_seg = np.cumsum(n_chunks) - n_chunks
        chunk = np.arange(seg_doc.size) - first_seg[seg_doc]
        seg_start = doc_starts[seg_doc] + chunk * self.chunk_size
        seg_len = np.where(
            is_long[seg_doc],
            np.minimum(self.chunk_size, lengths[seg_doc] - chunk * self.chunk_size),
            lengths[seg_doc],
        )
        head = chunk == 0  # run from the doc start (entry state: closed)
        tail = ~head  # run from every entry state
        fwd_head = self._forward(lp, seg_start[head], seg_len[head], n_entries=1)
        exit_head = np.zeros(int(head.sum()), dtype=np.int64)  # by head segment (= doc)
        tags = np.empty(lp.shape[0], dtype=np.int32)
        if tail.any():
            fwd_tail = self._forward(lp, seg_start[tail], seg_len[tail], n_entries=k + 1)
            n_tail = int(tail.sum())
            exit_tail = np.zeros(n_tail, dtype=np.int64)
            entry_tail = np.zeros(n_tail, dtype=np.int64)
            head_final = unsort(fwd_head.final, fwd_head.order)
            tail_final = unsort(fwd_tail.final, fwd_tail.order)
            tail_number = np.cumsum(tail) - 1  # segment -> tail segment number
            for doc in np.flatnonzero(is_long).tolist():
                first = int(first_seg[doc])
                segs = tail_number[first + 1 : first + int(n_chunks[doc])]
                x0, entries, exits = _combine_chunks(head_final[doc, 0], tail_final[segs])
                exit_head[doc] = x0
                entry_tail[segs] = entries
                exit_tail[segs] = exits
            self._backtrack(fwd_tail, entry_tail, exit_tail, tags)
        self._backtrack(fwd_head, np.zeros_like(exit_head), exit_head, tags)
        return tags

    def _forward(self, lp: np.ndarray, seg_start, seg_len, n_entries: int) -> _Forward:
        """Run the K + 1 state recursion over segments of ``lp`` (canonical columns), from
        ``n_entries`` entry states (1: closed only; K + 1: all), all segments at once."""
        k = self.n_labels
        by_length = LengthOrder(seg_len)
        order, lengths, active, offsets = (
            by_length.order, by_length.lengths, by_length.active, by_length.offsets
        )
        segment = by_length.sorted  # packed row -> sorted segment
        packed = seg_start[order][segment] + by_length.step
        n_rows = packed.size
        x = lp[packed]  # (P, T) in packed order
        biluo = x[:, 1:].reshape(n_rows, k, 4)  # [:, label, B/I/L/U]
        # Moves into the closed state: stay closed (best of O, U-*) or close label k (L-k).
        u_scores = biluo[:, :, 3]
        u_arg = u_scores.argmax(axis=1)
        u_best = u_scores[np.arange(n_rows), u_arg]
        use_u = u_best > x[:, 0]  # ties: O
        closed_moves = np.empty((n_rows, 1, k + 1))
        closed_moves[:, 0, 0] = np.where(use_u, u_best, x[:, 0])
        closed_moves[:, 0, 1:] = biluo[:, :, 2]
        stay_tag = np.where(use_u, self._u[u_arg], self._o).astype(np.int32)
        b_moves = biluo[:, None, :, 0]  # (P, 1, K) views
        i_moves = biluo[:, None, :, 1]
        # v[s, e, x]: best score of segment s, entered in state e, now in state x
        # (state 0 = closed, 1 + k = open label k).
        v = np.full((lengths.size, n_entries, k + 1), -np.inf)
        v[:, np.arange(n_entries), np.arange(n_entries)] = 0.0
        back_closed = np.empty((n_rows, n_entries), dtype=np.intp)
        back_open = np.empty((n_rows, n_entries, k), dtype=bool)
        # Taking to_c at row_base + argmax gives the max: much faster than ndarray.max over a
        # short last axis.
        row_base = np.arange(lengths.size * n_entries).reshape(-1, n_entries) * (k + 1)
        for lo, n in zip(offsets.tolist(), active.tolist()):
            hi = lo + n
            cur = v[:n]
            to_c = cur + closed_moves[lo:hi]  # (n, E, K + 1)
            via_b = cur[:, :, :1] + b_moves[lo:hi]  # (n, E, K)
            via_i = cur[:, :, 1:] + i_moves[lo:hi]
            arg = to_c.argmax(axis=2, out=back_closed[lo:hi])
            np.greater(via_i, via_b, out=back_open[lo:hi])
            np.take(to_c, row_base[:n] + arg, out=cur[:, :, 0], mode="clip")
            np.maximum(via_b, via_i, out=cur[:, :, 1:])
        return _Forward(
            order, active, offsets, packed, segment, v, back_closed, back_open, stay_tag
        )

    def _backtrack(self, fwd: _Forward, entry, exit_state, tags: np.ndarray) -> None:
        """Trace the paths of a forward pass back from ``exit_state`` (per segment number,
        entered in ``entry``) and write their tags into ``tags`` (flat token rows)."""
        n_states = self.n_labels + 1
        # Back pointers of each row's own entry state: (P,) and (P, K).
        if fwd.back_closed.shape[1] == 1:
            back_closed, back_open = fwd.back_closed[:, 0], fwd.back_open[:, 0]
        else:
            rows = np.arange(fwd.packed.size)
            entry_of_row = entry[fwd.order][fwd.segment]
            back_closed = fwd.back_closed[rows, entry_of_row]
            back_open = fwd.back_open[rows, entry_of_row]
        # For every packed row and current state: the previous state and the tag.
        prev = np.empty((fwd.packed.size, n_states), dtype=np.int32)
        prev[:, 0] = back_closed
        prev[:, 1:] = np.where(back_open, np.arange(1, n_states), 0)
        tag = np.empty(prev.shape, dtype=np.int32)
        close_tag = np.concatenate([[-1], self._l])  # by back_closed value
        tag[:, 0] = np.where(back_closed == 0, fwd.stay_tag, close_tag[back_closed])
        tag[:, 1:] = np.where(back_open, self._i, self._b)
        prev, tag = prev.reshape(-1), tag.reshape(-1)
        # Flat index of (packed row, state) = (offsets[t] + sorted segment) * S + state.
        seg_base = np.arange(fwd.final.shape[0]) * n_states
        state = exit_state[fwd.order].astype(np.int32)
        packed_tags = np.empty(fwd.packed.size, dtype=np.int32)
        for t in range(fwd.active.size - 1, -1, -1):
            n, offset = int(fwd.active[t]), int(fwd.offsets[t])
            index = seg_base[:n] + state[:n] + offset * n_states
            packed_tags[offset : offset + n] = tag[index]
            state[:n] = prev[index]
        tags[fwd.packed] = packed_tags


def _doc_rows(lengths: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Flat token rows of the selected docs, in order."""
    starts = (np.cumsum(lengths) - lengths)[docs]
    sizes = lengths[docs]
    offsets = np.cumsum(sizes) - sizes
    return np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))


def unsort(values: Any, order: np.ndarray) -> Any:
    """Rows of ``values`` put back in item order: row ``j`` of ``values`` belongs to item
    ``order[j]`` (``order`` as from ``argsort``). Returns a new array of the same kind as
    ``values`` (numpy, or cupy on a GPU; ``order`` is a numpy array either way)."""
    xp = get_array_module(values)
    result = xp.empty_like(values)
    result[xp.asarray(order)] = values
    return result


def _combine_chunks(head_final: np.ndarray, tail_final: np.ndarray):
    """Chain one long doc's chunks: ``head_final`` (K + 1,) scores after chunk 0,
    ``tail_final`` (C, K + 1, K + 1) transfer matrices (entry -> exit) of chunks 1..C.
    Returns the exit state of chunk 0 and the entry and exit states of chunks 1..C on the
    best path that ends closed."""
    score = head_final
    best_entry = []
    for transfer in tail_final:
        candidates = score[:, None] + transfer  # (entry, exit)
        arg = candidates.argmax(axis=0)
        best_entry.append(arg)
        score = candidates[arg, np.arange(arg.size)]
    n = len(best_entry)
    entries = np.empty(n, dtype=np.int64)
    exits = np.empty(n, dtype=np.int64)
    state = 0  # the doc ends closed
    for j in range(n - 1, -1, -1):
        exits[j] = state
        state = int(best_entry[j][state])
        entries[j] = state
    return state, entries, exits


@lru_cache(maxsize=16)
def get_decoder(tag_names: Tuple[str, ...]) -> BiluoDecoder:
    """A cached :class:`BiluoDecoder` with the default settings."""
    return BiluoDecoder(tag_names)


def decode_log_probs_batch(
    log_probs: Sequence, tag_names: Sequence[str], decoder: Optional[BiluoDecoder] = None
) -> List[np.ndarray]:
    """Best valid BILUO tag ids for each doc of a batch of ``(N_i, T)`` log-probabilities.

    What ``dice_ner`` decodes: log-softmax of the model's logits (or the log of its probabilities),
    see :mod:`spacy_dice.layers.outputs`. ``-inf`` and NaN count as ``NEG_FLOOR``.
    """
    if decoder is None:
        decoder = get_decoder(tuple(tag_names))
    elif decoder.tag_names != tuple(tag_names):
        raise ValueError("decoder was built for other tag names")
    return decoder.decode_many(log_probs)
