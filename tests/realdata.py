"""Where the real-data tests find the corpora, and what their skip message tells a user.

The corpora are not in the repository (CoNLL-2003 may not be redistributed). The tests look in
``$SPACY_DICE_DATA`` or, by default, ``../shared/data`` next to the checkout (this workplace's
layout). Any folder with the layout of docs/PROJECT.md ("Data sets") works, for instance the
one ``python -m spacy project assets . --extra`` fills (``assets/downloads``).
"""
from __future__ import annotations

import os
from pathlib import Path

DATA = Path(os.environ.get("SPACY_DICE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

HOW_TO_GET = (
    "set SPACY_DICE_DATA to a folder of the corpora in the layout of docs/PROJECT.md ('Data sets'),"
    " e.g. after `python -m spacy project assets . --extra`: SPACY_DICE_DATA=assets/downloads"
)


def skip_reason(path: Path) -> str:
    """The skip message for a missing corpus file or folder."""
    return f"real data not available: {path} is absent; {HOW_TO_GET}"
