"""What a component's decision setting does to the dev counts: one :class:`~.search.Problem` per
calibratable component, built from ONE prediction of the dev docs.

* :func:`threshold_problem`: multi-label span categorizers (``dice_spancat``, spaCy's
  ``spancat``) and spaCy's ``textcat_multilabel``: every (candidate, label) decision is
  ``P >= threshold[label]``, independent of the other labels, so the counts of each label at each
  threshold come straight from the cached probabilities (no annotation is written during the
  search).
* :func:`annotation_problem`: every other setting (``label_bias`` of ``dice_ner``,
  ``dice_textcat``, ``dice_spancat_singlelabel``, ``dice_tagger``; thresholds with
  ``max_positive``; a span finder on its own): each candidate setting is applied with the
  component's own ``set_annotations`` on fresh copies of the dev docs (the cached scores, no new
  prediction), and the annotations are counted against the gold.

Counting follows spaCy's scorers: spans and entities are ``(start, end, label)`` sets per doc
(``Scorer.score_spans``), docs without the gold annotation are skipped, exclusive text classes are
the argmax of ``doc.cats``, token tags are compared token by token. Gold labels the component does
not know are left out (and reported by the caller).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy
from spacy.tokens import Doc
from spacy.training import Example

from .search import Problem

SpanSet = Set[Tuple[int, int, str]]


class NoGoldError(ValueError):
    """The dev set has no gold annotation for a component."""


# --- gold --------------------------------------------------------------------------------------
@dataclass
class Gold:
    """Per dev doc: what the scorer compares against, in the predicted doc's token positions.

    ``kind``: ``spans`` (``items`` are ``(start, end, label)`` sets), ``cats`` (the gold label or
    ``None``), ``tokens`` (one gold label or ``""`` per predicted token). ``annotated[d]``: the doc
    counts at all (spaCy's ``has_annotation``). ``total[d, l]``: gold positives of label ``l``,
    including those that do not align with the predicted tokens (the scorer counts them as missed).
    ``unknown``: gold labels the component does not know -> count (left out).
    """

    kind: str
    labels: List[str]
    items: List[Any]
    annotated: numpy.ndarray
    total: numpy.ndarray
    unknown: Dict[str, int] = field(default_factory=dict)

    @property
    def support(self) -> numpy.ndarray:
        return self.total.sum(axis=0)


def _label_index(labels: Sequence[str]) -> Dict[str, int]:
    return {label: i for i, label in enumerate(labels)}


def span_gold(
    examples: Sequence[Example], labels: Sequence[str], what: str, *, key: Optional[str] = None,
    labeled: bool = True, component: str = "",
) -> Gold:
    """Gold spans (``what="spans"``: ``doc.spans[key]``; ``"ents"``: ``doc.ents``); ``labeled=False``:
    unlabelled spans (a span finder), one pseudo-label ``""``."""

    def read(eg: Example, index: Dict[str, int]) -> Tuple[bool, Any, List[str], List[str]]:
        ref = eg.reference
        has = ref.has_annotation("ENT_IOB") if what == "ents" else key in ref.spans
        spans = (list(ref.ents) if what == "ents" else list(ref.spans[key])) if has else []
        seen = [span.label_ if labeled else "" for span in spans]
        keep, positives, distinct = [], [], set()
        for span, label in zip(spans, seen):
            if label in index and (span.start, span.end, label) not in distinct:
                distinct.add((span.start, span.end, label))
                keep.append(span)
                positives.append(label)
        aligned = {
            (span.start, span.end, span.label_ if labeled else "")
            for span in (eg.get_aligned_spans_y2x(keep, allow_overlap=True) if keep else [])
        }
        return has, aligned, positives, seen

    where = "doc.ents" if what == "ents" else f"doc.spans[{key!r}]"
    return _collect(examples, list(labels) if labeled else [""], "spans", component, where, read)


def _collect(
    examples: Sequence[Example], labels: Sequence[str], kind: str, component: str, missing: str,
    read: Callable[[Example, Dict[str, int]], Tuple[bool, Any, List[str], List[str]]],
) -> Gold:
    """A :class:`Gold` from ``read(example, label_index)`` -> ``(annotated, item, gold labels
    (known), every gold label seen)``; a :class:`NoGoldError` naming ``missing`` when no doc has it."""
    index = _label_index(labels)
    items: List[Any] = []
    annotated = numpy.zeros(len(examples), dtype=bool)
    total = numpy.zeros((len(examples), len(labels)), dtype="int64")
    unknown: Dict[str, int] = {}
    for d, eg in enumerate(examples):
        has, item, positives, seen = read(eg, index)
        for label in seen:
            if label not in index:
                unknown[label] = unknown.get(label, 0) + 1
        for label in positives:
            total[d, index[label]] += 1
        annotated[d] = has
        items.append(item)
    if not annotated.any():
        raise NoGoldError(
            f"[{component}] the dev set has no gold {missing} in any of its {len(examples)} docs,"
            " so there is nothing to calibrate this component against"
        )
    return Gold(kind, list(labels), items, annotated, total, unknown)


def cats_gold(examples: Sequence[Example], labels: Sequence[str], component: str = "") -> Gold:
    """Exclusive classes: the label whose gold ``cats`` value is 1.0."""

    def read(eg: Example, index: Dict[str, int]) -> Tuple[bool, Any, List[str], List[str]]:
        seen = [label for label, value in eg.reference.cats.items() if value == 1.0]
        gold = [label for label in seen if label in index][:1]
        return bool(gold), (gold[0] if gold else None), gold, seen

    return _collect(examples, labels, "cats", component, "doc.cats (a label with value 1.0)", read)


def multilabel_cats_gold(examples: Sequence[Example], labels: Sequence[str], component: str = "") -> Gold:
    """Multi-label classes: every label with a gold value (1.0 positive, 0.0 negative)."""

    def read(eg: Example, index: Dict[str, int]) -> Tuple[bool, Any, List[str], List[str]]:
        cats = eg.reference.cats
        positive = [label for label, value in cats.items() if value == 1.0 and label in index]
        return bool(cats), set(positive), positive, list(cats)

    return _collect(examples, labels, "cats", component, "doc.cats", read)


def token_gold(examples: Sequence[Example], labels: Sequence[str], attr: str, component: str = "") -> Gold:
    """Token tags (``attr``: ``tag`` or ``pos``), aligned to the predicted tokens."""

    def read(eg: Example, index: Dict[str, int]) -> Tuple[bool, Any, List[str], List[str]]:
        seen = [t or "" for t in eg.get_aligned(attr.upper(), as_string=True)]
        clean = [tag if tag in index else "" for tag in seen]
        return any(clean), clean, [tag for tag in clean if tag], [tag for tag in seen if tag]

    return _collect(examples, labels, "tokens", component, f"token.{attr}_", read)


# --- counting annotated docs --------------------------------------------------------------------
def predicted_items(doc: Doc, gold: Gold, what: str, key: Optional[str], labeled: bool, attr: str) -> Any:
    if gold.kind == "spans":
        spans = doc.ents if what == "ents" else doc.spans.get(key, [])
        return {(s.start, s.end, s.label_ if labeled else "") for s in spans}
    if gold.kind == "cats":
        if what == "multilabel_cats":
            return doc.cats
        cats = {k: v for k, v in doc.cats.items() if k in gold.labels}
        return max(cats.items(), key=lambda item: item[1])[0] if cats else None
    return [getattr(token, f"{attr}_") for token in doc]


def count_doc(gold: Gold, d: int, predicted: Any, index: Dict[str, int], out: numpy.ndarray) -> None:
    """Add doc ``d``'s tp / fp / fn per label to ``out[d]`` (``(n_labels, 3)``)."""
    if not gold.annotated[d]:
        return
    if gold.kind == "spans":
        gold_set = gold.items[d]
        for start, end, label in predicted:
            i = index.get(label)
            if i is None:
                continue
            out[d, i, 0 if (start, end, label) in gold_set else 1] += 1
        out[d, :, 2] = gold.total[d] - out[d, :, 0]
    else:  # exclusive classes (one decision per doc) or token tags (one per token)
        pairs = [(gold.items[d], predicted)] if gold.kind == "cats" else zip(gold.items[d], predicted)
        for truth, guess in pairs:
            if not truth:
                continue
            if guess == truth:
                out[d, index[truth], 0] += 1
            else:
                if guess in index:
                    out[d, index[guess], 1] += 1
                out[d, index[truth], 2] += 1


# --- problems ------------------------------------------------------------------------------------
@dataclass
class Candidates:
    """Cached probabilities of independent (candidate, label) decisions.

    ``doc``: the dev doc of each candidate; ``probs``: ``(n_candidates, n_labels)``;
    ``is_gold``: ``(n_candidates, n_labels)`` bool; ``total``: gold positives per doc and label;
    ``annotated``: docs that count.
    """

    doc: numpy.ndarray
    probs: numpy.ndarray
    is_gold: numpy.ndarray
    total: numpy.ndarray
    annotated: numpy.ndarray

    def label_counts(self, i: int, threshold: float) -> numpy.ndarray:
        n_docs = len(self.total)
        keep = (self.probs[:, i] >= threshold) & self.annotated[self.doc]
        tp = numpy.bincount(self.doc[keep & self.is_gold[:, i]], minlength=n_docs)
        fp = numpy.bincount(self.doc[keep & ~self.is_gold[:, i]], minlength=n_docs)
        fn = numpy.where(self.annotated, self.total[:, i] - tp, 0)
        return numpy.stack([tp, fp, fn], axis=1).astype("int64")

    def candidate_recall(self) -> float:
        """Share of gold positives among the candidates at all (the ceiling of recall)."""
        found = int(self.is_gold[self.annotated[self.doc]].sum())
        total = int(self.total[self.annotated].sum())
        return found / total if total else 0.0


def span_candidates(indices: Any, probs: Any, gold: Gold, ops: Any) -> Candidates:
    """:class:`Candidates` from a span categorizer's ``predict`` output ``(indices, probs)``."""
    lengths = ops.to_numpy(indices.lengths).astype("int64")
    n = int(lengths.sum())
    n_labels = len(gold.labels)
    if n == 0:
        empty = numpy.zeros((0, n_labels))
        return Candidates(numpy.zeros(0, "int64"), empty, empty.astype(bool), gold.total, gold.annotated)
    data = ops.to_numpy(indices.dataXd).reshape((-1, 2)).astype("int64")
    probs = numpy.asarray(ops.to_numpy(probs), dtype="float64")
    doc = numpy.repeat(numpy.arange(len(lengths)), lengths)
    # one row per distinct (doc, start, end): a span group and the scorer keep each span once
    _, first = numpy.unique(numpy.stack([doc, data[:, 0], data[:, 1]], axis=1), axis=0, return_index=True)
    first = numpy.sort(first)
    doc, data, probs = doc[first], data[first], probs[first]
    is_gold = numpy.zeros(probs.shape, dtype=bool)
    for row, (d, (start, end)) in enumerate(zip(doc.tolist(), data.tolist())):
        gold_set = gold.items[d]
        if not gold_set:
            continue
        for i, label in enumerate(gold.labels):
            if (start, end, label) in gold_set:
                is_gold[row, i] = True
    return Candidates(doc, probs, is_gold, gold.total, gold.annotated)


def cats_candidates(probs: Any, gold: Gold, labels: Sequence[str]) -> Candidates:
    """:class:`Candidates` of a multi-label text classifier: each doc is one candidate."""
    probs = numpy.asarray(probs, dtype="float64")
    n_docs = probs.shape[0]
    is_gold = numpy.zeros(probs.shape, dtype=bool)
    for d, positive in enumerate(gold.items):
        for i, label in enumerate(labels):
            is_gold[d, i] = label in positive
    return Candidates(numpy.arange(n_docs), probs, is_gold, gold.total, gold.annotated)


def threshold_problem(
    candidates: Candidates, labels: Sequence[str], current: Sequence[float], grid: Sequence[float],
) -> Problem:
    return Problem(
        labels, grid, current, neutral=0.5, support=candidates.total[candidates.annotated].sum(axis=0),
        n_docs=len(candidates.total), label_fn=candidates.label_counts,
    )


def annotation_problem(
    *,
    labels: Sequence[str],
    grid: Sequence[float],
    current: Sequence[float],
    neutral: float,
    docs: Sequence[Doc],
    gold: Gold,
    apply: Callable[[Dict[str, float]], None],
    annotate: Callable[[List[Doc], Optional[numpy.ndarray]], None],
    what: str,
    key: Optional[str] = None,
    labeled: bool = True,
    attr: str = "tag",
    fixed: Optional[numpy.ndarray] = None,
    in_place: bool = False,
    items: Optional[Callable[[numpy.ndarray], List[Any]]] = None,
) -> Problem:
    """A :class:`~.search.Problem` whose counts come from annotating ``docs`` (cached scores).

    ``apply(values)`` sets the component's decision (label -> value); ``annotate(docs, rows)``
    writes the annotations of the docs ``rows`` (``None``: all) from the cached scores: on fresh
    copies, or on ``docs`` themselves with ``in_place`` (for a component whose annotation replaces
    all of its previous output). ``items(rows)``, when given, returns what the annotation would
    hold for those docs without writing it (e.g. ``dice_ner``'s decoded entities), the fastest.
    ``fixed``: docs whose annotation no value of the grid can change (counted once).
    """
    index = _label_index(gold.labels)
    n_docs = len(docs)
    active = numpy.arange(n_docs) if fixed is None else numpy.flatnonzero(~fixed)
    base = numpy.zeros((n_docs, len(gold.labels), 3), dtype="int64")

    def counts_of(rows: numpy.ndarray, out: numpy.ndarray) -> None:
        if items is not None:
            for d, predicted in zip(rows.tolist(), items(rows)):
                count_doc(gold, d, predicted, index, out)
            return
        targets = [docs[d] for d in rows] if in_place else [docs[d].copy() for d in rows]
        annotate(targets, None if len(rows) == n_docs else rows)
        for d, doc in zip(rows.tolist(), targets):
            count_doc(gold, d, predicted_items(doc, gold, what, key, labeled, attr), index, out)

    if fixed is not None and fixed.any():
        apply({label: v for label, v in zip(labels, current)})
        counts_of(numpy.flatnonzero(fixed), base)

    def count_fn(values: Tuple[float, ...]) -> numpy.ndarray:
        apply({label: v for label, v in zip(labels, values)})
        out = base.copy()
        if len(active):
            counts_of(active, out)
        return out

    return Problem(
        labels, grid, current, neutral=neutral, support=gold.support, n_docs=n_docs, count_fn=count_fn,
    )
