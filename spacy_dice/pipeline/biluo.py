"""The BILUO tag scheme used by the per-token NER component ``dice_ner``.

``dice_ner`` classifies every token into one of ``T = 1 + 4 * n_labels`` BILUO tags and a
constrained decoder (:mod:`spacy_dice.pipeline.decoder`) turns the per-token scores into a
valid tag sequence, i.e. into non-overlapping entities. What "valid" means is defined here
(:func:`biluo_constraints`): after ``O``, ``L-*``, ``U-*`` or at the start of a doc comes ``O``,
``B-*`` or ``U-*``; after ``B-X`` or ``I-X`` comes ``I-X`` or ``L-X``; a doc ends on ``O``,
``L-*`` or ``U-*``. This module imports nothing of the decoder; the decoder imports it.

Tag order (class id = index in the list), see :func:`make_tag_names`::

    0: "O"
    then for each label in sorted order: "B-<label>", "I-<label>", "L-<label>", "U-<label>"

so for ``labels = ["PER", "LOC"]`` the tags are
``["O", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "B-PER", "I-PER", "L-PER", "U-PER"]``.

Gold tags follow spaCy's own semantics (``spacy.training.offsets_to_biluo_tags``): a token of a
reference ``Doc`` with ``token.ent_iob == 0`` has *missing* annotation (class id ``-1``, ignored by
the loss), ``token.ent_iob_ == "O"`` is the ``O`` tag, and the tokens of ``doc.ents`` get
``B/I/L/U`` tags.
"""
from functools import lru_cache
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.iob_utils import doc_to_biluo_tags

OUT = "O"
BEGIN, IN, LAST, UNIT = "B", "I", "L", "U"
#: The four per-label prefixes, in the order they appear in :func:`make_tag_names`.
PREFIXES: Tuple[str, ...] = (BEGIN, IN, LAST, UNIT)
#: Class id of a token whose gold tag is unknown (missing or misaligned annotation).
MISSING = -1

TagIndex = Union[Mapping[str, int], Sequence[str]]
Span3 = Tuple[int, int, str]
#: ``(allowed, start_allowed, end_allowed)``, see :func:`biluo_constraints`.
Constraints = Tuple[np.ndarray, np.ndarray, np.ndarray]


def make_tag_names(labels: Iterable[str]) -> List[str]:
    """Return the BILUO tag names for ``labels``; the class id of a tag is its index.

    The order is deterministic and independent of the order of ``labels``: ``"O"`` first, then
    for every distinct label in ``sorted`` order ``B-X, I-X, L-X, U-X``. With no labels the only
    tag is ``"O"``.
    """
    unique = set()
    for label in labels:
        if not isinstance(label, str) or not label:
            raise ValueError(f"entity labels must be non-empty strings, got {label!r}")
        unique.add(label)
    names = [OUT]
    for label in sorted(unique):
        names.extend(f"{prefix}-{label}" for prefix in PREFIXES)
    return names


def split_biluo_tag(name: str) -> Tuple[str, str]:
    """Split a tag name into ``(prefix, label)``: ``"O" -> ("O", "")``, ``"B-X" -> ("B", "X")``.

    Only the first ``-`` separates, so labels may contain dashes (``"U-WORK-OF-ART"``).
    """
    if name == OUT:
        return OUT, ""
    prefix, sep, label = name.partition("-")
    if not sep or prefix not in PREFIXES or not label:
        raise ValueError(
            f"{name!r} is not a BILUO tag; expected 'O' or '<B|I|L|U>-<label>'"
        )
    return prefix, label


def labels_from_tag_names(tag_names: Sequence[str]) -> List[str]:
    """The entity labels named by ``tag_names``, sorted (inverse of :func:`make_tag_names`)."""
    return sorted({split_biluo_tag(name)[1] for name in tag_names} - {""})


def make_tag_index(tag_names: Sequence[str]) -> Dict[str, int]:
    """Map tag name -> class id (its index in ``tag_names``)."""
    index = {name: i for i, name in enumerate(tag_names)}
    if len(index) != len(tag_names):
        raise ValueError(f"duplicate tag names in {list(tag_names)!r}")
    return index


def _as_tag_index(tag_index: TagIndex) -> Mapping[str, int]:
    if isinstance(tag_index, Mapping):
        return tag_index
    return make_tag_index(list(tag_index))


def tag_ids_from_strings(tags: Sequence[Optional[str]], tag_index: TagIndex) -> np.ndarray:
    """Map BILUO strings to class ids (``np.int32``).

    ``None``, ``"-"`` and ``""`` (spaCy's markers for missing or misaligned annotation) become
    ``-1``. A tag whose label is not in ``tag_index`` also becomes ``-1``: such labels occur
    only in other data (e.g. a label present in the dev set but not in the training set the
    component was initialised on); the model has no output for them, and calling those tokens
    ``O`` would teach it that they are not entities, so they are treated as missing instead.
    """
    index = _as_tag_index(tag_index)
    ids = np.fromiter(
        (index.get(tag, MISSING) if tag else MISSING for tag in tags),  # type: ignore[arg-type]
        dtype=np.int32,
        count=len(tags),
    )
    return ids


def biluo_tags_for_doc(doc: Doc, tag_index: TagIndex) -> np.ndarray:
    """Gold class id of every token of a *reference* ``doc`` (``np.int32``, shape ``(len(doc),)``).

    Tokens with ``token.ent_iob == 0`` (annotation missing) get ``-1``; tokens with
    ``ent_iob_ == "O"`` get the id of ``"O"``; entity tokens get their ``B/I/L/U-label`` id
    (``-1`` if the label is not in ``tag_index``, see :func:`tag_ids_from_strings`). This is
    spaCy's ``doc_to_biluo_tags(doc, missing="-")`` with explicit ``O`` tokens restored, which is
    how spaCy's own NER reads partially annotated docs.
    """
    tags: List[str] = doc_to_biluo_tags(doc, missing="-")
    for token in doc:
        if token.ent_iob == 2:  # explicitly outside any entity
            tags[token.i] = OUT
    return tag_ids_from_strings(tags, tag_index)


def biluo_tags_for_example(example: Example, tag_index: TagIndex) -> np.ndarray:
    """Gold class ids aligned to the *predicted* tokenization of ``example``.

    Uses ``example.get_aligned_ner()``: predicted tokens that do not align one-to-one with the
    gold entity boundaries (``None``) and tokens with missing gold annotation (``"-"``) get
    ``-1``, as do tags whose label is unknown to ``tag_index``.
    """
    return tag_ids_from_strings(example.get_aligned_ner(), tag_index)


def count_tags(
    data: Iterable[Union[Example, Doc]], tag_names: Sequence[str]
) -> Dict[str, int]:
    """Count the gold tags over ``data`` (``Example`` objects, aligned to their predicted
    tokens, or reference ``Doc`` objects); missing tokens are not counted.

    Returns ``{tag_name: count}`` for every tag in ``tag_names`` order, zeros included, as
    needed for inverse-frequency class weights.
    """
    index = make_tag_index(tag_names)
    counts = np.zeros(len(tag_names), dtype=np.int64)
    for item in data:
        if isinstance(item, Example):
            ids = biluo_tags_for_example(item, index)
        elif isinstance(item, Doc):
            ids = biluo_tags_for_doc(item, index)
        else:
            raise TypeError(f"count_tags expects Example or Doc objects, got {type(item).__name__}")
        counts += np.bincount(ids[ids >= 0], minlength=len(tag_names))
    return {name: int(count) for name, count in zip(tag_names, counts)}


@lru_cache(maxsize=64)
def _constraints(tag_names: Tuple[str, ...]) -> Constraints:
    parsed = [split_biluo_tag(name) for name in tag_names]
    prefixes = np.array([p for p, _ in parsed], dtype=object)
    labels = np.array([label for _, label in parsed], dtype=object)
    closed = np.isin(prefixes, [OUT, LAST, UNIT])  # may end here / followed like a start
    starts = np.isin(prefixes, [OUT, BEGIN, UNIT])  # may follow a closed tag or the start
    opened = np.isin(prefixes, [BEGIN, IN])
    continues = np.isin(prefixes, [IN, LAST])
    allowed = (closed[:, None] & starts[None, :]) | (
        opened[:, None] & continues[None, :] & (labels[:, None] == labels[None, :])
    )
    for array in (allowed, starts, closed):
        array.setflags(write=False)
    return allowed, starts, closed


def biluo_constraints(tag_names: Sequence[str]) -> Constraints:
    """``(allowed, start_allowed, end_allowed)`` for the BILUO scheme over ``tag_names``.

    ``allowed[i, j]`` (``(T, T)`` bool): tag ``j`` may follow tag ``i``; ``start_allowed[j]``:
    a doc may start with ``j``; ``end_allowed[i]``: a doc may end with ``i``. Works for any tag
    list (any order, a single label, only ``"O"``). The arrays are cached and read-only.
    """
    return _constraints(tuple(tag_names))


def is_valid_sequence(
    tag_ids: Sequence[int],
    allowed: np.ndarray,
    start_allowed: np.ndarray,
    end_allowed: np.ndarray,
) -> bool:
    """Whether ``tag_ids`` satisfies the constraints (the empty sequence is valid)."""
    ids = np.asarray(tag_ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return True
    return bool(
        start_allowed[ids[0]] and end_allowed[ids[-1]] and allowed[ids[:-1], ids[1:]].all()
    )


@lru_cache(maxsize=64)
def _span_tables(tag_names: Tuple[str, ...]):
    parsed = [split_biluo_tag(name) for name in tag_names]
    opens = np.array([p in (BEGIN, UNIT) for p, _ in parsed], dtype=bool)
    closes = np.array([p in (LAST, UNIT) for p, _ in parsed], dtype=bool)
    labels = [label for _, label in parsed]
    return opens, closes, labels


def spans_from_tags(tag_ids: Sequence[int], tag_names: Sequence[str]) -> List[Span3]:
    """Entities ``(start, end_exclusive, label)`` of a VALID BILUO sequence of class ids.

    A valid sequence is what the decoder emits; an invalid one raises ``ValueError`` (this
    function does not repair sequences). Vectorised: cost is O(n) numpy, not a Python loop
    over tokens.
    """
    names = tuple(tag_names)
    ids = np.asarray(tag_ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= len(names)):
        raise ValueError(f"tag ids must lie in [0, {len(names)}), got {ids.min()}..{ids.max()}")
    if not is_valid_sequence(ids, *biluo_constraints(names)):
        raise ValueError(
            "not a valid BILUO sequence: " + " ".join(names[i] for i in ids[:50].tolist())
            + (" ..." if ids.size > 50 else "")
        )
    opens, closes, labels = _span_tables(names)
    starts = np.flatnonzero(opens[ids])
    ends = np.flatnonzero(closes[ids]) + 1
    start_tags = ids[starts].tolist()
    return [
        (s, e, labels[t]) for s, e, t in zip(starts.tolist(), ends.tolist(), start_tags)
    ]
