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
3. **Rules**: the global value is adopted only when its cross-fitted score beats the current
   setting's; a label departs from it only when its cross-fitted gain is positive AND it has at
   least ``min_support`` gold positives on dev. Every label that stays gets the reason.
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
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy

THRESHOLD_GRID = numpy.round(numpy.arange(1, 100) / 100.0, 2)
"""Thresholds searched: 0.01 .. 0.99 in steps of 0.01 (a fixed grid rather than every distinct
predicted probability: it does not chase single dev spans, and its values read well in a config)."""

BIAS_GRID = numpy.round(numpy.arange(-16, 17) * 0.25, 2)
"""Log-space biases searched: -4 .. +4 in steps of 0.25 (a factor of e^4 ~ 55 either way on the
odds of a label)."""

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


def fit_global(problem: Problem, objective: Objective, docs: Optional[numpy.ndarray] = None) -> float:
    """The one value for every label that scores best on ``docs`` (ties: nearest the neutral value).
    A ``current`` precision floor is the current setting's precision on those same ``docs``."""
    n = len(problem.labels)
    objective = _on_docs(objective, problem, docs)
    return _best(problem, problem.neutral, lambda v: objective.score(problem.totals((v,) * n, docs)))


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


@dataclass
class Fit:
    """What :func:`fit_problem` decided, and the numbers behind it (all counts ``(n_labels, 3)``)."""

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


def _cross_fit_departures(
    problem: Problem, objective: Objective, parts: List[numpy.ndarray],
    base_of: Callable[[numpy.ndarray], Tuple[float, ...]],
) -> Tuple[numpy.ndarray, List[numpy.ndarray]]:
    """Held-out counts of the base values (``base_of(train docs)``) and, per label, of the label
    departing from them (its value fitted on the training folds)."""
    n = len(problem.labels)
    cv_base = numpy.zeros((n, 3), dtype="int64")
    cv_dep = [numpy.zeros((n, 3), dtype="int64") for _ in range(n)]
    everything = numpy.arange(problem.n_docs)
    for held in parts:
        train = numpy.setdiff1d(everything, held)
        base = base_of(train)
        cv_base += problem.totals(base, held)
        for i in range(n):
            values = list(base)
            values[i] = fit_label(problem, objective, base, i, train)
            cv_dep[i] += problem.totals(values, held)
    return cv_base, cv_dep


def fit_problem(
    problem: Problem,
    objective: Objective,
    *,
    folds: int = 5,
    seed: int = 0,
    min_support: int = 20,
    per_label: bool = True,
    per_label_reason: str = "",
) -> Fit:
    """Global value first, per-label departures that earn it on held-out folds, final fit on all.

    When the global value does not beat the current setting on held-out folds (e.g. a uniform
    bias on every class of an exclusive classifier, which changes nothing), the departures are
    judged against the current setting instead. ``per_label=False`` (a setting that can store one
    value only): the global value alone, with ``per_label_reason`` as every label's reason.
    """
    n = len(problem.labels)
    before = problem.totals(problem.current)
    fitting, objective = objective, objective.resolve(before)  # fits resolve on their own docs
    score_before = objective.score(before)
    notes: List[str] = []
    k = min(folds, problem.n_docs)
    parts = make_folds(problem.n_docs, k, seed) if k >= 2 else []
    cv_global: Optional[numpy.ndarray] = None
    cv_dep: Optional[List[numpy.ndarray]] = None
    gains: List[Optional[float]] = [None] * n
    score_cv_global: Optional[float] = None
    if parts:
        everything = numpy.arange(problem.n_docs)
        if per_label:
            cv_global, cv_dep = _cross_fit_departures(
                problem, fitting, parts, lambda train: (fit_global(problem, fitting, train),) * n
            )
        else:
            cv_global = numpy.zeros((n, 3), dtype="int64")
            for held in parts:
                g = fit_global(problem, fitting, numpy.setdiff1d(everything, held))
                cv_global += problem.totals((g,) * n, held)
        score_cv_global = objective.score(cv_global)
    else:
        notes.append(
            f"{problem.n_docs} dev doc(s): too few to cross-fit, so no gain can be estimated"
            " honestly and the current setting is kept"
        )
    adopt = score_cv_global is not None and score_cv_global > score_before + EPS
    base_held = cv_global
    if not adopt and parts:
        notes.append(
            f"one global value: cross-fitted {objective.describe()} {100 * score_cv_global:.2f}"  # type: ignore[operator]
            f" does not beat the current setting's {100 * score_before:.2f}, so the labels'"
            " departures are judged against the current setting"
        )
        if per_label:
            base_held, cv_dep = _cross_fit_departures(problem, fitting, parts, lambda train: problem.current)
    if per_label and parts and cv_dep is not None and base_held is not None:
        gains = [objective.label_score(cv_dep[i], i) - objective.label_score(base_held, i) for i in range(n)]
    base_name = "global" if adopt else "current"
    departed = [False] * n
    reasons: List[str] = []
    for i in range(n):
        if not per_label:
            reasons.append(per_label_reason or "one value for every label")
        elif gains[i] is None:
            reasons.append(f"{base_name}: too few dev docs to cross-fit")
        elif problem.support[i] < min_support:
            reasons.append(f"{base_name}: {int(problem.support[i])} dev positives < min_support {min_support}")
        elif gains[i] <= EPS:  # type: ignore[operator]
            reasons.append(f"{base_name}: cross-fitted gain of its own value {100 * gains[i]:+.2f} <= 0")
        else:
            departed[i] = True
            reasons.append(f"own value: cross-fitted gain {100 * gains[i]:+.2f}")
    global_value: Optional[float] = fit_global(problem, fitting) if adopt else None
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
    score_cv_chosen = None
    if base_held is not None:
        cv_chosen = (base_held if adopt else before).copy()
        for i in range(n):
            if departed[i] and cv_dep is not None:
                cv_chosen[i] = cv_dep[i][i]
        score_cv_chosen = objective.score(cv_chosen)
    return Fit(
        labels=list(problem.labels), before_values=problem.current, global_value=global_value,
        after_values=after_values, departed=departed, reasons=reasons,
        support=[int(s) for s in problem.support], before=before, after=after,
        cv_global=cv_global, cv_departed=cv_dep, cv_chosen=cv_chosen, gains=gains,
        score_before=score_before, score_after=objective.score(after),
        score_cv_global=score_cv_global, score_cv_chosen=score_cv_chosen, folds=len(parts),
        notes=notes, objective=objective,
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


def fit_choice(
    options: Sequence[Problem], objective: Objective, *, current: int = 0, folds: int = 5, seed: int = 0,
) -> Choice:
    """Pick one option and one global value jointly (e.g. a span finder threshold and the global
    threshold of the span categorizer after it), cross-fitted like :func:`fit_problem`.

    ``options[current]`` at its current values is the baseline; the pair fitted on all docs is
    adopted only when the cross-fitted score of the pair fitted per fold beats it.
    """
    base = options[current]
    before = base.totals(base.current)
    fitting, objective = objective, objective.resolve(before)
    score_before = objective.score(before)

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

    j, value, score_after = best(None)
    k = min(folds, base.n_docs)
    parts = make_folds(base.n_docs, k, seed) if k >= 2 else []
    score_cv = None
    if parts:
        held_totals = numpy.zeros((len(base.labels), 3), dtype="int64")
        everything = numpy.arange(base.n_docs)
        for held in parts:
            fj, fv, _ = best(numpy.setdiff1d(everything, held))
            held_totals += options[fj].totals((fv,) * len(base.labels), held)
        score_cv = objective.score(held_totals)
    adopted = score_cv is not None and score_cv > score_before + EPS  # one doc: nothing is honest
    return Choice(j, value, adopted, score_before, score_after, score_cv, len(parts))
