"""Writing docs to a ``.spacy`` file (spaCy ``DocBin``) atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from spacy.tokens import Doc, DocBin

from .errors import PathLike


def write_docbin(docs: Iterable[Doc], path: PathLike) -> int:
    """Write ``docs`` to the ``.spacy`` file ``path``; return the number of docs written.

    All docs are read first (a reader raising on malformed input stops here, before
    anything is written); the bytes then go to a temporary file in the output's
    folder, which is renamed onto ``path`` only once complete. So an error never
    leaves a partial file or a temporary file behind, and an existing ``path`` is
    either replaced whole or left as it was. Missing parent folders are created.
    """
    path = Path(path)
    doc_bin = DocBin(store_user_data=False)
    n_docs = 0
    for doc in docs:
        doc_bin.add(doc)
        n_docs += 1
    data = doc_bin.to_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return n_docs
