"""Generic NER column files: ``token ... tag`` per line, a blank line between sentences.

The commonest hand-made NER format: the token in the first column and its entity tag in the
last, tab- or space-separated (the first token line decides; tab-separated files may have
spaces inside tokens, space-separated ones may align columns with several spaces), any
number of columns in between (all ignored; every line must have as many as the first one).

* Tag schemes: ``iob1`` (CoNLL-2003: ``I-X`` may start an entity), ``iob2`` (every entity
  starts with ``B-X``), ``biluo`` (``B``/``I``/``L``/``U``; ``BIOES``'s ``E``/``S`` read as
  ``L``/``U``), or ``auto``: a sentence with an ``L-``/``U-``/``E-``/``S-`` tag is BILUO,
  any other is read as IOB1, which reads valid IOB2 the same way; a file must not mix IOB
  and BILUO sentences. The scheme found is reported (:attr:`IobDocs.scheme`).
* ``-DOCSTART-`` lines (token column) end a sentence and are skipped.
* Lines starting with ``#`` are tokens (hashtags!) unless ``comments=True``; then they are
  comments, and a ``# text = ...`` comment before a sentence gives its spacing.
"""
from __future__ import annotations

import re
from typing import Iterator, List, Literal, Optional, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab
from ._lines import check_limit, take, is_blank, iter_lines, preview
from .errors import CorpusFormatError, PathLike
from .tags import EntitySpan, SpanBuilder
from .uner import align_spaces

Scheme = Literal["auto", "iob1", "iob2", "biluo"]
SCHEMES: Tuple[str, ...] = ("auto", "iob1", "iob2", "biluo")
DOCSTART = "-DOCSTART-"
_TEXT_COMMENT = re.compile(r"^#\s*text\s*=\s?(.*)$")
_SPACES = re.compile(r" +")
_BILUO_ONLY = ("L", "U", "E", "S")
_BIOES = {"E": "L", "S": "U"}


def biluo_spans(tags: List[str]) -> List[EntitySpan]:
    """Entity spans of one sentence's BILUO (or BIOES) tags.

    Raises:
        ValueError: ``(index, message)`` in ``args``: the token whose tag breaks the scheme.
    """
    spans: List[EntitySpan] = []
    start: Optional[int] = None
    label: Optional[str] = None
    expected = "expected O, B-TYPE, I-TYPE, L-TYPE or U-TYPE (BILUO; E-/S- as in BIOES)"
    for i, tag in enumerate(tags):
        prefix, dash, kind = tag.partition("-")
        prefix = _BIOES.get(prefix, prefix)
        if tag != "O" and (not dash or not kind or prefix not in "BILU" or len(prefix) != 1
                           or any(c.isspace() for c in kind)):
            raise ValueError(i, f"invalid NER tag {tag!r}: {expected}")
        if start is not None and prefix not in ("I", "L"):
            raise ValueError(
                i, f"NER tag {tag!r} after an open {label} entity: in BILUO an entity that starts"
                f" with B-{label} continues with I-{label} and ends with L-{label}"
            )
        if tag == "O":
            continue
        if prefix in ("I", "L"):
            if start is None or kind != label:
                after = "the start of the sentence" if i == 0 else repr(tags[i - 1])
                raise ValueError(
                    i, f"NER tag {tag!r} after {after}: in BILUO {tag} may only follow"
                    f" B-{kind} or I-{kind}"
                )
            if prefix == "L":
                spans.append((start, i + 1, kind))
                start, label = None, None
        elif prefix == "B":
            start, label = i, kind
        else:  # U
            spans.append((i, i + 1, kind))
    if start is not None:
        raise ValueError(
            len(tags) - 1, f"the sentence ends inside a {label} entity: in BILUO an entity that"
            f" starts with B-{label} ends with L-{label}"
        )
    return spans


class IobDocs:
    """The docs of one file, read lazily; after iterating, :attr:`scheme` is what was found:
    ``"biluo"``, ``"iob1"`` (an entity starts with ``I-``), ``"iob2"`` (every entity starts
    with ``B-``) or ``"none"`` (no entity), or the scheme that was given."""

    def __init__(
        self,
        path: PathLike,
        *,
        scheme: str = "auto",
        comments: bool = False,
        limit: Optional[int] = None,
        vocab: Optional[Vocab] = None,
    ) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown tag scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
        check_limit(limit)
        self.path = path
        self.given = scheme
        self.comments = comments
        self.limit = limit
        self.vocab = default_vocab(vocab)
        self.scheme = scheme if scheme != "auto" else "none"
        self._iob_line: Optional[int] = None  # first line of an IOB entity sentence (auto)
        self._biluo_line: Optional[int] = None

    def __iter__(self) -> Iterator[Doc]:
        return take(self._read(), self.limit)

    # --- one sentence ------------------------------------------------------------------------
    def _spans(self, tags: List[str], lines: List[int]) -> List[EntitySpan]:
        scheme = self.given
        if scheme == "auto":
            is_biluo = any(tag.partition("-")[0] in _BILUO_ONLY for tag in tags)
            scheme = "biluo" if is_biluo else "iob1"
        if scheme == "biluo":
            try:
                spans = biluo_spans(tags)
            except ValueError as err:
                index, message = err.args
                raise CorpusFormatError(self.path, lines[index], message) from None
            if self.given == "auto" and spans:
                self._note_auto("biluo", lines[0])
            return spans
        builder = SpanBuilder("iob2" if scheme == "iob2" else "iob1")
        for tag, lineno in zip(tags, lines):
            try:
                builder.add(tag)
            except ValueError as err:
                raise CorpusFormatError(self.path, lineno, str(err)) from None
        spans = builder.finish()
        if self.given == "auto" and spans:
            self._note_auto("iob1" if _starts_with_i(tags) else "iob2", lines[0])
        return spans

    def _note_auto(self, found: str, lineno: int) -> None:
        """Remember what an entity sentence used; refuse a file that mixes IOB and BILUO."""
        if found == "biluo":
            self._biluo_line = self._biluo_line or lineno
        else:
            self._iob_line = self._iob_line or lineno
        if self._biluo_line is not None and self._iob_line is not None:
            raise CorpusFormatError(
                self.path, max(self._biluo_line, self._iob_line),
                f"the file mixes tag schemes: the sentence at line {self._iob_line} is IOB (no"
                f" L-/U- tags) and the one at line {self._biluo_line} is BILUO; give the scheme"
                " (--scheme iob1, iob2 or biluo) to read every sentence with one scheme"
            )
        if found == "biluo":
            self.scheme = "biluo"
        elif found == "iob1" or self.scheme == "none":
            self.scheme = found

    # --- lines -------------------------------------------------------------------------------
    def _columns(self, line: str, lineno: int, layout: Optional[Tuple[str, int, int, str]]) -> List[str]:
        """Split a token line; the first token line fixes the separator and the column count."""
        sep = layout[0] if layout else ("\t" if "\t" in line else " ")
        columns = line.split("\t") if sep == "\t" else _SPACES.split(line.strip(" "))
        kind = "tab" if sep == "\t" else "space"
        hint = ""
        first = f" (line {layout[2]}: {preview(layout[3])})" if layout else ""
        if not self.comments and (line.startswith("#") or (layout and layout[3].startswith("#"))):
            hint = (" (lines starting with # are read as tokens; give --comments if they are"
                    " comments)")
        if sep == " " and "\t" in line:
            raise CorpusFormatError(
                self.path, lineno,
                f"expected {kind}-separated columns like the first token line{first}, found a"
                f" tab{hint}:"
                f" {preview(line)}",
            )
        if len(columns) < 2:
            raise CorpusFormatError(
                self.path, lineno,
                f"expected at least 2 {kind}-separated columns (token ... tag), found"
                f" {len(columns)}{hint}: {preview(line)}",
            )
        if layout and len(columns) != layout[1]:
            raise CorpusFormatError(
                self.path, lineno,
                f"expected {layout[1]} {kind}-separated columns (token ... tag) like the first"
                f" token line{first}, found {len(columns)}{hint}: {preview(line)}",
            )
        if not columns[0]:
            raise CorpusFormatError(self.path, lineno, f"expected a token in the first column, found an empty column: {preview(line)}")
        if not columns[-1]:
            raise CorpusFormatError(self.path, lineno, f"expected a tag in the last column, found an empty column: {preview(line)}")
        return columns

    def _read(self) -> Iterator[Doc]:
        layout: Optional[Tuple[str, int, int, str]] = None  # sep, columns, line number, line
        words: List[str] = []
        tags: List[str] = []
        lines: List[int] = []
        text: Optional[str] = None
        for lineno, line in iter_lines(self.path):
            if self.comments and line.startswith("#"):
                match = _TEXT_COMMENT.match(line)
                if match and not words:
                    text = match.group(1)
                continue
            first = line.split("\t", 1)[0] if "\t" in line else _SPACES.split(line.strip(" "), 1)[0]
            is_docstart = first == DOCSTART
            if is_blank(line) or is_docstart:
                if words:
                    yield self._doc(words, tags, lines, text)
                words, tags, lines, text = [], [], [], None
                continue
            columns = self._columns(line, lineno, layout)
            if layout is None:
                layout = ("\t" if "\t" in line else " ", len(columns), lineno, line)
            words.append(columns[0])
            tags.append(columns[-1])
            lines.append(lineno)
        if words:
            yield self._doc(words, tags, lines, text)

    def _doc(self, words: List[str], tags: List[str], lines: List[int], text: Optional[str]) -> Doc:
        spans = self._spans(tags, lines)
        return build_doc(self.vocab, words, align_spaces(words, text), entities=spans)


def _starts_with_i(tags: List[str]) -> bool:
    """Whether an ``I-X`` tag starts an entity (after ``O``, another type, or at the start): IOB1."""
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return True
        previous = tag
    return False


def read_iob(
    path: PathLike,
    *,
    scheme: str = "auto",
    comments: bool = False,
    limit: Optional[int] = None,
    vocab: Optional[Vocab] = None,
) -> IobDocs:
    """Read a ``token ... tag`` column file into one ``Doc`` per sentence, lazily.

    Args:
        path: the file.
        scheme: ``"auto"`` (default), ``"iob1"``, ``"iob2"`` or ``"biluo"`` (see the module doc).
        comments: read lines starting with ``#`` as comments (default: as tokens).
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).

    Returns:
        An iterable of docs whose ``scheme`` attribute, after iterating, says which scheme was
        found.

    Raises:
        CorpusFormatError: malformed input (while iterating): column count or separator unlike
            the first token line, empty token or tag, invalid tag, a tag sequence the scheme
            does not allow, a file mixing IOB and BILUO (``auto``), encoding.
        ValueError: unknown scheme, negative limit.
    """
    return IobDocs(path, scheme=scheme, comments=comments, limit=limit, vocab=vocab)
