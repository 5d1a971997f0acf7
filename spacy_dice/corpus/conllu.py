"""CoNLL-U (Universal Dependencies, e.g. UD English-EWT, UD Chinese-GSD) for POS tagging.

Each word line has 10 tab-separated columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD
DEPREL DEPS MISC``. UPOS goes to ``token.pos_`` and XPOS to ``token.tag_`` (``_``
leaves them unset). Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are
not tokens: the words of a range are. ``SpaceAfter=No`` in MISC (of the word, or of
the range for its last word) gives ``token.whitespace_``; the last token of a
sentence never has a trailing space. ``#`` lines are comments; the last ``# newdoc id = X``
before a sentence names its source document, in ``doc.user_data[SOURCE_DOC]`` (``"doc-N"`` for
the N-th newdoc of the file when it has no id; no key before the first).

With ``chars=True`` each sentence becomes a character doc (:mod:`spacy_dice.corpus.chars`) for
joint word segmentation + POS: one token per character, the words in ``doc.spans["words"]``
labelled with their UPOS (``pos="upos"``, the default) or XPOS (``pos="xpos"``), BILU x POS tags
in ``token.tag_``. There:

* the tag column asked for must be filled on every word (``_`` is an error, not a gap);
* a multiword token ``3-4`` contributes the characters of its own FORM (the surface). When the
  forms of its parts concatenate to it (whitespace dropped), the parts are the words; otherwise
  (``du`` = ``de`` + ``le``) the range is one word labelled with its parts' tags joined by ``+``
  (``ADP+DET``): the characters have no boundary between the parts to learn;
* a ``# text = ...`` comment, when present, must equal the words' characters once its whitespace
  is dropped;
* a file without any word is an error (nothing to train on), as is a word whose FORM is empty or
  only whitespace (FORM ``_`` is a real underscore).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, List, Optional, Tuple

from spacy.parts_of_speech import IDS as _SPACY_POS_IDS
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab, set_source_doc
from ._lines import SourceDocuments, check_limit, take, is_blank, iter_lines, preview, split_columns
from .chars import (
    DEFAULT_POS_COLUMN, MULTIWORD_JOIN, POS_COLUMNS, WORDS_KEY, CharDocs, char_doc, sentence_without_lines,
    text_mismatch, word_characters,
)
from .errors import CorpusFormatError, PathLike

COLUMNS = ["ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC"]
UD_UPOS = (
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)
"""The 17 Universal POS tags of UD v2."""
_ACCEPTED_UPOS = frozenset(tag for tag in _SPACY_POS_IDS if tag)  # what spaCy accepts in pos_

_WORD_ID = re.compile(r"^[1-9][0-9]*$")
_RANGE_ID = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")
_EMPTY_ID = re.compile(r"^(0|[1-9][0-9]*)\.[1-9][0-9]*$")
_TEXT_COMMENT = re.compile(r"^#\s*text\s*=\s?(.*)$")


def _space_after(misc: str) -> bool:
    return "SpaceAfter=No" not in misc.split("|")


@dataclass
class _Word:
    form: str
    upos: str  # the raw columns ("_" when unset)
    xpos: str
    space: bool
    lineno: int


@dataclass
class _Range:
    start: int  # index of its first word in the sentence (0-based)
    end: int  # index after its last word
    form: str
    lineno: int


@dataclass
class _Sentence:
    words: List[_Word] = field(default_factory=list)
    ranges: List[_Range] = field(default_factory=list)
    text: Optional[str] = None
    text_line: Optional[int] = None
    source_doc: Optional[str] = None  # the source document of its first word line (# newdoc)


def read_conllu(
    path: PathLike,
    *,
    limit: Optional[int] = None,
    vocab: Optional[Vocab] = None,
    chars: bool = False,
    pos: Optional[str] = None,
) -> Iterable[Doc]:
    """Read a CoNLL-U file into one ``Doc`` per sentence, lazily.

    Args:
        path: the ``.conllu`` file.
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).
        chars: one token per character, the words as spans (see the module doc).
        pos: with ``chars``, the column that labels the words: ``"upos"`` (default) or ``"xpos"``.

    Returns:
        The docs: word tokens with ``pos_`` / ``tag_`` (an iterator), or with ``chars`` the
        character docs (a :class:`~spacy_dice.corpus.chars.CharDocs`, which counts the words);
        either way ``doc.user_data[SOURCE_DOC]`` names the source document (see the module doc).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, word ids out of sequence, unknown UPOS, empty FORM, encoding; with
            ``chars`` also a ``_`` in the ``pos`` column, a ``# text`` that differs from the
            words, a form of only whitespace, a file without words.
        ValueError: ``pos`` other than ``"upos"`` / ``"xpos"``, or ``pos`` without ``chars``.
    """
    check_limit(limit)
    if pos is not None and pos not in POS_COLUMNS:
        raise ValueError(f"pos={pos!r} is not a POS column: expected one of {', '.join(map(repr, POS_COLUMNS))}")
    if pos is not None and not chars:
        raise ValueError(
            f"pos={pos!r} is only used with chars=True (it picks the tag that labels the words of a"
            " character corpus); without chars UPOS goes to pos_ and XPOS to tag_"
        )
    vocab = default_vocab(vocab)
    if chars:
        column = pos or DEFAULT_POS_COLUMN

        def read() -> Iterator[Tuple[Doc, int]]:
            for sentence in _sentences(path, require_words=True):
                doc = _char_doc(path, sentence, vocab, column)
                yield doc, len(doc.spans[WORDS_KEY])

        return CharDocs(read, limit)
    return take((_word_doc(sentence, vocab) for sentence in _sentences(path)), limit)


def _word_doc(sentence: _Sentence, vocab: Vocab) -> Doc:
    words = sentence.words
    spaces = [word.space for word in words]
    spaces[-1] = False
    doc = build_doc(
        vocab,
        [word.form for word in words],
        spaces,
        tags=[None if word.xpos in ("_", "") else word.xpos for word in words],
        pos=[None if word.upos == "_" else word.upos for word in words],
    )
    return set_source_doc(doc, sentence.source_doc)


def _label(path: PathLike, word: _Word, column: str) -> str:
    tag = word.upos if column == "upos" else word.xpos
    if tag in ("_", ""):
        other = "xpos" if column == "upos" else "upos"
        raise CorpusFormatError(
            path, word.lineno,
            f"expected a tag in column {column.upper()} (pos={column!r}: every word of a character"
            f" corpus is labelled with it), found {preview(tag)}; if the file has no"
            f" {column.upper()} tags, use pos={other!r}",
        )
    return tag


def _char_doc(path: PathLike, sentence: _Sentence, vocab: Vocab, column: str) -> Doc:
    """The character doc of one sentence (see the module doc for the multiword tokens)."""
    words: List[str] = []
    labels: List[str] = []
    ranges = {r.start: r for r in sentence.ranges}
    index = 0
    while index < len(sentence.words):
        token = ranges.get(index)
        if token is None:
            word = sentence.words[index]
            parts = [(word_characters(word.form), _label(path, word, column), word.lineno, word.form)]
            index += 1
        else:
            members = sentence.words[token.start:token.end]
            surface = word_characters(token.form)
            pieces = [word_characters(word.form) for word in members]
            tags = [_label(path, word, column) for word in members]
            if all(pieces) and "".join(pieces) == surface:
                parts = [(piece, tag, word.lineno, word.form) for piece, tag, word in zip(pieces, tags, members)]
            else:
                parts = [(surface, MULTIWORD_JOIN.join(tags), token.lineno, token.form)]
            index = token.end
        for characters, label, lineno, form in parts:
            if not characters:
                raise CorpusFormatError(
                    path, lineno,
                    f"expected a word with characters in column FORM, found {preview(form)}: a"
                    " character corpus has no token for a form of only whitespace",
                )
            words.append(characters)
            labels.append(label)
    _check_text(path, sentence, "".join(words))
    return set_source_doc(char_doc(vocab, words, labels=labels), sentence.source_doc)


def _check_text(path: PathLike, sentence: _Sentence, chars: str) -> None:
    if sentence.text is None:
        return
    problem = text_mismatch(sentence.text, chars)
    if problem is not None:
        lines = f"lines {sentence.words[0].lineno}-{sentence.words[-1].lineno}"
        raise CorpusFormatError(path, sentence.text_line, f"# text does not match the words ({lines}): {problem}")


def _sentences(path: PathLike, *, require_words: bool = False) -> Iterator[_Sentence]:
    """The sentences of the file, checked line by line; with ``require_words`` a file (or a
    ``# text`` comment) without any word is an error."""
    sentence = _Sentence()
    range_end = 0  # last word id of the current multiword token, 0 if none
    range_space = True
    n_sentences = 0
    lineno = 0
    documents = SourceDocuments()

    for lineno, line in iter_lines(path):
        if is_blank(line):
            if sentence.words:
                if range_end > len(sentence.words):
                    raise CorpusFormatError(
                        path, lineno,
                        f"sentence ended inside a multiword token: expected word {len(sentence.words) + 1} "
                        f"of the range ending at {range_end}, found a blank line",
                    )
                n_sentences += 1
                yield sentence
            elif require_words and sentence.text is not None:
                raise sentence_without_lines(path, sentence.text_line, sentence.text, "word lines",
                                             f"a blank line (line {lineno})")
            sentence = _Sentence()
            range_end = 0
            continue
        if line.startswith("#"):
            match = _TEXT_COMMENT.match(line)
            if match and not sentence.words:
                sentence.text, sentence.text_line = match.group(1), lineno
            documents.comment(line)
            continue
        words = sentence.words
        if not words and not sentence.ranges:
            sentence.source_doc = documents.current
        cols = split_columns(line, sep="\t", names=COLUMNS, path=path, lineno=lineno)
        word_id, form, _lemma, tag, xtag, *_rest, misc = cols
        expected_id = len(words) + 1
        if _EMPTY_ID.match(word_id):
            continue
        match = _RANGE_ID.match(word_id)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if first != expected_id or last <= first:
                raise CorpusFormatError(
                    path, lineno,
                    f"expected a multiword range starting at word {expected_id} (like "
                    f"{expected_id}-{expected_id + 1}), found {word_id!r}",
                )
            if require_words and not form:
                raise CorpusFormatError(path, lineno, "expected a multiword token in column FORM, found an empty column")
            if require_words and range_end >= first:
                raise CorpusFormatError(
                    path, lineno,
                    f"expected a multiword range after the end of the one on line"
                    f" {sentence.ranges[-1].lineno} (word {range_end}), found {word_id!r}: a character"
                    " corpus takes each character from one multiword token",
                )
            range_end, range_space = last, _space_after(misc)
            sentence.ranges.append(_Range(first - 1, last, form, lineno))
            continue
        if not _WORD_ID.match(word_id):
            raise CorpusFormatError(
                path, lineno,
                f"expected a word id (an integer like {expected_id}), a multiword range "
                f"(like 1-2) or an empty node (like 1.1) in column ID, found {preview(word_id)}",
            )
        if int(word_id) != expected_id:
            raise CorpusFormatError(
                path, lineno,
                f"expected word id {expected_id} (ids count 1, 2, 3, ... within a sentence), "
                f"found {word_id}",
            )
        if not form:
            raise CorpusFormatError(path, lineno, "expected a word in column FORM, found an empty column")
        if tag != "_" and tag not in _ACCEPTED_UPOS:
            raise CorpusFormatError(
                path, lineno,
                f"expected a Universal POS tag ({', '.join(UD_UPOS)}) or _ in column UPOS, "
                f"found {preview(tag)}",
            )
        if expected_id < range_end:
            space = False  # inside a multiword token
        elif expected_id == range_end:
            space = range_space
        else:
            space = _space_after(misc)
        words.append(_Word(form, tag, xtag, space, lineno))
    if sentence.words:
        if require_words and range_end > len(sentence.words):
            raise CorpusFormatError(
                path, lineno,
                f"the file ended inside a multiword token: expected word {len(sentence.words) + 1} "
                f"of the range ending at {range_end}",
            )
        n_sentences += 1
        yield sentence
    elif require_words and sentence.text is not None:
        raise sentence_without_lines(path, sentence.text_line, sentence.text, "word lines", "the end of the file")
    if require_words and not n_sentences:
        raise CorpusFormatError(
            path, None,
            f"expected word lines (10 tab-separated columns ID FORM ... MISC), found none in"
            f" {lineno} line{'s' if lineno != 1 else ''}: the file has no sentence to convert",
        )
