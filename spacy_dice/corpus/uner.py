"""Universal NER ``.iob2`` files (e.g. UNER English-EWT).

Token lines have 5 tab-separated columns ``id token tag - annotator`` with IOB2
tags (every entity starts with ``B-``); ``#`` lines are comments and a blank line
ends a sentence. Entities become ``doc.ents`` (every other token is ``O``). The
spaces between tokens come from the ``# text = ...`` comment when the tokens can
be found in it in order; otherwise every token but the last is followed by a space. The last
``# newdoc id = X`` comment before a sentence names its source document, in
``doc.user_data[SOURCE_DOC]`` (``"doc-N"`` for the N-th newdoc of the file when it has no id; no
key before the first).

With ``chars=True`` (Chinese NER) each sentence becomes a character doc
(:mod:`spacy_dice.corpus.chars`): one token per character of the tokens (whitespace inside a token
dropped), the entities over the characters of their tokens (``B-`` on a token starts the entity at
its first character); the reader counts the tokens (``words``). A ``# text = ...``
comment must then equal the tokens' characters once its whitespace is dropped, a token of only
whitespace is an error, and so is a file without any token.
"""
from __future__ import annotations

import re
from typing import Iterable, Iterator, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab, set_source_doc
from ._lines import SourceDocuments, check_limit, take, is_blank, iter_lines, preview, split_columns
from .chars import CharDocs, char_doc, sentence_without_lines, text_mismatch, word_characters
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
    path: PathLike,
    *,
    limit: Optional[int] = None,
    vocab: Optional[Vocab] = None,
    chars: bool = False,
) -> Iterable[Doc]:
    """Read a UNER ``.iob2`` file into one ``Doc`` per sentence, lazily.

    Args:
        path: the ``.iob2`` file.
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).
        chars: one token per character, the entities over characters (see the module doc).

    Returns:
        The docs: the file's tokens with their entities (an iterator), or with ``chars`` the
        character docs (a :class:`~spacy_dice.corpus.chars.CharDocs`, which counts the tokens);
        either way ``doc.user_data[SOURCE_DOC]`` names the source document (see the module doc).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, token ids out of sequence, empty token, invalid tag, ``I-X``
            not continuing an ``X`` entity, encoding; with ``chars`` also a ``# text``
            that differs from the tokens, a token of only whitespace, a file without tokens.
    """
    check_limit(limit)
    vocab = default_vocab(vocab)
    if chars:
        return CharDocs(lambda: _read(path, vocab, chars=True), limit)
    return take((doc for doc, _n_words in _read(path, vocab)), limit)


def _read(path: PathLike, vocab: Vocab, chars: bool = False) -> Iterator[Tuple[Doc, int]]:
    """``(doc, number of tokens)`` per sentence."""
    words: List[str] = []
    lines: List[int] = []
    text: Optional[str] = None
    text_line = 0
    builder = SpanBuilder("iob2")
    n_sentences = 0
    lineno = 0
    documents = SourceDocuments()
    source_doc: Optional[str] = None  # the source document of the sentence's first token line

    def make() -> Doc:
        return set_source_doc(make_doc(), source_doc)

    def make_doc() -> Doc:
        if not chars:
            return build_doc(vocab, words, align_spaces(words, text), entities=builder.finish())
        characters = [word_characters(word) for word in words]
        for word, word_chars, word_line in zip(words, characters, lines):
            if not word_chars:
                raise CorpusFormatError(
                    path, word_line,
                    f"expected a token with characters in column token, found {preview(word)}: a"
                    " character corpus has no token for a form of only whitespace",
                )
        problem = None if text is None else text_mismatch(text, "".join(characters))
        if problem is not None:
            raise CorpusFormatError(
                path, text_line, f"# text does not match the tokens (lines {lines[0]}-{lines[-1]}): {problem}"
            )
        return char_doc(vocab, characters, entities=builder.finish())

    for lineno, line in iter_lines(path):
        if is_blank(line):
            if words:
                n_sentences += 1
                yield make(), len(words)
            elif chars and text is not None:
                raise sentence_without_lines(path, text_line, text, "token lines", f"a blank line (line {lineno})")
            words, lines, text, builder = [], [], None, SpanBuilder("iob2")
            continue
        if line.startswith("#"):
            match = _TEXT_COMMENT.match(line)
            if match and not words:
                text, text_line = match.group(1), lineno
            documents.comment(line)
            continue
        if not words:
            source_doc = documents.current
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
        lines.append(lineno)
    if words:
        n_sentences += 1
        yield make(), len(words)
    elif chars and text is not None:
        raise sentence_without_lines(path, text_line, text, "token lines", "the end of the file")
    if chars and not n_sentences:
        raise CorpusFormatError(
            path, None,
            f"expected token lines (5 tab-separated columns {' '.join(COLUMNS)}), found none in"
            f" {lineno} line{'s' if lineno != 1 else ''}: the file has no sentence to convert",
        )
