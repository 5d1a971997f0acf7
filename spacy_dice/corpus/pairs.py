"""How a sentence pair becomes one text for text classification (e.g. MRPC).

The readers, the text-classification component and the documentation all join the
two sentences with :data:`PAIR_SEPARATOR`, through :func:`make_pair_text`.
"""
from __future__ import annotations

PAIR_SEPARATOR = " ||| "
"""Put between the two sentences of a pair; spaCy's English tokenizer keeps ``|||`` as one token."""


def make_pair_text(first: str, second: str) -> str:
    """``first + PAIR_SEPARATOR + second``, with whitespace around each sentence removed.

    >>> make_pair_text("It rained.", " It was wet. ")
    'It rained. ||| It was wet.'
    """
    return first.strip() + PAIR_SEPARATOR + second.strip()
