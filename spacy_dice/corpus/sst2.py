"""SST-2 (GLUE) sentiment TSV files: ``label<TAB>sentence``.

The first row may be a header (``label<TAB>sentence`` in train, ``label<TAB>content``
in the dev/test copies); labels are 0 (negative) or 1 (positive); CRLF line ends
are accepted. Each row becomes one doc tokenized by ``spacy.blank("en")`` with
cats ``{"positive": y, "negative": 1 - y}``.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc

from ._docs import blank_english
from ._lines import iter_tsv_rows, preview
from .errors import CorpusFormatError, PathLike

COLUMNS = ["label", "sentence"]
HEADER_TEXT_COLUMNS = ("sentence", "content")
POSITIVE_LABEL = "positive"
NEGATIVE_LABEL = "negative"
LABELS = (POSITIVE_LABEL, NEGATIVE_LABEL)


def sst2_cats(label: int) -> Dict[str, float]:
    """The ``doc.cats`` for a label of 1 (positive) or 0 (negative)."""
    return {POSITIVE_LABEL: float(label), NEGATIVE_LABEL: 1.0 - float(label)}


def read_sst2(
    path: PathLike, *, limit: Optional[int] = None, nlp: Optional[Language] = None
) -> Iterator[Doc]:
    """Read an SST-2 TSV file into one ``Doc`` per sentence, lazily.

    Args:
        path: ``train.tsv``, ``dev.tsv`` or ``test.tsv`` (labelled).
        limit: keep only the first ``limit`` sentences (``None``: all).
        nlp: whose tokenizer makes the docs (default: ``spacy.blank("en")``).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, a label other than 0 or 1, an empty sentence, a wrong header,
            encoding.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    return _read(path, limit, nlp if nlp is not None else blank_english())


def _read(path: PathLike, limit: Optional[int], nlp: Language) -> Iterator[Doc]:
    def check_header(lineno: int, line: str, cols: List[str]) -> None:
        if cols[1].strip() not in HEADER_TEXT_COLUMNS:
            raise CorpusFormatError(
                path, lineno,
                "expected the header 'label<TAB>sentence' or 'label<TAB>content', "
                f"found {preview(line)}",
            )

    for lineno, (label, sentence) in iter_tsv_rows(path, COLUMNS, check_header, limit):
        if label.strip() not in ("0", "1"):
            raise CorpusFormatError(
                path, lineno, f"expected label 0 or 1 in column 1, found {preview(label)}"
            )
        if not sentence.strip():
            raise CorpusFormatError(
                path, lineno, "expected a sentence in column 2, found an empty string"
            )
        doc = nlp.make_doc(sentence.strip())
        doc.cats = sst2_cats(int(label))
        yield doc
