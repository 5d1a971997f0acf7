"""Files: atomic writes and reading a ``.spacy`` file into examples, for every command and script."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, List, Union

PathLike = Union[str, Path]


def write_atomic(path: PathLike, data: Union[str, bytes], *, mode: int = 0o644) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temporary file in the same
    folder, flushed to disk, then ``os.replace``: a reader, or a run interrupted half-way, sees the
    old file or the new one, never half of one, and no temporary file is left behind. Missing
    parent folders are created; the file gets ``mode``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_examples(path: PathLike, nlp: Any) -> List[Any]:
    """The gold examples of the ``.spacy`` file ``path``, their predicted docs tokenized by
    ``nlp``'s tokenizer (as ``spacy evaluate`` reads them), not yet predicted."""
    from spacy.training import Corpus

    return list(Corpus(str(path), gold_preproc=False)(nlp))
