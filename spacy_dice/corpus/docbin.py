"""Writing docs to a ``.spacy`` file (spaCy ``DocBin``) atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from spacy.tokens import Doc, DocBin

from ..files import write_atomic
from .errors import PathLike


def write_docbin(docs: Iterable[Doc], path: PathLike) -> int:
    """Write ``docs`` to the ``.spacy`` file ``path``; return the number of docs written.

    All docs are read first (a reader raising on malformed input stops here, before
    anything is written); the bytes then go to a temporary file in the output's
    folder, which is renamed onto ``path`` only once complete
    (:func:`spacy_dice.files.write_atomic`). So an error never leaves a partial file or
    a temporary file behind, and an existing ``path`` is either replaced whole or left
    as it was. Missing parent folders are created; the file gets mode 0o644.
    """
    path = Path(path)
    doc_bin = DocBin(store_user_data=False)
    n_docs = 0
    for doc in docs:
        doc_bin.add(doc)
        n_docs += 1
    write_atomic(path, doc_bin.to_bytes(), mode=0o644)
    return n_docs
