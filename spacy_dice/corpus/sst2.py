"""SST-2 (GLUE) sentiment TSV files: ``label<TAB>sentence``.

The first row may be a header (``label<TAB>sentence`` in train, ``label<TAB>content``
in the dev/test copies); labels are 0 (negative) or 1 (positive); CRLF line ends
are accepted. Each row becomes one doc tokenized by ``spacy.blank("en")`` with
cats ``{"positive": y, "negative": 1 - y}``.
"""
from __future__ import annotations

from typing import Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc

from ._docs import binary_cats, blank_english
from ._lines import check_limit, take, iter_tsv_rows, preview
from .errors import CorpusFormatError, PathLike

COLUMNS = ["label", "sentence"]
HEADER_TEXT_COLUMNS = ("sentence", "content")
POSITIVE_LABEL = "positive"
NEGATIVE_LABEL = "negative"
LABELS = (POSITIVE_LABEL, NEGATIVE_LABEL)


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
    check_limit(limit)
    return take(_read(path, nlp if nlp is not None else blank_english()), limit)


def _read(path: PathLike, nlp: Language) -> Iterator[Doc]:
    def check_header(lineno: int, line: str, cols: List[str]) -> None:
        if cols[1].strip() not in HEADER_TEXT_COLUMNS:
            raise CorpusFormatError(
                path, lineno,
                "expected the header 'label<TAB>sentence' or 'label<TAB>content', "
                f"found {preview(line)}",
            )

    for lineno, (label, sentence) in iter_tsv_rows(path, COLUMNS, check_header):
        if label.strip() not in ("0", "1"):
            raise CorpusFormatError(
                path, lineno, f"expected label 0 or 1 in column 1, found {preview(label)}"
            )
        if not sentence.strip():
            raise CorpusFormatError(
                path, lineno, "expected a sentence in column 2, found an empty string"
            )
        doc = nlp.make_doc(sentence.strip())
        doc.cats = binary_cats(LABELS, int(label))
        yield doc
