"""Building spaCy ``Doc`` objects from gold tokens (shared by the readers)."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from .tags import EntitySpan

SOURCE_DOC = "source_doc"
"""The key of ``doc.user_data`` holding the id (a str) of the source document a converted doc
(sentence) came from: sentences of one web document or news article share names and style, so
``calibrate`` folds and resamples dev by it. Written by the readers where the format says it
(``# newdoc id = X`` in CoNLL-U and UNER, ``-DOCSTART-`` in CoNLL-2003), absent otherwise."""


@lru_cache(maxsize=1)
def blank_english() -> Language:
    """The ``spacy.blank("en")`` pipeline whose tokenizer and vocab the readers share."""
    import spacy

    return spacy.blank("en")


def default_vocab(vocab: Optional[Vocab]) -> Vocab:
    """``vocab`` itself, or the vocab of :func:`blank_english`."""
    return vocab if vocab is not None else blank_english().vocab


def binary_cats(labels: Tuple[str, str], value: int) -> Dict[str, float]:
    """The ``doc.cats`` of a two-class text: ``{labels[0]: value, labels[1]: 1 - value}`` (as
    floats) for a ``value`` of 1 (the first, positive label) or 0."""
    positive, negative = labels
    return {positive: float(value), negative: 1.0 - float(value)}


def build_doc(
    vocab: Vocab,
    words: Sequence[str],
    spaces: Sequence[bool],
    *,
    tags: Optional[Sequence[Optional[str]]] = None,
    pos: Optional[Sequence[Optional[str]]] = None,
    entities: Optional[Sequence[EntitySpan]] = None,
    sent_starts: Optional[Sequence[bool]] = None,
) -> Doc:
    """A ``Doc`` from gold tokens; ``None`` in ``tags``/``pos`` leaves that token unset.

    With ``entities`` (even an empty list) every token outside them is marked ``O``,
    so the doc is fully annotated for NER.
    """
    doc = Doc(
        vocab,
        words=list(words),
        spaces=list(spaces),
        sent_starts=list(sent_starts) if sent_starts is not None else None,
    )
    if tags is not None:
        for token, tag in zip(doc, tags):
            if tag is not None:
                token.tag_ = tag
    if pos is not None:
        for token, upos in zip(doc, pos):
            if upos is not None:
                token.pos_ = upos
    if entities is not None:
        doc.ents = [Span(doc, start, end, label=label) for start, end, label in entities]
    return doc


def set_source_doc(doc: Doc, source_doc: Optional[str]) -> Doc:
    """``doc`` with ``doc.user_data[SOURCE_DOC] = source_doc``; unchanged for ``None``."""
    if source_doc is not None:
        doc.user_data[SOURCE_DOC] = source_doc
    return doc


def sentence_starts(lengths: Sequence[int]) -> List[bool]:
    """``[True, False, ...]`` marking the first token of each sentence of the given lengths."""
    starts: List[bool] = []
    for length in lengths:
        starts.extend([True] + [False] * (length - 1))
    return starts
