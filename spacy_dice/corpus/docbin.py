"""Writing docs to a ``.spacy`` file (spaCy ``DocBin``) atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional

from spacy.tokens import Doc, DocBin
from srsly.msgpack import Packer

from ..files import write_atomic
from .errors import PathLike


def write_docbin(docs: Iterable[Doc], path: PathLike, *, keep_user_data: bool = True) -> int:
    """Write ``docs`` to the ``.spacy`` file ``path``; return the number of docs written.

    The docs' ``user_data`` is stored (as ``DocBin(store_user_data=True)`` does), so the source
    document id (:data:`~spacy_dice.corpus._docs.SOURCE_DOC`) comes back from
    ``DocBin().from_disk(path).get_docs(vocab)``. A doc with empty user data stores ``None``
    instead, and a file where no doc has any is written as with ``store_user_data=False``:
    ``get_docs`` decodes each stored entry with a new msgpack unpacker (about 1 ms a doc: srsly
    looks up its entry points each time), a cost on every pass over the file: a training file,
    read once per epoch and never calibrated on, is written with ``keep_user_data=False``.

    All docs are read first (a reader raising on malformed input stops here, before
    anything is written); the bytes then go to a temporary file in the output's
    folder, which is renamed onto ``path`` only once complete
    (:func:`spacy_dice.files.write_atomic`). So an error never leaves a partial file or
    a temporary file behind, and an existing ``path`` is either replaced whole or left
    as it was. Missing parent folders are created; the file gets mode 0o644.

    Raises:
        TypeError: a doc's ``user_data`` holds something msgpack cannot store.
    """
    path = Path(path)
    doc_bin = DocBin(store_user_data=False)  # user data packed below, one packer for all docs
    packer = Packer(use_bin_type=True)  # what srsly.msgpack_dumps (DocBin.add) builds per doc
    user_data: List[Optional[bytes]] = []
    n_docs = 0
    for doc in docs:
        doc_bin.add(doc)
        user_data.append(packer.pack(doc.user_data) if keep_user_data and doc.user_data else None)
        n_docs += 1
    if any(data is not None for data in user_data):
        doc_bin.store_user_data = True
        doc_bin.user_data = user_data
    write_atomic(path, doc_bin.to_bytes(), mode=0o644)
    return n_docs
