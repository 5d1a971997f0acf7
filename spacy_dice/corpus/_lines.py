"""Line-level helpers shared by the readers: strict UTF-8 decoding, column splitting, the
``limit`` on the number of docs, the source document of the sentences (``# newdoc``)."""
from __future__ import annotations

import codecs
import itertools
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, TypeVar

from .errors import CorpusFormatError, PathLike

_PREVIEW_CHARS = 80
_NEWDOC_COMMENT = re.compile(r"^#\s*newdoc(?=\s|$)(.*)$")
_NEWDOC_ID = re.compile(r"^\s*id\s*=\s*(.*?)\s*$")


T = TypeVar("T")


def check_limit(limit: Optional[int]) -> None:
    """Raise a ValueError if ``limit`` (how many docs a reader keeps; ``None``: all) is negative."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")


def take(items: Iterable[T], limit: Optional[int]) -> Iterator[T]:
    """The first ``limit`` of ``items`` (all of them for ``None``). No item past them is asked
    for, so a lazy reader stops there and never sees the lines that follow."""
    return iter(items) if limit is None else itertools.islice(items, limit)


def preview(text: str) -> str:
    """``repr`` of ``text``, cut to a readable length for error messages."""
    if len(text) > _PREVIEW_CHARS:
        return repr(text[:_PREVIEW_CHARS]) + f"... ({len(text)} characters)"
    return repr(text)


class SourceDocuments:
    """The source document the lines read so far are in (:data:`~._docs.SOURCE_DOC`).

    :attr:`current` is ``None`` before the first document starts, then the id of the last one
    started: its name, or ``f"{prefix}-{N}"`` for an unnamed one, N its 1-based index among the
    documents of the file.
    """

    def __init__(self, prefix: str = "doc") -> None:
        self.prefix = prefix
        self.count = 0
        self.current: Optional[str] = None

    def start(self, name: Optional[str] = None) -> None:
        """A new document starts, called ``name`` (``None`` or empty: unnamed)."""
        self.count += 1
        self.current = name or f"{self.prefix}-{self.count}"

    def comment(self, line: str) -> bool:
        """Start a document if ``line`` is a CoNLL-U ``# newdoc`` / ``# newdoc id = X`` comment
        (UD marks the start of each document with it); whether it was one."""
        match = _NEWDOC_COMMENT.match(line)
        if match is None:
            return False
        named = _NEWDOC_ID.match(match.group(1))
        self.start(named.group(1) if named else None)
        return True


def iter_lines(path: PathLike) -> Iterator[Tuple[int, str]]:
    """Yield ``(line_number, line)`` for each line of a UTF-8 file, 1-based.

    Lines are split on ``\\n`` only (a stray ``\\r``, form feed or Unicode line
    separator inside a line stays in it); a trailing ``\\r`` (CRLF files) is removed,
    and so is a UTF-8 byte order mark at the start of the file. Bytes that are not
    UTF-8 raise :class:`CorpusFormatError` naming the line and the byte position.
    """
    path = Path(path)
    offset = 0
    with path.open("rb") as file:
        for lineno, raw in enumerate(file, 1):
            start = offset
            offset += len(raw)
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
                start += len(codecs.BOM_UTF8)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = raw[err.start:err.end].hex(" ")
                raise CorpusFormatError(
                    path,
                    lineno,
                    f"expected UTF-8 text, found invalid byte(s) {bad} at byte {err.start + 1} "
                    f"of the line (byte offset {start + err.start} in the file)",
                ) from None
            if text.endswith("\n"):
                text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
            yield lineno, text


def is_blank(line: str) -> bool:
    """True for an empty line or one with only spaces and tabs (a sentence boundary)."""
    return not line.strip(" \t")


def split_columns(
    line: str, *, sep: str, names: List[str], path: PathLike, lineno: int
) -> List[str]:
    """Split ``line`` on ``sep`` into exactly ``len(names)`` columns, or raise.

    The error says which separator is expected when the line uses the other one.
    """
    columns = line.split(sep)
    if sep == " " and "\t" in line:
        raise CorpusFormatError(
            path,
            lineno,
            f"expected {len(names)} space-separated columns ({' '.join(names)}), "
            f"found a tab: columns must be separated by single spaces, not tabs: {preview(line)}",
        )
    if len(columns) != len(names):
        kind = "tab" if sep == "\t" else "space"
        hint = ""
        if sep == "\t" and "\t" not in line and " " in line:
            hint = " (the line has spaces but no tab: columns must be separated by tabs)"
        elif sep == " " and "" in columns:
            hint = " (empty column: two consecutive spaces or a leading/trailing space?)"
        listed = ", ".join(names) if sep == "\t" else " ".join(names)
        raise CorpusFormatError(
            path,
            lineno,
            f"expected {len(names)} {kind}-separated columns ({listed}), "
            f"found {len(columns)}{hint}: {preview(line)}",
        )
    if sep == " " and "" in columns:
        empty = names[columns.index("")]
        raise CorpusFormatError(
            path,
            lineno,
            f"expected {len(names)} non-empty space-separated columns ({' '.join(names)}), "
            f"found an empty {empty} column (two consecutive spaces or a leading/trailing space?): "
            f"{preview(line)}",
        )
    return columns


def iter_tsv_rows(
    path: PathLike,
    columns: List[str],
    check_header: Callable[[int, str, List[str]], None],
) -> Iterator[Tuple[int, List[str]]]:
    """``(line number, columns)`` of each data row of a tab-separated file, lazily.

    Blank lines are skipped; a first row whose first column is ``columns[0]`` is a header, checked
    by ``check_header(lineno, line, cols)`` (which raises :class:`CorpusFormatError`) and skipped.
    """
    first_row = True
    for lineno, line in iter_lines(path):
        if is_blank(line):
            continue
        is_header = first_row and line.split("\t", 1)[0].strip() == columns[0]
        first_row = False
        cols = split_columns(line, sep="\t", names=columns, path=path, lineno=lineno)
        if is_header:
            check_header(lineno, line, cols)
            continue
        yield lineno, cols
