"""The one exception the corpus readers raise for malformed input."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


class CorpusFormatError(ValueError):
    """A corpus file does not have the expected format.

    The message starts with ``file:line`` (the file's name and the 1-based line
    number) and says what was found and what was expected, for example::

        eng.train:17: expected 4 space-separated columns (word POS chunk NER), found 2: 'EU rejects'

    Attributes:
        path: the file that was being read.
        line: the 1-based line number, or ``None`` when the problem concerns the
            whole file.
        problem: the message without the ``file:line`` prefix.
    """

    def __init__(self, path: PathLike, line: Optional[int], problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        location = self.path.name if line is None else f"{self.path.name}:{line}"
        super().__init__(f"{location}: {problem}")

    def __reduce__(self):  # keep the exception picklable (multiprocessing, pytest-xdist)
        return (type(self), (self.path, self.line, self.problem))
