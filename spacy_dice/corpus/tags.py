"""IOB1 / IOB2 named-entity tags to entity spans, one token at a time.

IOB1 (CoNLL-2003): ``I-X`` continues an entity of type ``X`` or starts one (after
``O`` or another type); ``B-X`` only starts a new entity right after another ``X``
entity (a ``B-X`` elsewhere is accepted and starts an entity too).

IOB2 (Universal NER): every entity starts with ``B-X``; ``I-X`` must follow
``B-X`` or ``I-X`` of the same type, anything else is an error.
"""
from __future__ import annotations

import re
from typing import List, Literal, Optional, Tuple

Scheme = Literal["iob1", "iob2"]
EntitySpan = Tuple[int, int, str]
"""``(start_token, end_token_exclusive, label)``."""

_TYPE_RE = re.compile(r"^[^\s]+$")


def parse_tag(tag: str, scheme: Scheme) -> Tuple[str, Optional[str]]:
    """Split a tag into ``(prefix, type)``: ``("O", None)``, ``("B", "PER")``, ``("I", "PER")``.

    Raises:
        ValueError: the tag is not ``O``, ``B-TYPE`` or ``I-TYPE``; the message says why.
    """
    if tag == "O":
        return "O", None
    expected = f"expected O, B-TYPE or I-TYPE ({scheme.upper()})"
    prefix, dash, label = tag.partition("-")
    if not dash:
        raise ValueError(f"invalid NER tag {tag!r}: {expected}")
    if prefix not in ("B", "I"):
        raise ValueError(f"invalid NER tag {tag!r}: prefix {prefix!r} is not B or I; {expected}")
    if not label:
        raise ValueError(f"invalid NER tag {tag!r}: the entity type is missing; {expected}")
    if not _TYPE_RE.match(label):
        raise ValueError(f"invalid NER tag {tag!r}: the entity type contains whitespace; {expected}")
    return prefix, label


class SpanBuilder:
    """Collects the entity spans of one sentence from its tags, in order.

    >>> builder = SpanBuilder("iob1")
    >>> for tag in ["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]:
    ...     builder.add(tag)
    >>> builder.finish()
    [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC')]
    """

    def __init__(self, scheme: Scheme) -> None:
        if scheme not in ("iob1", "iob2"):
            raise ValueError(f"unknown tag scheme {scheme!r}: expected 'iob1' or 'iob2'")
        self.scheme: Scheme = scheme
        self.spans: List[EntitySpan] = []
        self._n_tokens = 0
        self._start: Optional[int] = None
        self._label: Optional[str] = None
        self._previous = "O"

    def _close(self) -> None:
        if self._start is not None and self._label is not None:
            self.spans.append((self._start, self._n_tokens, self._label))
        self._start = None
        self._label = None

    def add(self, tag: str) -> None:
        """Add the next token's tag.

        Raises:
            ValueError: invalid tag, or (IOB2) an ``I-`` tag that does not continue an
                entity of its type.
        """
        prefix, label = parse_tag(tag, self.scheme)
        if prefix == "O":
            self._close()
        elif prefix == "B":
            self._close()
            self._start, self._label = self._n_tokens, label
        elif self._start is not None and self._label == label:
            pass  # I- continues the open entity
        elif self.scheme == "iob1":
            self._close()
            self._start, self._label = self._n_tokens, label
        else:
            after = "the start of the sentence" if self._n_tokens == 0 else repr(self._previous)
            raise ValueError(
                f"NER tag {tag!r} after {after}: in IOB2 an entity must start with B-{label}; "
                f"I-{label} may only follow B-{label} or I-{label}"
            )
        self._previous = tag
        self._n_tokens += 1

    def finish(self) -> List[EntitySpan]:
        """Close the last entity and return all spans of the sentence."""
        self._close()
        return self.spans
