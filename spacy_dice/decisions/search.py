"""The search behind ``python -m spacy_dice calibrate``: one global value, then per-label
departures that must earn their place on held-out folds.

Everything here works on COUNTS: a decision problem (:class:`Problem`) maps a vector of decision
values (one per label: a threshold or a log-space bias) to an ``(n_docs, n_labels, 3)`` array of
true positives, false positives and false negatives per dev doc and label. Sums over any subset
of docs give that subset's scores, so the cross-fitting folds cost no new prediction.

The procedure (:func:`fit_problem`):

1. **Before**: the counts at the component's current values (nothing is fitted, so this in-sample
   score is already an honest one).
2. **Cross-fitting** (``folds`` folds of docs, seeded): on each fold ``k`` the global value
   ``g_k`` (the same value for every label) is fitted on the other folds and scored on fold ``k``;
   for each label, its own value is fitted on the other folds with every other label at ``g_k``
   and scored on fold ``k``. Pooling the held-out counts gives the cross-fitted estimate of
   "global only" and of "this label departs".
   The held-out counts are kept per doc (each doc's row comes from the fold that held it out),
   so their sums are the pooled totals and a bootstrap over docs can resample them.
3. **Rules**: the global value is adopted only when its cross-fitted gain over the current
   setting is positive beyond the noise of dev at ``global_confidence`` (here by default the
   departures' ``confidence``; ``calibrate``'s default is 0: any positive gain); a label departs from it only when it has at least
   ``min_support`` gold positives on dev, its F1 is not 0 both at the base and with its own value
   (nothing to fit), and its cross-fitted gain is positive beyond the noise. "Beyond the noise"
   (:class:`Gain`): the (1 - ``confidence``) quantile of the gains of ``resamples`` paired
   bootstrap resamples of the dev docs (the same resampled docs for both sides) is > 0; with
   ``confidence=0`` any positive gain is adopted (the rule before: the bootstrap is only reported,
   and there is no F1-0 rule).
   With several labels tested, one bar for each would let some label depart on noise alone (at
   95 % per label, one in twenty labels whose gain is pure noise departs), so by default
   (``correction="holm"``) the departures are one family under Holm's step-down correction: the
   labels tested (support, not F1 0 at both values) are ranked by their bootstrap p-value
   (the share of resampled gains <= 0), the ``k``-th of ``m`` (from 0) must be beyond the noise at
   ``1 - (1 - confidence) / (m - k)``, and the first that is not stops the labels after it, so the
   chance that any label departs on noise is nominally at most ``1 - confidence`` (the bootstrap
   holds the held-out predictions fixed and leaves out the noise of the fit itself, so on small
   dev sets it is passed more often; ``correction="none"``: each label at ``confidence``, the
   rule before). With ``units`` (e.g. each dev doc's source document, :func:`group_problem`) the
   folds and the bootstrap take whole units, not docs.
   Every label that stays gets the reason. With ``coarse_grid`` (spaCy's ``find-threshold`` grid,
   :data:`COARSE_THRESHOLD_GRID`) one global value chosen on that grid is a second candidate in
   the same cross-fitted comparison; the better of the two is the global value compared with the
   current setting.
4. **Final fit** on all of dev: the global value, then coordinate ascent (two rounds) over the
   labels allowed to depart.

Objectives (:class:`Objective`): micro F1 over the scored labels (spaCy's ``ents_f`` /
``spans_<key>_f``), macro F1 (exclusive ``cats_score`` without a positive label), accuracy (token
tags: micro recall over the gold tokens), or ``recall`` with ``min_precision`` (maximise recall
while precision stays >= ``min_precision``; per label for the departures, micro for the global).
``min_precision="current"`` keeps the precision the current setting has on dev: its micro precision
is the floor of the global value, each label's own precision the floor of its departure (recall
bought only where it costs no precision).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy

THRESHOLD_GRID = numpy.round(numpy.arange(1, 100) / 100.0, 2)
"""Thresholds searched: 0.01 .. 0.99 in steps of 0.01 (a fixed grid rather than every distinct
predicted probability: it does not chase single dev spans, and its values read well in a config)."""

BIAS_GRID = numpy.round(numpy.arange(-16, 17) * 0.25, 2)
"""Log-space biases searched: -4 .. +4 in steps of 0.25 (a factor of e^4 ~ 55 either way on the
odds of a label)."""

COARSE_THRESHOLD_GRID = numpy.round(numpy.linspace(0.0, 1.0, 21), 2)
"""spaCy's ``find-threshold`` grid with 21 trials (``numpy.linspace(0, 1, 21)``: 0.0, 0.05, ..., 1.0);
a global threshold chosen on it (the first best value, as spaCy chooses) is a candidate of
:func:`fit_problem` and :func:`fit_choice` (``coarse_grid``)."""

RESAMPLES = 1000
"""Paired bootstrap resamples of the dev docs behind each gain's interval (:class:`Gain`)."""

FINE, COARSE = "fine grid", "spaCy's find-threshold grid"
"""The names of the global candidates (:attr:`Fit.global_candidate`, :attr:`Choice.candidate`)."""

HOLM, NO_CORRECTION = "holm", "none"
CORRECTIONS = (HOLM, NO_CORRECTION)
"""How the departures' bars account for testing several labels (:func:`fit_problem`)."""

TP, FP, FN = 0, 1, 2
EPS = 1e-12
CURRENT = "current"
"""``min_precision`` value: keep the precision of the current setting (see :meth:`Objective.resolve`)."""


def _precision(counts: numpy.ndarray, default: float) -> float:
    tp, fp = float(counts[TP]), float(counts[FP])
    return tp / (tp + fp) if tp + fp else default


def prf(counts: numpy.ndarray) -> Tuple[float, float, float]:
    """Precision, recall, F1 of one ``(3,)`` count vector (0 where undefined)."""
    tp, fp, fn = (float(x) for x in counts)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return p, r, f


def _ratio(num: numpy.ndarray, den: numpy.ndarray, default: float) -> numpy.ndarray:
    out = numpy.full(numpy.shape(num), default, dtype="float64")
    numpy.divide(num, den, out=out, where=den > 0)
    return out


def batch_f1(counts: numpy.ndarray) -> numpy.ndarray:
    """F1 of count vectors ``(..., 3)`` (0 where there is no true positive), as :func:`prf`."""
    tp, fp, fn = counts[..., TP], counts[..., FP], counts[..., FN]
    return numpy.where(tp > 0, _ratio(2 * tp, 2 * tp + fp + fn, 0.0), 0.0)


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """``confidence`` as a float in [0, 1); a ``ValueError`` naming the parameter (``name``)
    otherwise."""
    try:
        value = float(confidence) if not isinstance(confidence, bool) else float("nan")
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"{name}={confidence!r}: use a number in [0, 1): the one-sided confidence that a"
            " cross-fitted gain is beyond the noise of dev (0.95 by default; 0 adopts any positive"
            " gain, the rule before)"
        )
    return value


def check_correction(correction: Any, name: str = "correction") -> str:
    """``correction`` as one of :data:`CORRECTIONS`; a ``ValueError`` naming the parameter (``name``)
    otherwise."""
    value = correction.strip().lower() if isinstance(correction, str) else correction
    if value not in CORRECTIONS:
        raise ValueError(
            f"{name}={correction!r}: use {HOLM!r} (the labels' departures are one family: Holm's"
            f" step-down keeps the chance that any label departs on noise at 1 - confidence) or"
            f" {NO_CORRECTION!r} (each label at confidence on its own)"
        )
    return value


@dataclass
class Objective:
    """What a decision setting is chosen for.

    ``kind``: ``micro_f1``, ``macro_f1``, ``accuracy`` or ``recall`` (with ``min_precision``, a
    number or :data:`CURRENT`); ``scored``: indices of the labels the score counts (``None``: all;
    e.g. only the positive label of a binary text classifier); ``label_floors``: per-label
    precision floors of the departures (set by :meth:`resolve`; ``None``: ``min_precision``).
    """

    kind: str = "micro_f1"
    min_precision: Union[float, str] = 0.0
    scored: Optional[Sequence[int]] = None
    label_floors: Optional[Tuple[float, ...]] = None

    @property
    def keeps_current(self) -> bool:
        """``recall`` with ``min_precision="current"``: its floors come from the current counts."""
        return self.kind == "recall" and self.min_precision == CURRENT

    def resolve(self, before: numpy.ndarray) -> "Objective":
        """With ``min_precision="current"``, the numeric floors of the current setting's summed
        counts ``before`` (``(n_labels, 3)``): its micro precision over the scored labels for the
        global value, and each label's own precision for its departure (a label the current
        setting never predicts keeps the micro floor). Any other objective is returned as it is."""
        if not self.keeps_current:
            return self
        micro = _precision(self._rows(before).sum(axis=0), default=0.0)
        floors = tuple(_precision(row, default=micro) for row in before)
        return replace(self, min_precision=micro, label_floors=floors)

    def _rows(self, totals: numpy.ndarray) -> numpy.ndarray:
        return totals if self.scored is None else totals[list(self.scored)]

    def score(self, totals: numpy.ndarray) -> float:
        """The score of ``(n_labels, 3)`` summed counts (higher is better)."""
        rows = self._rows(totals)
        if self.kind == "macro_f1":
            return float(numpy.mean([prf(row)[2] for row in rows])) if len(rows) else 0.0
        micro = rows.sum(axis=0)
        if self.kind == "accuracy":
            return prf(micro)[1]
        if self.kind == "recall":
            return self._recall_score(micro)
        return prf(micro)[2]

    def label_score(self, totals: numpy.ndarray, label: int) -> float:
        """The score a label's own departure is judged by: its own constrained recall in
        ``recall`` mode, the whole score otherwise (a label's decision moves the micro score)."""
        if self.kind == "recall":
            floor = self.label_floors[label] if self.label_floors is not None else None
            return self._recall_score(totals[label], floor)
        return self.score(totals)

    def scores(self, totals: numpy.ndarray, label: Optional[int] = None) -> numpy.ndarray:
        """:meth:`score` (``label=None``) or :meth:`label_score` of summed counts with leading batch
        axes, ``(..., n_labels, 3)`` -> ``(...)`` (e.g. one score per bootstrap resample)."""
        totals = numpy.asarray(totals, dtype="float64")
        if self.kind == "recall" and label is not None:
            floor = self.label_floors[label] if self.label_floors is not None else None
            return self._recall_scores(totals[..., label, :], floor)
        rows = totals if self.scored is None else totals[..., list(self.scored), :]
        if self.kind == "macro_f1":
            if rows.shape[-2] == 0:
                return numpy.zeros(rows.shape[:-2])
            return batch_f1(rows).mean(axis=-1)
        micro = rows.sum(axis=-2)
        if self.kind == "accuracy":
            return _ratio(micro[..., TP], micro[..., TP] + micro[..., FN], 0.0)
        if self.kind == "recall":
            return self._recall_scores(micro)
        return batch_f1(micro)

    def _recall_scores(self, counts: numpy.ndarray, floor: Optional[float] = None) -> numpy.ndarray:
        if isinstance(self.min_precision, str):
            raise ValueError(f"min_precision {self.min_precision!r}: resolve() the objective on the current counts first")
        floor = self.min_precision if floor is None else floor
        tp, fp, fn = counts[..., TP], counts[..., FP], counts[..., FN]
        p = _ratio(tp, tp + fp, 1.0)
        r = _ratio(tp, tp + fn, 0.0)
        return numpy.where(p + EPS >= floor, r, (p - floor) - 1.0)

    def compact(self, per_doc: numpy.ndarray, label: Optional[int] = None
                ) -> Tuple["Objective", numpy.ndarray, Optional[int]]:
        """What :meth:`scores` needs of per-doc counts ``(n_docs, n_labels, 3)``, smaller: ``(objective,
        rows, label)`` such that ``objective.scores(sum of rows over any docs, label)`` equals this
        objective's score of the same docs (micro scores need the sum over the scored labels
        only, a label's constrained recall its own row only), so resampling costs little."""
        if self.kind == "macro_f1":
            return self, per_doc, None
        if self.kind == "recall" and label is not None:
            floor = self.label_floors[label] if self.label_floors is not None else self.min_precision
            return replace(self, scored=None, label_floors=(floor,)), per_doc[:, label:label + 1], 0  # type: ignore[arg-type]
        rows = per_doc if self.scored is None else per_doc[:, list(self.scored)]
        return replace(self, scored=None, label_floors=None), rows.sum(axis=1, keepdims=True), None

    def _recall_score(self, counts: numpy.ndarray, floor: Optional[float] = None) -> float:
        if isinstance(self.min_precision, str):
            raise ValueError(f"min_precision {self.min_precision!r}: resolve() the objective on the current counts first")
        floor = self.min_precision if floor is None else floor
        p = _precision(counts, default=1.0)
        r = prf(counts)[1]
        # Feasible settings (precision >= the floor) score their recall in [0, 1]; infeasible
        # ones score below every feasible one, the closer to the constraint the better.
        return r if p + EPS >= floor else (p - floor) - 1.0

    def describe(self) -> str:
        if self.kind == "recall" and self.min_precision == CURRENT:
            return "recall with each label's current precision kept"
        if self.kind == "recall" and self.label_floors is not None:
            return f"recall with each label's current precision kept (micro >= {self.min_precision:.3f})"
        if self.kind == "recall":
            return f"recall with precision >= {self.min_precision:g}"
        return {"micro_f1": "F1 (micro)", "macro_f1": "F1 (macro)", "accuracy": "accuracy"}[self.kind]


class Problem:
    """A decision problem: labels, a grid, current values, and the per-doc counts of any values.

    ``count_fn(values)`` returns ``(n_docs, n_labels, 3)``; ``label_fn(i, value)``, when the labels
    decide independently (multi-label thresholds), returns label ``i``'s ``(n_docs, 3)`` alone,
    which makes the search cheap. Results are cached by value.
    """

    def __init__(
        self,
        labels: Sequence[str],
        grid: Sequence[float],
        current: Sequence[float],
        neutral: float,
        support: Sequence[int],
        n_docs: int,
        count_fn: Optional[Callable[[Tuple[float, ...]], numpy.ndarray]] = None,
        label_fn: Optional[Callable[[int, float], numpy.ndarray]] = None,
    ) -> None:
        if count_fn is None and label_fn is None:
            raise ValueError("a Problem needs count_fn or label_fn")
        self.labels = list(labels)
        self.grid = [float(v) for v in grid]
        self.current = tuple(float(v) for v in current)
        self.neutral = float(neutral)
        self.support = numpy.asarray(support, dtype="int64")
        self.n_docs = int(n_docs)
        self._count_fn = count_fn
        self._label_fn = label_fn
        self._cache: Dict[Tuple[float, ...], numpy.ndarray] = {}
        self._label_cache: Dict[Tuple[int, float], numpy.ndarray] = {}
        self.evaluations = 0

    @property
    def independent(self) -> bool:
        return self._label_fn is not None

    def label_counts(self, i: int, value: float) -> numpy.ndarray:
        key = (i, round(float(value), 6))
        if key not in self._label_cache:
            self.evaluations += 1
            self._label_cache[key] = numpy.asarray(self._label_fn(i, float(value)))  # type: ignore[misc]
        return self._label_cache[key]

    def counts(self, values: Sequence[float]) -> numpy.ndarray:
        key = tuple(round(float(v), 6) for v in values)
        if key in self._cache:
            return self._cache[key]
        if self._label_fn is not None:
            out = numpy.stack([self.label_counts(i, v) for i, v in enumerate(key)], axis=1)
        else:
            self.evaluations += 1
            out = numpy.asarray(self._count_fn(key))  # type: ignore[misc]
        if self._count_fn is not None or len(self._cache) < 20000:
            self._cache[key] = out
        return out

    def totals(self, values: Sequence[float], docs: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        counts = self.counts(values)
        return (counts if docs is None else counts[docs]).sum(axis=0)


def group_problem(problem: Problem, units: Sequence[int]) -> Problem:
    """``problem`` with its docs merged into units (``units[d]``: the unit of doc ``d``, numbered
    from 0, e.g. the source document a sentence came from): the same labels, grid and values, each
    unit's counts the sum of its docs', so the folds and the bootstrap of :func:`fit_problem` take
    whole units. Raises ``ValueError`` when ``units`` does not give one unit per doc."""
    units = numpy.asarray(units, dtype="int64")
    if units.shape != (problem.n_docs,) or (len(units) and (units.min() < 0)):
        raise ValueError(f"units: one unit number >= 0 per dev doc ({problem.n_docs}), not shape {units.shape}")
    n_units = int(units.max()) + 1 if len(units) else 0

    def merge(per_doc: numpy.ndarray) -> numpy.ndarray:
        out = numpy.zeros((n_units,) + per_doc.shape[1:], dtype=per_doc.dtype)
        numpy.add.at(out, units, per_doc)
        return out

    return Problem(
        problem.labels, problem.grid, problem.current, problem.neutral, problem.support, n_units,
        count_fn=None if problem.independent else (lambda values: merge(problem.counts(values))),
        label_fn=(lambda i, value: merge(problem.label_counts(i, value))) if problem.independent else None,
    )


def make_folds(n_docs: int, folds: int, seed: int) -> List[numpy.ndarray]:
    """``folds`` disjoint index arrays covering ``range(n_docs)`` (a seeded shuffle, sizes within 1)."""
    order = numpy.random.RandomState(seed).permutation(n_docs)
    return [numpy.sort(part) for part in numpy.array_split(order, folds) if len(part)]


def _by_distance(grid: Sequence[float], anchor: float) -> List[float]:
    return sorted(grid, key=lambda v: (abs(v - anchor), v))


def _best(problem: Problem, anchor: float, score_of: Callable[[float], float]) -> float:
    """The grid value with the best ``score_of`` (ties: nearest ``anchor``, which is tried first).

    Independent labels (cheap counts): the whole grid. Coupled decisions (each value costs an
    annotation pass): every second grid value, then the grid neighbours of the best one.
    """
    grid = problem.grid
    cache: Dict[float, float] = {}

    def score(value: float) -> float:
        if value not in cache:
            cache[value] = score_of(value)
        return cache[value]

    def pick(values: Sequence[float], start: Tuple[float, float]) -> Tuple[float, float]:
        best, best_score = start
        for value in values:
            s = score(value)
            if s > best_score + EPS or (abs(s - best_score) <= EPS and abs(value - anchor) < abs(best - anchor)):
                best, best_score = value, s
        return best, best_score

    start = (anchor, score(anchor))
    if problem.independent or len(grid) <= 12:
        return pick(_by_distance(grid, anchor), start)[0]
    best, best_score = pick(_by_distance(grid[::2], anchor), start)
    if best in grid:
        at = grid.index(best)
        best, _ = pick([grid[j] for j in (at - 1, at + 1) if 0 <= j < len(grid)], (best, best_score))
    return best


def _on_docs(objective: Objective, problem: Problem, docs: Optional[numpy.ndarray]) -> Objective:
    """``objective`` with a ``current`` floor taken from the current setting on ``docs``."""
    return objective.resolve(problem.totals(problem.current, docs)) if objective.keeps_current else objective


def _first_best(grid: Sequence[float], score_of: Callable[[float], float]) -> float:
    """The first value of ``grid`` (ascending) with the best ``score_of``: spaCy's ``find-threshold``
    choice (``max`` over its trials in order)."""
    best, best_score = float(grid[0]), -numpy.inf
    for value in sorted(float(v) for v in grid):
        s = score_of(value)
        if s > best_score + EPS:
            best, best_score = value, s
    return best


def fit_global(
    problem: Problem, objective: Objective, docs: Optional[numpy.ndarray] = None, *,
    grid: Optional[Sequence[float]] = None,
) -> float:
    """The one value for every label that scores best on ``docs`` (ties: nearest the neutral value).
    A ``current`` precision floor is the current setting's precision on those same ``docs``.
    ``grid`` (e.g. :data:`COARSE_THRESHOLD_GRID`): every value of that grid instead of the
    problem's, the first best in ascending order (as ``spacy find-threshold`` chooses)."""
    n = len(problem.labels)
    objective = _on_docs(objective, problem, docs)

    def score_of(value: float) -> float:
        return objective.score(problem.totals((value,) * n, docs))

    if grid is not None:
        return _first_best(grid, score_of)
    return _best(problem, problem.neutral, score_of)


def fit_label(
    problem: Problem, objective: Objective, base: Sequence[float], i: int,
    docs: Optional[numpy.ndarray] = None,
) -> float:
    """Label ``i``'s best value with the others at ``base`` (ties: stay at ``base[i]``); a
    ``current`` precision floor is the current setting's precision on those same ``docs``."""
    objective = _on_docs(objective, problem, docs)

    def score_of(value: float) -> float:
        values = list(base)
        values[i] = value
        return objective.label_score(problem.totals(values, docs), i)

    return _best(problem, float(base[i]), score_of)


# --- the noise of dev: paired bootstrap of held-out per-doc counts ---------------------------------
class Resampler:
    """``resamples`` bootstrap resamples of ``n_docs`` dev docs (``numpy.random.default_rng(seed)``),
    held as a ``(resamples, n_docs)`` matrix of how often each doc is drawn: per-doc counts
    multiplied by it give every resample's totals at once, and two sides multiplied by the same
    matrix are paired (the same resampled docs)."""

    def __init__(self, n_docs: int, resamples: int = RESAMPLES, seed: int = 0) -> None:
        if resamples < 1:
            raise ValueError(f"resamples={resamples!r}: use at least 1")
        rng = numpy.random.default_rng(seed)
        self.n_docs, self.resamples = int(n_docs), int(resamples)
        # float32 sums integer counts exactly below 2**24; half the memory of float64
        self.weights = numpy.zeros((self.resamples, self.n_docs), dtype="float32")
        chunk = max(1, 4_000_000 // max(self.n_docs, 1))
        for start in range(0, self.resamples, chunk):
            rows = min(chunk, self.resamples - start)
            drawn = rng.integers(0, self.n_docs, size=(rows, self.n_docs))
            flat = (drawn + numpy.arange(rows)[:, None] * self.n_docs).ravel()
            counts = numpy.bincount(flat, minlength=rows * self.n_docs).reshape(rows, self.n_docs)
            self.weights[start:start + rows] = counts

    def totals(self, per_doc: numpy.ndarray) -> numpy.ndarray:
        """Per-doc counts ``(n_docs, ...)`` summed over each resample's docs: ``(resamples, ...)``."""
        flat = numpy.asarray(per_doc, dtype="float32").reshape(self.n_docs, -1)
        # einsum's own loop, not BLAS: OpenBLAS worker threads keep spinning after a product, which
        # on a few shared cores slowed the rest of the search (numpy on small arrays) by half
        summed = numpy.einsum("bd,dk->bk", self.weights, flat, optimize=False)
        return summed.astype("float64").reshape((self.resamples,) + per_doc.shape[1:])


def percent_label(confidence: float) -> str:
    """``0.95`` -> ``95%``; ``0.98333`` -> ``98.33%``."""
    return f"{100 * confidence:.4g}%"


@dataclass
class Gain:
    """A cross-fitted gain (the new rule's score of the pooled held-out counts minus the old one's)
    and its paired bootstrap over the dev docs.

    ``positive``: the gain is > 0 (the rule before); ``lower``: the one-sided lower bound at
    ``confidence``, the (1 - ``confidence``) quantile of the resampled gains (``None`` at
    ``confidence`` 0); ``interval``: the two-sided 95 % percentile interval of the resampled gains
    (shown whatever the confidence). Fractions (0.01 = one point of F1). ``p_value``: the share
    of resampled gains <= 0 (what Holm's correction ranks the labels by); ``samples``: the
    resampled gains, for :meth:`at`.
    """

    value: float
    positive: bool
    confidence: float
    lower: Optional[float]
    interval: Tuple[float, float]
    resamples: int
    p_value: Optional[float] = None
    samples: Optional[numpy.ndarray] = field(default=None, repr=False, compare=False)

    def at(self, confidence: float) -> "Gain":
        """The same gain judged at another ``confidence`` (its lower bound from the same resamples)."""
        if self.samples is None:
            raise ValueError("this gain kept no resamples: it cannot be judged at another confidence")
        lower = float(numpy.quantile(self.samples, 1.0 - confidence)) if confidence > 0 else None
        return replace(self, confidence=confidence, lower=lower)

    @property
    def beyond_noise(self) -> bool:
        """Adopt: positive, and (at a ``confidence`` > 0) its lower bound > 0."""
        if not self.positive:
            return False
        return self.confidence == 0 or (self.lower is not None and self.lower > EPS)

    def bound_text(self) -> str:
        """``one-sided 95% lower bound -0.40`` (points), or ``""`` at confidence 0."""
        if self.confidence == 0 or self.lower is None:
            return ""
        return f"one-sided {percent_label(self.confidence)} lower bound {100 * self.lower:+.2f}"

    def verdict(self) -> str:
        """Why it is adopted or not, e.g. ``cross-fitted gain +0.80 not beyond the noise at 95%
        (one-sided lower bound -0.40)``."""
        text = f"cross-fitted gain {100 * self.value:+.2f}"
        if not self.positive:
            return text + " <= 0"
        if self.confidence == 0:
            return text
        bound = f"one-sided lower bound {100 * self.lower:+.2f}" if self.lower is not None else "no bound"
        if self.beyond_noise:
            return f"{text} beyond the noise at {percent_label(self.confidence)} ({bound})"
        return f"{text} not beyond the noise at {percent_label(self.confidence)} ({bound} <= 0)"

    def to_json(self) -> Dict[str, Any]:
        """Points of F1 (or of the objective), rounded to 2 decimals."""
        return {
            "gain": round(100 * self.value, 2),
            "lower_bound": None if self.lower is None else round(100 * self.lower, 2),
            "lower_bound_is": f"one-sided {percent_label(self.confidence)}" if self.lower is not None else None,
            "interval_95": [round(100 * x, 2) for x in self.interval],
            "interval_95_is": "two-sided 95% percentile interval",
            "resamples": self.resamples, "confidence": self.confidence,
            "positive": self.positive, "beyond_noise": self.beyond_noise,
        }


def paired_gain(
    objective: Objective, new: numpy.ndarray, old: numpy.ndarray, resampler: Resampler, *,
    label: Optional[int] = None, confidence: float = 0.95,
) -> Gain:
    """The gain of per-doc held-out counts ``new`` over ``old`` (both ``(n_docs, n_labels, 3)``):
    ``objective.score`` (``label=None``) or ``label_score(.., label)`` of their sums, and the same
    difference on each of ``resampler``'s resamples (the same docs for both sides)."""
    new_total, old_total = new.sum(axis=0), old.sum(axis=0)
    if label is None:
        new_score, old_score = objective.score(new_total), objective.score(old_total)
        positive = new_score > old_score + EPS
    else:
        new_score, old_score = objective.label_score(new_total, label), objective.label_score(old_total, label)
        positive = new_score - old_score > EPS
    small, new_rows, at = objective.compact(new, label)
    _, old_rows, _ = objective.compact(old, label)
    width = new_rows.shape[1]
    both = resampler.totals(numpy.concatenate([new_rows, old_rows], axis=1))
    gains = small.scores(both[:, :width], at) - small.scores(both[:, width:], at)
    lower = float(numpy.quantile(gains, 1.0 - confidence)) if confidence > 0 else None
    low, high = numpy.quantile(gains, [0.025, 0.975])
    return Gain(float(new_score - old_score), bool(positive), confidence, lower, (float(low), float(high)),
                resampler.resamples, p_value=float(numpy.mean(gains <= EPS)), samples=gains)


def holm_gains(gains: Dict[int, Gain], confidence: float) -> Tuple[Dict[int, Gain], Dict[int, int]]:
    """Holm's step-down over the labels tested (``gains``: label index -> its gain): ranked by
    p-value (ties: the larger gain first), the ``k``-th of ``m`` is judged at
    ``1 - (1 - confidence) / (m - k)``. Returns every label's gain at its own bar, and the labels
    held back by the step-down (ranked after the first label not beyond the noise; they do not
    depart whatever their own bound), each mapped to that first label."""
    order = sorted(gains, key=lambda i: (1.0 if gains[i].p_value is None else gains[i].p_value,
                                         -gains[i].value, i))
    m = len(order)
    judged: Dict[int, Gain] = {}
    held_back: Dict[int, int] = {}
    stopped: Optional[int] = None
    for k, i in enumerate(order):
        judged[i] = gains[i].at(1.0 - (1.0 - confidence) / (m - k))
        if stopped is not None:
            held_back[i] = stopped
        elif not judged[i].beyond_noise:
            stopped = i
    return judged, held_back


# --- the fit ---------------------------------------------------------------------------------------
@dataclass
class Fit:
    """What :func:`fit_problem` decided, and the numbers behind it (all counts ``(n_labels, 3)``,
    the ``*_docs`` ones ``(n_docs, n_labels, 3)``, each doc's row from the fold that held it out)."""

    labels: List[str]
    before_values: Tuple[float, ...]
    global_value: Optional[float]  # None: the current setting was kept
    after_values: Tuple[float, ...]
    departed: List[bool]
    reasons: List[str]
    support: List[int]
    before: numpy.ndarray  # in-sample = honest (nothing fitted)
    after: numpy.ndarray  # in-sample, all of dev
    cv_global: Optional[numpy.ndarray]  # held-out counts, one global value fitted per fold
    cv_departed: Optional[List[numpy.ndarray]]  # per label: held-out counts when it departs
    cv_chosen: Optional[numpy.ndarray]  # held-out counts of the rule chosen, label by label
    gains: List[Optional[float]]  # per label: cross-fitted gain of departing
    score_before: float = 0.0
    score_after: float = 0.0
    score_cv_global: Optional[float] = None
    score_cv_chosen: Optional[float] = None
    folds: int = 0
    notes: List[str] = field(default_factory=list)
    objective: Optional[Objective] = None  # the objective as fitted (floors resolved)
    confidence: float = 0.0  # the bar of the departures
    global_confidence: float = 0.0  # the bar of the global value
    correction: str = NO_CORRECTION  # how the departures' bars account for several labels
    global_gain: Optional[Gain] = None  # the global candidate chosen vs the current setting
    global_rule: str = ""  # why the global value was adopted or the current setting kept
    global_candidate: Optional[str] = None  # FINE or COARSE: the candidate compared with the current
    global_candidates: List[Dict[str, Any]] = field(default_factory=list)  # name, grid, value, score_cv
    global_grid: Tuple[float, ...] = ()  # the grid of the global value chosen
    grid: Tuple[float, ...] = ()  # the problem's grid (the departures')
    label_gains: List[Optional[Gain]] = field(default_factory=list)
    cv_global_docs: Optional[numpy.ndarray] = None
    cv_chosen_docs: Optional[numpy.ndarray] = None


def _held_out(problem: Problem, parts: List[numpy.ndarray], values: Sequence[Sequence[float]]) -> numpy.ndarray:
    """Per-doc counts ``(n_docs, n_labels, 3)``: each fold's docs counted at that fold's ``values``."""
    out = numpy.zeros((problem.n_docs, len(problem.labels), 3), dtype="int64")
    for held, fold_values in zip(parts, values):
        out[held] = problem.counts(fold_values)[held]
    return out


def _cross_fit_departures(
    problem: Problem, objective: Objective, parts: List[numpy.ndarray], trains: List[numpy.ndarray],
    bases: Sequence[Tuple[float, ...]],
) -> Tuple[numpy.ndarray, List[numpy.ndarray]]:
    """Per-doc held-out counts of each fold's base values ``bases[k]`` and, per label, of the
    label departing from them (its value fitted on the training folds ``trains[k]``)."""
    n = len(problem.labels)
    base_docs = _held_out(problem, parts, bases)
    departed = [numpy.zeros_like(base_docs) for _ in range(n)]
    for held, train, base in zip(parts, trains, bases):
        for i in range(n):
            values = list(base)
            values[i] = fit_label(problem, objective, base, i, train)
            departed[i][held] = problem.counts(values)[held]
    return base_docs, departed


def _grid_text(grid: Sequence[float]) -> str:
    return f"{min(grid):g}..{max(grid):g}"


def _global_candidates(
    problem: Problem, fitting: Objective, objective: Objective, parts: List[numpy.ndarray],
    trains: List[numpy.ndarray], coarse_grid: Optional[Sequence[float]],
) -> List[Dict[str, Any]]:
    """The global candidates (the problem's grid; with ``coarse_grid``, that grid's first best too),
    each fitted per fold and on all of dev: name, grid, per-fold values, held-out per-doc counts
    (``held``), cross-fitted score and the value on all of dev."""
    n = len(problem.labels)
    grids: List[Tuple[str, Optional[Sequence[float]]]] = [(FINE, None)]
    if coarse_grid is not None:
        grids.append((COARSE, [float(v) for v in coarse_grid]))
    out = []
    for name, grid in grids:
        fold_values = [fit_global(problem, fitting, train, grid=grid) for train in trains]
        held = _held_out(problem, parts, [(v,) * n for v in fold_values])
        out.append({
            "name": name, "grid": tuple(problem.grid if grid is None else grid),
            "fold_values": fold_values, "held": held, "score_cv": objective.score(held.sum(axis=0)),
            "value": fit_global(problem, fitting, grid=grid),
        })
    return out


def _winner(candidates: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The candidate with the best cross-fitted score (ties: the first, the fine grid)."""
    best = candidates[0]
    for candidate in candidates[1:]:
        if candidate["score_cv"] > best["score_cv"] + EPS:
            best = candidate
    return best


def fit_problem(
    problem: Problem,
    objective: Objective,
    *,
    folds: int = 5,
    seed: int = 0,
    min_support: int = 20,
    per_label: bool = True,
    per_label_reason: str = "",
    confidence: float = 0.95,
    coarse_grid: Optional[Sequence[float]] = None,
    resamples: int = RESAMPLES,
    global_confidence: Optional[float] = None,
    correction: str = HOLM,
    units: Optional[Sequence[int]] = None,
) -> Fit:
    """Global value first, per-label departures that earn it on held-out folds, final fit on all.

    A change is adopted only when its cross-fitted gain is positive beyond the noise of dev
    (``confidence``: the one-sided confidence of a paired bootstrap of ``resamples`` resamples of
    the dev docs, seeded by ``seed``; 0: any positive gain, the rule before); the global value's
    bar is ``global_confidence`` (``None``: ``confidence``), each departure's ``confidence``. When the global
    value does not beat the current setting so (e.g. a uniform bias on every class of an exclusive
    classifier, which changes nothing), the departures are judged against the current setting
    instead. ``coarse_grid``: a second global candidate chosen on that grid (spaCy's
    ``find-threshold``); the one with the better cross-fitted score is the one compared with the
    current setting. ``per_label=False`` (a setting that can store one value only): the global
    value alone, with ``per_label_reason`` as every label's reason. ``correction``: ``holm`` (the
    departures are one family, Holm's step-down at ``confidence``) or ``none`` (each label at
    ``confidence``). ``units``: the unit of each dev doc (:func:`group_problem`; e.g. its source
    document), so that the folds and the bootstrap take whole units; ``None``: each doc is one.
    Returns the :class:`Fit` (its per-doc arrays per unit); raises ``ValueError`` naming ``confidence``
    (``global_confidence``) when it is not a number in [0, 1), ``correction`` when unknown.
    """
    confidence = check_confidence(confidence)
    correction = check_correction(correction)
    if units is not None:
        problem = group_problem(problem, units)
    global_confidence = confidence if global_confidence is None else check_confidence(global_confidence,
                                                                                       "global_confidence")
    n = len(problem.labels)
    before_docs = problem.counts(problem.current)
    before = before_docs.sum(axis=0)
    fitting, objective = objective, objective.resolve(before)  # fits resolve on their own docs
    score_before = objective.score(before)
    notes: List[str] = []
    k = min(folds, problem.n_docs)
    parts = make_folds(problem.n_docs, k, seed) if k >= 2 else []
    everything = numpy.arange(problem.n_docs)
    trains = [numpy.setdiff1d(everything, held) for held in parts]
    cv_global: Optional[numpy.ndarray] = None
    cv_global_docs: Optional[numpy.ndarray] = None
    cv_dep: Optional[List[numpy.ndarray]] = None
    gains: List[Optional[float]] = [None] * n
    label_gains: List[Optional[Gain]] = [None] * n
    score_cv_global: Optional[float] = None
    global_gain: Optional[Gain] = None
    candidates: List[Dict[str, Any]] = []
    winner: Optional[Dict[str, Any]] = None
    resampler: Optional[Resampler] = None
    if parts:
        resampler = Resampler(problem.n_docs, resamples, seed)
        candidates = _global_candidates(problem, fitting, objective, parts, trains, coarse_grid)
        winner = _winner(candidates)
        cv_global_docs = winner["held"]
        cv_global = cv_global_docs.sum(axis=0)
        score_cv_global = winner["score_cv"]
        global_gain = paired_gain(objective, cv_global_docs, before_docs, resampler, confidence=global_confidence)
    else:
        notes.append(
            f"{problem.n_docs} dev doc(s): too few to cross-fit, so no gain can be estimated"
            " honestly and the current setting is kept"
        )
    adopt = global_gain is not None and global_gain.beyond_noise
    if global_gain is None:
        global_rule = "kept: too few dev docs to cross-fit"
    elif adopt:
        global_rule = f"adopted ({winner['name']}): {global_gain.verdict()}"  # type: ignore[index]
    else:
        global_rule = f"kept: {global_gain.verdict()}"
    if not adopt and parts:
        if global_gain is not None and global_gain.positive:  # beaten, but within the noise
            notes.append(
                f"one global value: cross-fitted {objective.describe()} {100 * score_cv_global:.2f}"  # type: ignore[operator]
                f" beats the current setting's {100 * score_before:.2f}, but not beyond the noise at"
                f" {percent_label(global_confidence)} ({global_gain.bound_text()}), so the current setting is kept"
                " and the labels' departures are judged against it"
            )
        else:
            notes.append(
                f"one global value: cross-fitted {objective.describe()} {100 * score_cv_global:.2f}"  # type: ignore[operator]
                f" does not beat the current setting's {100 * score_before:.2f}, so the labels'"
                " departures are judged against the current setting"
            )
    base_held_docs: Optional[numpy.ndarray] = cv_global_docs
    dep_docs: Optional[List[numpy.ndarray]] = None
    if per_label and parts and winner is not None and resampler is not None:
        bases = [(v,) * n for v in winner["fold_values"]] if adopt else [problem.current] * len(parts)
        base_held_docs, dep_docs = _cross_fit_departures(problem, fitting, parts, trains, bases)
        cv_dep = [d.sum(axis=0) for d in dep_docs]
        for i in range(n):
            label_gains[i] = paired_gain(objective, dep_docs[i], base_held_docs, resampler, label=i,
                                         confidence=confidence)
            gains[i] = label_gains[i].value  # type: ignore[union-attr]
    base_held = base_held_docs.sum(axis=0) if base_held_docs is not None else None
    base_name = "global" if adopt else "current"
    departed = [False] * n
    reasons: List[str] = []

    def nothing_to_fit(i: int) -> bool:
        return confidence > 0 and base_held is not None and cv_dep is not None \
            and base_held[i][TP] == 0 and cv_dep[i][i][TP] == 0

    tested = {i: g for i, g in enumerate(label_gains)
              if per_label and g is not None and problem.support[i] >= min_support and not nothing_to_fit(i)}
    held_back: Dict[int, int] = {}
    if correction == HOLM and confidence > 0 and len(tested) > 1:
        judged, held_back = holm_gains(tested, confidence)
        for i, g in judged.items():
            label_gains[i] = g
        tested = judged
    for i in range(n):
        gain = label_gains[i]
        if not per_label:
            reasons.append(per_label_reason or "one value for every label")
        elif gain is None:
            reasons.append(f"{base_name}: too few dev docs to cross-fit")
        elif problem.support[i] < min_support:
            reasons.append(f"{base_name}: {int(problem.support[i])} dev positives < min_support {min_support}")
        elif nothing_to_fit(i):
            reasons.append(
                f"{base_name}: F1 0 at the {base_name} value and with its own value (cross-fitted):"
                " nothing to fit"
            )
        elif not gain.positive:
            reasons.append(f"{base_name}: cross-fitted gain of its own value {100 * gain.value:+.2f} <= 0")
        elif not gain.beyond_noise:
            reasons.append(f"{base_name}: {gain.verdict()}" + (" (Holm, one family of"
                           f" {len(tested)} labels)" if correction == HOLM and len(tested) > 1 else ""))
        elif i in held_back:
            reasons.append(
                f"{base_name}: {gain.verdict()}, but Holm's step-down over {len(tested)} labels stopped"
                f" at {problem.labels[held_back[i]]}, ranked before it"
            )
        else:
            departed[i] = True
            bound = gain.bound_text()
            reasons.append(f"own value: cross-fitted gain {100 * gain.value:+.2f}" + (f" ({bound})" if bound else "")
                           + (f" (Holm, one family of {len(tested)} labels)"
                              if correction == HOLM and len(tested) > 1 and bound else ""))
    global_value: Optional[float] = winner["value"] if adopt and winner is not None else None
    values = [global_value] * n if adopt else list(problem.current)
    base_values = list(values)
    for _ in range(2):
        for i in range(n):
            if departed[i]:
                values[i] = fit_label(problem, fitting, values, i)
    for i in range(n):  # an allowed label whose in-sample best is its base value stays
        if departed[i] and values[i] == base_values[i]:
            departed[i] = False
            reasons[i] = f"{base_name}: its best value on all of dev is the {base_name} value"
    after_values = tuple(values)
    after = problem.totals(after_values)
    cv_chosen = None
    cv_chosen_docs = None
    score_cv_chosen = None
    if base_held_docs is not None:
        cv_chosen_docs = (base_held_docs if adopt else before_docs).copy()
        for i in range(n):
            if departed[i] and dep_docs is not None:
                cv_chosen_docs[:, i] = dep_docs[i][:, i]
        cv_chosen = cv_chosen_docs.sum(axis=0)
        score_cv_chosen = objective.score(cv_chosen)
    return Fit(
        labels=list(problem.labels), before_values=problem.current, global_value=global_value,
        after_values=after_values, departed=departed, reasons=reasons,
        support=[int(s) for s in problem.support], before=before, after=after,
        cv_global=cv_global, cv_departed=cv_dep, cv_chosen=cv_chosen, gains=gains,
        score_before=score_before, score_after=objective.score(after),
        score_cv_global=score_cv_global, score_cv_chosen=score_cv_chosen, folds=len(parts),
        notes=notes, objective=objective, confidence=confidence, global_confidence=global_confidence,
        correction=correction, global_gain=global_gain,
        global_rule=global_rule, global_candidate=winner["name"] if winner is not None else None,
        global_candidates=[dict({key: c[key] for key in ("name", "value", "score_cv", "fold_values")},
                                grid=_grid_text(c["grid"])) for c in candidates],
        global_grid=tuple(winner["grid"]) if winner is not None else tuple(problem.grid),
        grid=tuple(problem.grid), label_gains=label_gains, cv_global_docs=cv_global_docs,
        cv_chosen_docs=cv_chosen_docs,
    )


@dataclass
class Choice:
    """:func:`fit_choice`: which option (e.g. a span finder threshold) and global value won."""

    option: int
    value: float
    adopted: bool
    score_before: float
    score_after: float
    score_cv: Optional[float]
    folds: int
    confidence: float = 0.0
    gain: Optional[Gain] = None  # the candidate chosen vs the current pipeline
    rule: str = ""
    candidate: Optional[str] = None  # FINE or COARSE
    candidates: List[Dict[str, Any]] = field(default_factory=list)  # name, option, value, score_cv


def fit_choice(
    options: Sequence[Problem], objective: Objective, *, current: int = 0, folds: int = 5, seed: int = 0,
    confidence: float = 0.95, coarse_grid: Optional[Sequence[float]] = None, resamples: int = RESAMPLES,
    global_confidence: Optional[float] = None, units: Optional[Sequence[int]] = None,
) -> Choice:
    """Pick one option and one global value jointly (e.g. a span finder threshold and the global
    threshold of the span categorizer after it), cross-fitted like :func:`fit_problem`.

    ``options[current]`` at its current values is the baseline; the pair fitted on all docs is
    adopted only when the cross-fitted gain of the pair fitted per fold is positive beyond the
    noise (``global_confidence``, by default ``confidence``: the pair is one global choice, as
    :func:`fit_problem`'s global value). ``coarse_grid``: a second candidate, the
    current option with one global value chosen on that grid (spaCy's ``find-threshold``); the
    candidate with the better cross-fitted score is the one compared with the baseline.
    ``units``: as :func:`fit_problem`'s. Returns the :class:`Choice`.
    """
    confidence = check_confidence(confidence)
    if global_confidence is not None:
        confidence = check_confidence(global_confidence, "global_confidence")
    if units is not None:
        options = [group_problem(problem, units) for problem in options]
    base = options[current]
    before_docs = base.counts(base.current)
    before = before_docs.sum(axis=0)
    fitting, objective = objective, objective.resolve(before)
    score_before = objective.score(before)
    n = len(base.labels)

    def best(docs: Optional[numpy.ndarray]) -> Tuple[int, float, float]:
        objective = _on_docs(fitting, base, docs)
        choice = (current, base.neutral, -numpy.inf)
        for j, problem in enumerate(options):
            n = len(problem.labels)
            for value in _by_distance(problem.grid, problem.neutral):
                score = objective.score(problem.totals((value,) * n, docs))
                if score > choice[2] + EPS:
                    choice = (j, value, score)
        return choice

    def coarse(docs: Optional[numpy.ndarray]) -> Tuple[int, float, float]:
        value = fit_global(base, fitting, docs, grid=coarse_grid)
        return current, value, _on_docs(fitting, base, docs).score(base.totals((value,) * n, docs))

    rules: List[Tuple[str, Callable[[Optional[numpy.ndarray]], Tuple[int, float, float]]]] = [(FINE, best)]
    if coarse_grid is not None:
        rules.append((COARSE, coarse))
    k = min(folds, base.n_docs)
    parts = make_folds(base.n_docs, k, seed) if k >= 2 else []
    everything = numpy.arange(base.n_docs)
    candidates: List[Dict[str, Any]] = []
    for name, rule in rules:
        j, value, score_after = rule(None)
        candidate: Dict[str, Any] = {"name": name, "option": j, "value": value, "score_after": score_after,
                                     "score_cv": None, "held": None}
        if parts:
            held_docs = numpy.zeros((base.n_docs, n, 3), dtype="int64")
            for held in parts:
                fj, fv, _ = rule(numpy.setdiff1d(everything, held))
                held_docs[held] = options[fj].counts((fv,) * n)[held]
            candidate["held"] = held_docs
            candidate["score_cv"] = objective.score(held_docs.sum(axis=0))
        candidates.append(candidate)
    winner = _winner(candidates) if parts else candidates[0]
    gain = None
    if parts:
        gain = paired_gain(objective, winner["held"], before_docs, Resampler(base.n_docs, resamples, seed),
                           confidence=confidence)
    adopted = gain is not None and gain.beyond_noise  # one doc: nothing is honest
    if gain is None:
        rule_text = "kept: too few dev docs to cross-fit"
    else:
        rule_text = (f"adopted ({winner['name']}): " if adopted else "kept: ") + gain.verdict()
    return Choice(
        winner["option"], winner["value"], adopted, score_before, winner["score_after"], winner["score_cv"],
        len(parts), confidence=confidence, gain=gain, rule=rule_text, candidate=winner["name"],
        candidates=[{key: c[key] for key in ("name", "option", "value", "score_cv")} for c in candidates],
    )
