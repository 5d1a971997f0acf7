"""NER corpora as span categorization data: entities copied to ``doc.spans[spans_key]``.

``spancat``, ``dice_spancat`` and ``span_finder`` read their gold from a span group, not from
``doc.ents``. :func:`ents_as_spans` writes each doc's entities there (``doc.ents`` is kept, so the
same ``.spacy`` file also trains ``ner`` / ``dice_ner``). A doc whose entity annotation is missing
(no token has an IOB value) gets NO group, so the span components mask it rather than train it as
a doc without entities; a doc with ``O`` everywhere gets an empty group (a real negative).
"""
from __future__ import annotations

from typing import Iterable, Iterator

from spacy.tokens import Doc

DEFAULT_SPANS_KEY = "sc"


def check_spans_key(spans_key: str) -> str:
    """A non-empty string: the key of ``doc.spans``."""
    if not isinstance(spans_key, str) or not spans_key.strip():
        raise ValueError(
            f"spans_key={spans_key!r} is not allowed; use a non-empty name for doc.spans, e.g."
            f" {DEFAULT_SPANS_KEY!r} (spaCy's spancat default)"
        )
    return spans_key


def ents_as_spans(docs: Iterable[Doc], spans_key: str = DEFAULT_SPANS_KEY) -> Iterator[Doc]:
    """Yield ``docs`` with ``doc.spans[spans_key]`` = their entities (annotated docs only)."""
    check_spans_key(spans_key)
    for doc in docs:
        if len(doc) and doc.has_annotation("ENT_IOB"):
            doc.spans[spans_key] = list(doc.ents)
        elif spans_key in doc.spans:
            del doc.spans[spans_key]
        yield doc


def count_candidates(docs: Iterable[Doc], sizes: Iterable[int], spans_key: str = DEFAULT_SPANS_KEY):
    """The negative:positive ratio of n-gram candidates (the paper's Table 1 in span terms).

    Returns a dict: ``candidates`` (all n-grams of the ``sizes`` over annotated docs), ``positives``
    (candidates that are a gold span; a span of two labels counts once), ``gold_spans``,
    ``gold_not_suggested`` (gold spans longer than every size), ``neg_pos_ratio``.
    """
    sizes = sorted(set(int(s) for s in sizes))
    candidates = positives = gold = missed = 0
    for doc in docs:
        if spans_key not in doc.spans:
            continue
        n = len(doc)
        candidates += sum(max(n - size + 1, 0) for size in sizes)
        spans = {(span.start, span.end) for span in doc.spans[spans_key]}
        gold += len(doc.spans[spans_key])
        suggested = {(s, e) for s, e in spans if (e - s) in sizes}
        positives += len(suggested)
        missed += sum(1 for span in doc.spans[spans_key] if len(span) not in sizes)
    negatives = candidates - positives
    return {
        "sizes": sizes,
        "candidates": candidates,
        "positives": positives,
        "negatives": negatives,
        "gold_spans": gold,
        "gold_not_suggested": missed,
        "neg_pos_ratio": (negatives / positives) if positives else None,
    }
