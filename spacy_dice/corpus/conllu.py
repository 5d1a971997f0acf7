"""CoNLL-U (Universal Dependencies, e.g. UD English-EWT) for POS tagging.

Each word line has 10 tab-separated columns ``ID FORM LEMMA UPOS XPOS FEATS HEAD
DEPREL DEPS MISC``. UPOS goes to ``token.pos_`` and XPOS to ``token.tag_`` (``_``
leaves them unset). Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are
not tokens: the words of a range are. ``SpaceAfter=No`` in MISC (of the word, or of
the range for its last word) gives ``token.whitespace_``; the last token of a
sentence never has a trailing space. ``#`` lines are comments.
"""
from __future__ import annotations

import re
from typing import Iterator, List, Optional

from spacy.parts_of_speech import IDS as _SPACY_POS_IDS
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab
from ._lines import check_limit, take, is_blank, iter_lines, preview, split_columns
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


def _space_after(misc: str) -> bool:
    return "SpaceAfter=No" not in misc.split("|")


def read_conllu(
    path: PathLike, *, limit: Optional[int] = None, vocab: Optional[Vocab] = None
) -> Iterator[Doc]:
    """Read a CoNLL-U file into one ``Doc`` per sentence, lazily.

    Args:
        path: the ``.conllu`` file.
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).

    Raises:
        CorpusFormatError: malformed input (raised while iterating): column count,
            separator, word ids out of sequence, unknown UPOS, empty FORM, encoding.
    """
    check_limit(limit)
    return take(_read(path, default_vocab(vocab)), limit)


def _read(path: PathLike, vocab: Vocab) -> Iterator[Doc]:
    words: List[str] = []
    spaces: List[bool] = []
    upos: List[Optional[str]] = []
    xpos: List[Optional[str]] = []
    range_end = 0  # last word id of the current multiword token, 0 if none
    range_space = True

    def reset() -> None:
        nonlocal words, spaces, upos, xpos, range_end
        words, spaces, upos, xpos = [], [], [], []
        range_end = 0

    def make() -> Doc:
        spaces[-1] = False
        return build_doc(vocab, words, spaces, tags=xpos, pos=upos)

    for lineno, line in iter_lines(path):
        if is_blank(line):
            if words:
                if range_end > len(words):
                    raise CorpusFormatError(
                        path, lineno,
                        f"sentence ended inside a multiword token: expected word {len(words) + 1} "
                        f"of the range ending at {range_end}, found a blank line",
                    )
                yield make()
            reset()
            continue
        if line.startswith("#"):
            continue
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
            range_end, range_space = last, _space_after(misc)
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
        words.append(form)
        spaces.append(space)
        upos.append(None if tag == "_" else tag)
        xpos.append(None if xtag in ("_", "") else xtag)
    if words:
        yield make()
