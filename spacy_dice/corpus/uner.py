"""Universal NER ``.iob2`` files (e.g. UNER English-EWT).

Token lines have 5 tab-separated columns ``id token tag - annotator`` with IOB2
tags (every entity starts with ``B-``); ``#`` lines are comments and a blank line
ends a sentence. Entities become ``doc.ents`` (every other token is ``O``). The
spaces between tokens come from the ``# text = ...`` comment when the tokens can
be found in it in order; otherwise every token but the last is followed by a space.
"""
from __future__ import annotations

import re
from typing import Iterator, List, Optional

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab
from ._lines import check_limit, take, is_blank, iter_lines, preview, split_columns
from .errors import CorpusFormatError, PathLike
from .tags import SpanBuilder

COLUMNS = ["id", "token", "tag", "-", "annotator"]
_TEXT_COMMENT = re.compile(r"^#\s*text\s*=\s?(.*)$")
_TOKEN_ID = re.compile(r"^[1-9][0-9]*$")


def align_spaces(words: List[str], text: Optional[str]) -> List[bool]:
    """Whether each word is followed by whitespace in ``text``.

    Falls back to "a space after every word but the last" when ``text`` is ``None``
    or the words are not found in it in order.
    """
    fallback = [True] * len(words)
    if words:
        fallback[-1] = False
    if text is None:
        return fallback
    spaces: List[bool] = []
    position = 0
    for word in words:
        while position < len(text) and text[position].isspace():
            position += 1
        if not text.startswith(word, position):
            return fallback
        position += len(word)
        spaces.append(position < len(text) and text[position].isspace())
    if words:
        spaces[-1] = False
    return spaces


def read_uner(
    path: PathLike, *, limit: Optional[int] = None, vocab: Optional[Vocab] = None
) -> Iterator[Doc]:
    """Read a UNER ``.iob2`` file into one ``Doc`` per sentence, lazily.

    Args:
        path: the ``.iob2`` file.
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, token ids out of sequence, empty token, invalid tag, ``I-X``
            not continuing an ``X`` entity, encoding.
    """
    check_limit(limit)
    return take(_read(path, default_vocab(vocab)), limit)


def _read(path: PathLike, vocab: Vocab) -> Iterator[Doc]:
    words: List[str] = []
    text: Optional[str] = None
    builder = SpanBuilder("iob2")

    def make() -> Doc:
        return build_doc(vocab, words, align_spaces(words, text), entities=builder.finish())

    for lineno, line in iter_lines(path):
        if is_blank(line):
            if words:
                yield make()
            words, text, builder = [], None, SpanBuilder("iob2")
            continue
        if line.startswith("#"):
            match = _TEXT_COMMENT.match(line)
            if match and not words:
                text = match.group(1)
            continue
        token_id, token, tag, _dash, _annotator = split_columns(
            line, sep="\t", names=COLUMNS, path=path, lineno=lineno
        )
        expected_id = len(words) + 1
        if not _TOKEN_ID.match(token_id) or int(token_id) != expected_id:
            raise CorpusFormatError(
                path, lineno,
                f"expected token id {expected_id} in column id (ids count 1, 2, 3, ... within "
                f"a sentence), found {preview(token_id)}",
            )
        if not token:
            raise CorpusFormatError(path, lineno, "expected a token in column token, found an empty column")
        try:
            builder.add(tag)
        except ValueError as err:
            raise CorpusFormatError(path, lineno, str(err)) from None
        words.append(token)
    if words:
        yield make()
