"""A character n-gram embedding for character tokens (Chinese): ``spacy-dice.CharNgramEmbed.v1``.

On a doc whose tokens are single characters (``spacy.blank("zh")``'s default ``char`` segmenter,
the docs of ``convert conllu/uner --chars``), spaCy's ``MultiHashEmbed`` features collapse:
``PREFIX`` and ``SUFFIX`` of one character are the character itself and ``SHAPE`` is ``x`` for
every Han character, so the CNN sees one feature per character and gets all its context from the
encoder's window. Chinese word segmenters use the character n-grams around each character instead
(the bigrams ``C-1 C0`` and ``C0 C1``, the trigram ``C-1 C0 C1``, ...). This layer embeds, for
every token ``i``, the token itself and every n-gram of up to ``len(rows)`` tokens that contains
it: with ``rows = [r1, r2, r3]`` the unigram ``C0``, the bigrams ``C-1 C0`` and ``C0 C1`` and the
trigrams ``C-2 C-1 C0``, ``C-1 C0 C1`` and ``C0 C1 C2`` (six columns; a position before the doc's
start or after its end is a boundary marker). Each column is hashed into its own ``HashEmbed``
table (``rows[n - 1]`` rows for an n-gram), the columns are concatenated and mixed by a
``Maxout`` layer with layer normalization to ``width``: ``MultiHashEmbed``'s structure over
n-gram columns instead of lexical attributes.

An n-gram's id is a 64-bit FNV-style mix of its tokens' ``attr`` ids (``NORM`` by default: the
lower-cased form, so a Latin ``A`` and ``a`` are one character), computed with numpy on the host
like spaCy's ``FeatureExtractor`` and moved to the model's device (``model.ops``) once per doc;
the ``HashEmbed`` layers then hash them again with their own seeds. The layer has no parameters of
its own and serializes with ``to_bytes`` / ``to_disk`` as any thinc model.
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple, Union

import numpy
from spacy.attrs import IDS as ATTR_IDS
from spacy.tokens import Doc, Span
from spacy.util import registry
from thinc.api import HashEmbed, Maxout, Model, chain, concatenate, list2ragged, ragged2list, with_array
from thinc.types import Floats2d, Ints2d

CHAR_NGRAM_FEATURES = "char_ngram_features"
"""The name of the feature layer (:func:`char_ngram_features`)."""
BOUNDARY = numpy.uint64(0x9E3779B97F4A7C15)
"""The id of a position before the start or after the end of a doc."""
_FNV_BASIS = numpy.uint64(0xCBF29CE484222325)
_FNV_PRIME = numpy.uint64(0x100000001B3)
SEED = 7
"""The first ``HashEmbed`` seed (``MultiHashEmbed``'s); column ``c`` gets ``SEED + 1 + c``."""

DocLike = Union[Doc, Span]


def ngram_columns(max_n: int) -> List[Tuple[int, int]]:
    """The feature columns for n-grams of up to ``max_n`` tokens: ``(n, offset)`` pairs, the
    n-gram of token ``i`` starting at ``i + offset`` (``offset`` from ``-(n - 1)`` to 0), in the
    order ``(1, 0), (2, -1), (2, 0), (3, -2), (3, -1), (3, 0), ...``."""
    return [(n, offset) for n in range(1, max_n + 1) for offset in range(-(n - 1), 1)]


def ngram_ids(ids: numpy.ndarray, max_n: int) -> numpy.ndarray:
    """The ``(len(ids), n_columns)`` uint64 ids of the n-grams of :func:`ngram_columns` around
    every position of ``ids`` (one doc's token ids; ``BOUNDARY`` beyond its ends). Column 0 is
    ``ids`` itself; an n-gram's id depends on its tokens, their order and ``n``, not on where it
    stands."""
    ids = numpy.asarray(ids, dtype="uint64").reshape(-1)
    n_tokens, pad = ids.shape[0], max_n - 1
    padded = numpy.concatenate([numpy.full(pad, BOUNDARY, dtype="uint64"), ids,
                                numpy.full(pad, BOUNDARY, dtype="uint64")])
    columns = []
    for n, offset in ngram_columns(max_n):
        if n == 1:
            columns.append(ids.copy())
            continue
        key = numpy.full(n_tokens, _FNV_BASIS ^ numpy.uint64(n), dtype="uint64")
        for j in range(n):
            start = pad + offset + j
            key ^= padded[start:start + n_tokens]
            key *= _FNV_PRIME  # wraps modulo 2**64 (numpy array arithmetic)
        columns.append(key)
    return numpy.stack(columns, axis=1) if columns else numpy.zeros((n_tokens, 0), dtype="uint64")


def char_ngram_features(attr: str, max_n: int) -> Model[List[DocLike], List[Ints2d]]:
    """A layer from docs (or spans) to one ``(len(doc), n_columns)`` uint64 array of n-gram ids
    per doc (:func:`ngram_ids` of the tokens' ``attr`` ids), on the model's device."""
    if attr.upper() not in ATTR_IDS:
        raise ValueError(f"CharNgramEmbed: attr={attr!r} is not a token attribute; use e.g. NORM or ORTH")
    if not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"CharNgramEmbed: rows must give at least one table (unigrams); got {max_n} n-gram sizes")
    return Model(CHAR_NGRAM_FEATURES, _features_forward, attrs={"attr": attr.upper(), "max_n": max_n})


def _features_forward(model: Model, docs: Sequence[DocLike], is_train: bool) -> Tuple[List[Ints2d], Callable]:
    attr, max_n = model.attrs["attr"], model.attrs["max_n"]
    features: List[Ints2d] = []
    for doc in docs:
        if isinstance(doc, Doc):
            ids = doc.to_array(attr)
        else:  # a span: its own tokens, the doc's beyond its ends count as boundaries
            ids = doc.doc.to_array(attr)[doc.start:doc.end]
        features.append(model.ops.asarray2i(ngram_ids(ids, max_n), dtype="uint64"))

    def backprop(d_features: List[Ints2d]) -> List:
        return []

    return features, backprop


@registry.architectures("spacy-dice.CharNgramEmbed.v1")
def char_ngram_embed(width: int, rows: List[int], attr: str = "NORM") -> Model[List[Doc], List[Floats2d]]:
    """Embed each token with the n-grams of tokens around it (see the module docstring).

    Args:
        width: the output width, also the width of every embedding table.
        rows: the rows of the tables for unigrams, bigrams, trigrams, ... (``len(rows)`` is the
            largest n; each n-gram size has ``n`` columns, one per n-gram containing the token,
            each with its own table of ``rows[n - 1]`` rows).
        attr: the token attribute whose ids make the n-grams (``NORM``, ``ORTH``, ...).

    Returns:
        A ``Model[List[Doc], List[Floats2d]]`` giving a ``(len(doc), width)`` array per doc, the
        ``embed`` of a ``spacy.Tok2Vec.v2``.

    Raises:
        ValueError: no rows, a table of fewer than one row, or an unknown ``attr``.
    """
    rows = list(rows)
    if not rows or any(not isinstance(r, int) or r < 1 for r in rows):
        raise ValueError(
            f"CharNgramEmbed: rows={rows!r}; give one positive number of rows per n-gram size, e.g."
            " [5000, 10000, 10000] for unigrams, bigrams and trigrams"
        )
    columns = ngram_columns(len(rows))
    embeddings = [
        HashEmbed(width, rows[n - 1], column=c, seed=SEED + 1 + c, dropout=0.0)
        for c, (n, _offset) in enumerate(columns)
    ]
    model: Model[List[Doc], List[Floats2d]] = chain(
        char_ngram_features(attr, len(rows)),
        list2ragged(),
        with_array(concatenate(*embeddings)),
        with_array(Maxout(width, width * len(columns), nP=3, dropout=0.0, normalize=True)),
        ragged2list(),
    )
    model.attrs["char_ngram_columns"] = [list(column) for column in columns]
    return model
