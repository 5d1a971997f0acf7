"""Gold matrices of the span components, with missing gold masked (``-1``), never negative.

* :func:`candidate_gold_sigmoid` (``dice_spancat``): a ``(n_candidates, n_labels)`` float matrix,
  1 where the candidate ``(start, end)`` is a gold span of that label, 0 where it is not, -1 where
  the gold is unknown;
* :func:`candidate_gold_softmax` (``dice_spancat_singlelabel``): one class id per candidate, the
  label's index, ``len(labels)`` for the negative label (not a span), -1 unknown;
* :func:`boundary_gold` (``dice_span_finder``): a ``(n_tokens, 2)`` float matrix with the start
  (column 0) and end (column 1) indicator of every token, -1 unknown.

What counts as unknown (masked):

* a doc whose reference has no span group under ``spans_key`` (``doc.spans`` lacks the key): the
  doc is unannotated, every row of it is -1. An EMPTY group under the key is an annotation (the doc
  has no spans): all its rows are 0 / negative. spaCy's own components train such docs as
  all-negative in both cases;
* a gold span whose boundaries do not fall on the predicted doc's token boundaries (different
  tokenization): for categorizers, every candidate inside the gold span's expanded token range,
  in the span's label column (single-label: the whole row), since one of them may be the span;
  for the span finder, the start / end cell of the token that holds the misaligned boundary (as
  spaCy's ``span_finder`` masks it);
* a gold span of a label the component does not have (e.g. a label seen only in the dev data):
  not a positive of any column; the candidate stays a negative of the labels the component has,
  which it is;
* single-label only: a candidate that is a gold span of two labels (exclusive classes cannot say
  which one).
"""
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc, Span
from spacy.training import Example

MISSING = -1

GoldSpan = Tuple[int, int, str]


def reference_spans(example: Example, key: str) -> Optional[Sequence[Span]]:
    """The reference's span group under ``key``, or ``None`` when the doc is not annotated."""
    spans = example.reference.spans
    if key not in spans:
        return None
    return spans[key]


def align_spans(example: Example, spans: Iterable[Span]) -> Tuple[List[GoldSpan], List[GoldSpan]]:
    """``(aligned, misaligned)`` gold spans as ``(start, end, label)`` token offsets in the
    PREDICTED doc; a misaligned span is given by its expanded token range (the smallest run of
    predicted tokens covering it)."""
    predicted: Doc = example.predicted
    aligned: List[GoldSpan] = []
    misaligned: List[GoldSpan] = []
    same_text = predicted.text == example.reference.text
    for span in spans:
        if same_text:
            start_char, end_char = span.start_char, span.end_char
        else:
            found = example.get_aligned_spans_y2x([span], allow_overlap=True)
            if found:
                aligned.append((found[0].start, found[0].end, span.label_))
                continue
            start_char, end_char = _approximate_chars(example, span)
        hit = predicted.char_span(start_char, end_char, alignment_mode="strict")
        if hit is not None and same_text:
            aligned.append((hit.start, hit.end, span.label_))
            continue
        wide = predicted.char_span(start_char, end_char, alignment_mode="expand")
        if wide is not None and len(wide):
            misaligned.append((wide.start, wide.end, span.label_))
    return aligned, misaligned


def _approximate_chars(example: Example, span: Span) -> Tuple[int, int]:
    """Character offsets of a reference span in the predicted text (texts differ in whitespace)."""
    y2x = example.alignment.y2x
    starts = numpy.asarray(y2x[span.start]).ravel() if len(span) else []
    ends = numpy.asarray(y2x[span.end - 1]).ravel() if len(span) else []
    x = example.predicted
    if len(starts) and len(ends):
        return x[int(starts[0])].idx, x[int(ends[-1])].idx + len(x[int(ends[-1])])
    return 0, 0


def _candidate_rows(candidates: numpy.ndarray) -> Dict[Tuple[int, int], List[int]]:
    rows: Dict[Tuple[int, int], List[int]] = {}
    for j, (start, end) in enumerate(candidates.tolist()):
        rows.setdefault((start, end), []).append(j)
    return rows


def _inside(candidates: numpy.ndarray, start: int, end: int) -> numpy.ndarray:
    """Rows of the candidates that lie inside the token range ``[start, end)``."""
    if not len(candidates):
        return numpy.zeros((0,), dtype="int64")
    return numpy.flatnonzero((candidates[:, 0] >= start) & (candidates[:, 1] <= end))


def _doc_candidates(candidates: Sequence[numpy.ndarray], i: int) -> numpy.ndarray:
    cand = numpy.asarray(candidates[i]).reshape((-1, 2)) if len(candidates[i]) else None
    return cand if cand is not None else numpy.zeros((0, 2), dtype="int32")


def candidate_gold_sigmoid(
    examples: Sequence[Example],
    candidates: Sequence[numpy.ndarray],
    labels: Sequence[str],
    key: str,
) -> numpy.ndarray:
    """``(sum n_i, len(labels))`` 1/0/-1 matrix for the candidates of every example (in order).

    ``candidates[i]`` is the ``(n_i, 2)`` array of ``(start, end)`` token offsets of example i.
    """
    label_index = {label: k for k, label in enumerate(labels)}
    blocks = []
    for cand, gold_spans in _annotated_candidates(examples, candidates, key):
        gold = numpy.zeros((cand.shape[0], len(labels)), dtype="float32")
        if gold_spans is None:
            gold[:] = MISSING
        else:
            aligned, misaligned = gold_spans
            for start, end, label in misaligned:
                if label in label_index:
                    gold[_inside(cand, start, end), label_index[label]] = MISSING
            for row, k in _gold_rows(cand, aligned, label_index):
                gold[row, k] = 1.0
        blocks.append(gold)
    return _stack(blocks, (0, len(labels)), "float32")


def candidate_gold_softmax(
    examples: Sequence[Example],
    candidates: Sequence[numpy.ndarray],
    labels: Sequence[str],
    key: str,
) -> numpy.ndarray:
    """One class id per candidate: label index, ``len(labels)`` = negative, -1 = unknown."""
    label_index = {label: k for k, label in enumerate(labels)}
    negative = len(labels)
    blocks = []
    for cand, gold_spans in _annotated_candidates(examples, candidates, key):
        gold = numpy.full((cand.shape[0],), negative, dtype="int32")
        if gold_spans is None:
            gold[:] = MISSING
        else:
            aligned, misaligned = gold_spans
            for start, end, _label in misaligned:
                gold[_inside(cand, start, end)] = MISSING
            for row, k in _gold_rows(cand, aligned, label_index):
                if gold[row] != MISSING:
                    gold[row] = k if gold[row] in (negative, k) else MISSING
        blocks.append(gold)
    return _stack(blocks, (0,), "int32")


def _annotated_candidates(
    examples: Sequence[Example], candidates: Sequence[numpy.ndarray], key: str
) -> Iterator[Tuple[numpy.ndarray, Optional[Tuple[List[GoldSpan], List[GoldSpan]]]]]:
    """Per example, in order: its ``(n_i, 2)`` candidates and its ``(aligned, misaligned)`` gold
    spans (:func:`align_spans`), or ``None`` for a doc not annotated under ``key``."""
    for i, example in enumerate(examples):
        cand = _doc_candidates(candidates, i)
        spans = reference_spans(example, key)
        yield cand, None if spans is None else align_spans(example, spans)


def _gold_rows(
    candidates: numpy.ndarray, aligned: Sequence[GoldSpan], label_index: Dict[str, int]
) -> Iterator[Tuple[int, int]]:
    """``(row, k)``: candidate ``row`` is an aligned gold span of the label with index ``k``, in
    the order of ``aligned`` (spans of labels not in ``label_index`` give none)."""
    rows = _candidate_rows(candidates)
    for start, end, label in aligned:
        k = label_index.get(label)
        if k is None:
            continue
        for row in rows.get((start, end), ()):
            yield row, k


def _stack(blocks: List[numpy.ndarray], empty_shape: Tuple[int, ...], dtype: str) -> numpy.ndarray:
    """The blocks one after the other (rows), or an empty array of ``empty_shape`` if none."""
    if not blocks:
        return numpy.zeros(empty_shape, dtype=dtype)
    return numpy.concatenate(blocks, axis=0)


def boundary_gold(examples: Sequence[Example], key: str, component: str) -> numpy.ndarray:
    """``(sum of tokens, 2)`` start / end indicators; -1 for unannotated docs and misaligned ends.

    Raises:
        ValueError: the predicted and reference texts differ (the span finder aligns by
            characters, as spaCy's does); the message names the component.
    """
    blocks = []
    for example in examples:
        predicted = example.predicted
        gold = numpy.zeros((len(predicted), 2), dtype="float32")
        spans = reference_spans(example, key)
        if spans is None:
            gold[:] = MISSING
            blocks.append(gold)
            continue
        if predicted.text != example.reference.text:
            raise ValueError(
                f"[{component}] the predicted and reference docs of an example have different"
                " texts; the span finder aligns gold spans by character offsets, so give both"
                " docs the same text (only the tokenization may differ)"
            )
        for span in spans:
            if not len(span):
                continue
            wide = predicted.char_span(span.start_char, span.end_char, alignment_mode="expand")
            if wide is None or not len(wide):
                continue
            first, last = wide[0], wide[-1]
            # a gold boundary of another span on the same token wins over "unknown"
            if first.idx == span.start_char:
                gold[first.i, 0] = 1.0
            elif gold[first.i, 0] != 1.0:
                gold[first.i, 0] = MISSING
            if last.idx + len(last) == span.end_char:
                gold[last.i, 1] = 1.0
            elif gold[last.i, 1] != 1.0:
                gold[last.i, 1] = MISSING
        blocks.append(gold)
    return _stack(blocks, (0, 2), "float32")
