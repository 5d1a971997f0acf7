"""Microsoft Research Paraphrase Corpus (MRPC) TSV files.

Columns ``Quality, #1 ID, #2 ID, #1 String, #2 String``, tab separated, read with
no quoting (the strings contain ``"``); the file may start with a UTF-8 BOM and a
header row. Each pair becomes one doc whose text is :func:`make_pair_text` of the
two strings, tokenized by ``spacy.blank("en")``, with cats
``{"paraphrase": q, "not_paraphrase": 1 - q}``.
"""
from __future__ import annotations

from typing import Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc

from ._docs import binary_cats, blank_english
from ._lines import check_limit, take, iter_tsv_rows, preview
from .errors import CorpusFormatError, PathLike
from .pairs import make_pair_text

COLUMNS = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
POSITIVE_LABEL = "paraphrase"
NEGATIVE_LABEL = "not_paraphrase"
LABELS = (POSITIVE_LABEL, NEGATIVE_LABEL)


def read_mrpc(
    path: PathLike, *, limit: Optional[int] = None, nlp: Optional[Language] = None
) -> Iterator[Doc]:
    """Read an MRPC file into one ``Doc`` per sentence pair, lazily.

    Args:
        path: ``msr_paraphrase_train.txt`` or ``msr_paraphrase_test.txt``.
        limit: keep only the first ``limit`` pairs (``None``: all).
        nlp: whose tokenizer makes the docs (default: ``spacy.blank("en")``).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, a Quality other than 0 or 1, an empty string, a wrong header,
            encoding.
    """
    check_limit(limit)
    return take(_read(path, nlp if nlp is not None else blank_english()), limit)


def _read(path: PathLike, nlp: Language) -> Iterator[Doc]:
    def check_header(lineno: int, line: str, cols: List[str]) -> None:
        if [c.strip() for c in cols] != COLUMNS:
            raise CorpusFormatError(
                path, lineno,
                f"expected the header {chr(9).join(COLUMNS)!r}, found {preview(line)}",
            )

    for lineno, cols in iter_tsv_rows(path, COLUMNS, check_header):
        quality, _id1, _id2, first, second = cols
        if quality.strip() not in ("0", "1"):
            raise CorpusFormatError(
                path, lineno,
                f"expected Quality 0 or 1 in column 1, found {preview(quality)}",
            )
        for column, sentence in ((4, first), (5, second)):
            if not sentence.strip():
                raise CorpusFormatError(
                    path, lineno,
                    f"expected a sentence in column {column} ({COLUMNS[column - 1]}), found an empty string",
                )
        doc = nlp.make_doc(make_pair_text(first, second))
        doc.cats = binary_cats(LABELS, int(quality))
        yield doc
