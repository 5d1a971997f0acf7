"""BILUO tags (spacy_dice.pipeline.biluo) and the constrained Viterbi decoder
(spacy_dice.pipeline.decoder).

Validity is checked with an independent state machine written here over tag *strings*, not
with the decoder's own constraint matrices.
"""
import itertools
import math
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

from spacy_dice.pipeline.biluo import (
    biluo_constraints,
    biluo_tags_for_doc,
    biluo_tags_for_example,
    count_tags,
    is_valid_sequence,
    labels_from_tag_names,
    make_tag_index,
    make_tag_names,
    split_biluo_tag,
    spans_from_tags,
    tag_ids_from_strings,
)
from spacy_dice.pipeline.decoder import BiluoDecoder, log_probs_from_probs

from decoder_oracles import path_score, viterbi_decode

LABEL_POOL = ["PER", "LOC", "ORG", "WORK-OF-ART"]
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def names_for(n_labels):
    return make_tag_names(LABEL_POOL[:n_labels])


def valid_biluo(tags):
    """Independent reference: is this sequence of tag strings a valid BILUO sequence?"""
    open_label = None  # label of an entity begun (B) and not yet finished (L)
    for tag in tags:
        if tag == "O":
            prefix, label = "O", None
        else:
            prefix, _, label = tag.partition("-")
        if open_label is None:
            if prefix not in ("O", "B", "U"):
                return False
            if prefix == "B":
                open_label = label
        else:
            if prefix not in ("I", "L") or label != open_label:
                return False
            if prefix == "L":
                open_label = None
    return open_label is None


@lru_cache(maxsize=None)
def all_valid_sequences(n_labels, n):
    """Every valid sequence of n tag ids (brute force over all T**n sequences)."""
    names = names_for(n_labels)
    seqs = [
        seq for seq in itertools.product(range(len(names)), repeat=n)
        if valid_biluo([names[i] for i in seq])
    ]
    return np.array(seqs, dtype=np.int64).reshape(len(seqs), n)


def brute_force_best(scores, n_labels):
    seqs = all_valid_sequences(n_labels, scores.shape[0])
    with np.errstate(invalid="ignore"):
        totals = scores[np.arange(scores.shape[0]), seqs].sum(axis=1)
    return totals.max()


def assert_valid(tag_ids, names):
    assert valid_biluo([names[i] for i in np.asarray(tag_ids).tolist()]), [
        names[i] for i in tag_ids
    ]


def assert_same_score(got, want):
    if want == -math.inf:
        assert got == -math.inf
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


SCORE = st.one_of(
    st.floats(-30.0, 5.0, allow_nan=False), st.just(-math.inf), st.just(0.0)
)
PROB = st.one_of(st.floats(0.0, 1.0), st.just(0.0), st.just(1.0))


@st.composite
def score_matrices(draw, max_labels=4, max_n=12, elements=SCORE):
    n_labels = draw(st.integers(0, max_labels))
    n = draw(st.integers(0, max_n))
    scores = draw(arrays(np.float64, (n, 1 + 4 * n_labels), elements=elements))
    return n_labels, scores


# --------------------------------------------------------------------------------------------
# Tag names and constraints
# --------------------------------------------------------------------------------------------


def test_make_tag_names_order():
    assert make_tag_names(["PER", "LOC", "PER"]) == [
        "O", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "B-PER", "I-PER", "L-PER", "U-PER",
    ]
    assert make_tag_names([]) == ["O"]
    assert labels_from_tag_names(make_tag_names(["B", "A-X"])) == ["A-X", "B"]
    assert split_biluo_tag("U-WORK-OF-ART") == ("U", "WORK-OF-ART")
    with pytest.raises(ValueError):
        make_tag_names(["PER", ""])
    with pytest.raises(ValueError):
        split_biluo_tag("X-PER")


@pytest.mark.parametrize("n_labels", [0, 1, 2])
def test_constraints_agree_with_independent_validity(n_labels):
    names = names_for(n_labels)
    constraints = biluo_constraints(names)
    for n in range(4):
        for seq in itertools.product(range(len(names)), repeat=n):
            assert is_valid_sequence(seq, *constraints) == valid_biluo([names[i] for i in seq])


def test_constraints_any_tag_order():
    names = names_for(2)
    shuffled = [names[i] for i in np.random.default_rng(0).permutation(len(names))]
    allowed, start, end = biluo_constraints(shuffled)
    for i, a in enumerate(shuffled):
        assert start[i] == any(valid_biluo([a] + post) for post in ([], ["L-PER"], ["L-LOC"]))
        assert end[i] == any(valid_biluo(pre + [a]) for pre in ([], ["B-PER"], ["B-LOC"]))
        for j, b in enumerate(shuffled):
            # a then b is allowed iff it occurs in some valid sequence x a b y
            assert allowed[i, j] == any(
                valid_biluo(list(pre) + [a, b] + list(post))
                for pre in ([], ["B-PER"], ["B-LOC"])
                for post in ([], ["L-PER"], ["L-LOC"])
            )


# --------------------------------------------------------------------------------------------
# Decoder: validity and optimality
# --------------------------------------------------------------------------------------------

DECODERS = {
    "biluo": lambda names: BiluoDecoder(names).decode,
    # every doc longer than 1 token is cut into chunks of 2: exercises the chunk combination
    "biluo_chunked": lambda names: BiluoDecoder(names, chunk_size=2, long_doc=1).decode,
    "generic": lambda names: lambda s: viterbi_decode(s, *biluo_constraints(names)),
}


@settings(max_examples=120, **SETTINGS)
@given(score_matrices())
def test_decoded_sequences_are_valid(case):
    n_labels, scores = case
    names = names_for(n_labels)
    for name, make in DECODERS.items():
        tags = make(names)(scores)
        assert tags.shape == (scores.shape[0],), name
        assert_valid(tags, names)


@settings(max_examples=100, **SETTINGS)
@given(score_matrices(elements=PROB))
def test_decode_probs_on_probabilities_with_zeros_is_valid(case):
    n_labels, probs = case
    names = names_for(n_labels)
    probs = probs.astype(np.float32)  # as a model outputs them
    log_probs = log_probs_from_probs(probs)
    assert not np.isnan(log_probs).any() and np.isfinite(log_probs).all()
    (tags,) = BiluoDecoder(names).decode_probs([probs])
    assert_valid(tags, names)
    want = brute_force_best(log_probs, n_labels) if probs.shape[0] <= 4 and n_labels <= 2 else None
    if want is not None:
        assert_same_score(path_score(log_probs, tags), want)


@settings(max_examples=150, **SETTINGS)
@given(score_matrices(max_labels=2, max_n=5))
def test_agrees_with_brute_force(case):
    n_labels, scores = case
    if n_labels == 0:
        n_labels = 1
        scores = np.zeros((scores.shape[0], 5))
    names = names_for(n_labels)
    want = brute_force_best(scores, n_labels)
    for name, make in DECODERS.items():
        tags = make(names)(scores)
        assert_valid(tags, names)
        assert_same_score(path_score(scores, tags), want)


@st.composite
def batches(draw):
    n_labels = draw(st.integers(1, 2))
    sizes = draw(st.lists(st.integers(0, 5), min_size=1, max_size=6))
    docs = [draw(arrays(np.float64, (n, 1 + 4 * n_labels), elements=SCORE)) for n in sizes]
    return n_labels, docs


@settings(max_examples=60, **SETTINGS)
@given(batches(), st.integers(1, 3))
def test_batches_agree_with_brute_force(case, chunk_size):
    """Docs decoded together (fast path, DP, chunks, empty docs mixed) are each optimal."""
    n_labels, docs = case
    names = names_for(n_labels)
    # a doc whose argmax is already valid takes the fast path
    easy = np.full((3, len(names)), -5.0)
    easy[[0, 1, 2], [0, 1, 3]] = 0.0  # O B-X L-X
    docs = docs + [easy]
    decoder = BiluoDecoder(names, chunk_size=chunk_size, long_doc=2)
    for scores, tags in zip(docs, decoder.decode_many(docs)):
        assert_valid(tags, names)
        assert_same_score(path_score(scores, tags), brute_force_best(scores, n_labels))


def test_fast_path_returns_valid_argmax():
    names = names_for(1)  # O B I L U
    scores = log_probs_from_probs([[0.1, 0.7, 0.1, 0.05, 0.05], [0.1, 0.1, 0.6, 0.2, 0.0],
                                   [0.0, 0.1, 0.2, 0.7, 0.0], [0.9, 0.0, 0.0, 0.0, 0.1]])
    assert BiluoDecoder(names).decode(scores).tolist() == [1, 2, 3, 0]


def test_decoder_fixes_invalid_argmax():
    names = names_for(1)
    # argmax is I-PER at the start (invalid); best valid: U-PER
    probs = np.array([[0.05, 0.1, 0.5, 0.05, 0.3]])
    (tags,) = BiluoDecoder(names).decode_probs([probs])
    assert [names[i] for i in tags] == ["U-PER"]


def test_empty_single_and_only_o():
    names = names_for(1)
    decoder = BiluoDecoder(names)
    assert decoder.decode(np.zeros((0, 5))).shape == (0,)
    assert decoder.decode_many([]) == []
    assert viterbi_decode(np.zeros((0, 5)), *biluo_constraints(names)).shape == (0,)
    one = np.log(np.array([[0.05, 0.6, 0.1, 0.1, 0.15]]))  # B alone is invalid
    assert [names[i] for i in decoder.decode(one)] == ["U-PER"]
    assert [names[i] for i in viterbi_decode(one, *biluo_constraints(names))] == ["U-PER"]
    only_o = ["O"]
    probs = np.random.default_rng(0).random((7, 1))
    for tags in BiluoDecoder(only_o).decode_probs([probs, probs[:0], probs[:1]]):
        assert (tags == 0).all()
    assert (viterbi_decode(np.log(probs), *biluo_constraints(only_o)) == 0).all()


@pytest.mark.parametrize("n_labels", [1, 2])
def test_long_sequences(n_labels):
    names = names_for(n_labels)
    rng = np.random.default_rng(n_labels)
    scores = rng.normal(size=(10_000, len(names)))
    tags = BiluoDecoder(names).decode(scores)  # 10k > long_doc: chunked
    assert_valid(tags, names)
    reference = viterbi_decode(scores, *biluo_constraints(names))
    assert_valid(reference, names)
    assert path_score(scores, tags) == pytest.approx(path_score(scores, reference), rel=1e-12)
    # the same doc next to short ones gives the same answer
    batch = BiluoDecoder(names).decode_many([scores[:7], scores, scores[:0]])
    assert (batch[1] == tags).all()


def test_any_tag_order():
    rng = np.random.default_rng(3)
    names = names_for(2)
    perm = rng.permutation(len(names))
    shuffled = [names[i] for i in perm]
    scores = rng.normal(size=(40, len(names)))
    tags = BiluoDecoder(shuffled, chunk_size=4, long_doc=8).decode(scores[:, perm])
    assert_valid([perm[i] for i in tags], names)
    best = viterbi_decode(scores, *biluo_constraints(names))
    assert path_score(scores[:, perm], tags) == pytest.approx(path_score(scores, best))


def test_decode_probs_float32_lists_and_nan():
    names = names_for(2)
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(len(names)), size=30).astype(np.float32)
    probs[3] = 0.0
    probs[4, 2] = np.nan
    out = BiluoDecoder(names).decode_probs([probs[:10], probs[10:], probs[:0]])
    assert [t.shape for t in out] == [(10,), (20,), (0,)]
    for tags in out:
        assert tags.dtype == np.int32
        assert_valid(tags, names)
    (from_list,) = BiluoDecoder(names).decode_probs([probs[10:].tolist()])
    assert (from_list == out[1]).all()
    with pytest.raises(ValueError):
        BiluoDecoder(names).decode_probs([probs[:, :3]])


def test_decoder_rejects_incomplete_tag_sets():
    with pytest.raises(ValueError):
        BiluoDecoder(["O", "B-PER", "I-PER", "L-PER"])
    with pytest.raises(ValueError):
        BiluoDecoder(["B-PER", "I-PER", "L-PER", "U-PER"])


# --------------------------------------------------------------------------------------------
# Gold tags and spans
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab():
    return Vocab()


def test_biluo_tags_for_doc_missing_and_round_trip(vocab):
    names = make_tag_names(["LOC", "PER"])
    index = make_tag_index(names)
    doc = Doc(
        vocab,
        words=["Ann", "Lee", "Smith", "met", "Bob", "in", "Paris", "today"],
        ents=["B-PER", "I-PER", "I-PER", "O", "", "O", "B-LOC", ""],
    )
    ids = biluo_tags_for_doc(doc, index)
    assert ids.dtype == np.int32
    assert [names[i] if i >= 0 else "-" for i in ids] == [
        "B-PER", "I-PER", "L-PER", "O", "-", "O", "U-LOC", "-",
    ]
    # unknown label -> missing
    assert biluo_tags_for_doc(doc, make_tag_names(["PER"])).tolist()[6] == -1
    # round trip on a fully annotated doc
    full = Doc(vocab, words=["Ann", "Lee", "met", "Bob", "in", "Paris"],
               ents=["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC"])
    ids = biluo_tags_for_doc(full, names)
    assert (ids >= 0).all()
    assert spans_from_tags(ids, names) == [(e.start, e.end, e.label_) for e in full.ents]
    # no NER annotation at all: everything missing
    assert (biluo_tags_for_doc(Doc(vocab, words=["a", "b"]), names) == -1).all()


def test_aligned_tags_for_misaligned_tokenization(vocab):
    names = make_tag_names(["GPE", "PER"])
    reference = Doc(
        vocab,
        words=["I", "live", "in", "New", "York", "now", "Smith"],
        spaces=[True, True, True, False, True, True, False],
        ents=["O", "O", "O", "O", "B-GPE", "O", "B-PER"],
    )
    predicted = Doc(
        vocab,
        words=["I", "live", "in", "NewYork", "now", "Smi", "th"],
        spaces=[True, True, True, True, True, False, False],
    )
    ids = biluo_tags_for_example(Example(predicted, reference), names)
    assert ids.shape == (len(predicted),)
    # "NewYork" merges an O token and a U-GPE token: misaligned -> -1;
    # "Smith" split into two predicted tokens still aligns: B-PER L-PER.
    assert [names[i] if i >= 0 else "-" for i in ids] == [
        "O", "O", "O", "-", "O", "B-PER", "L-PER",
    ]
    # gold entity "York City" cut by the predicted token "New York": both tokens -1
    reference = Doc(vocab, words=["in", "New", "York", "City"], ents=["O", "O", "B-GPE", "I-GPE"])
    predicted = Doc(vocab, words=["in", "New York", "City"])
    ids = biluo_tags_for_example(Example(predicted, reference), names)
    assert ids.tolist() == [0, -1, -1]
    counts = count_tags([Example(predicted, reference), reference], names)
    # the Example contributes "in" (O); the reference doc "in", "New" (O), "York" "City" (B L)
    assert counts["O"] == 3 and counts["B-GPE"] == counts["L-GPE"] == 1
    assert sum(counts.values()) == 5 and list(counts) == names


def test_tag_ids_from_strings():
    names = make_tag_names(["PER"])
    assert tag_ids_from_strings(["O", None, "-", "", "U-PER", "U-LOC"], names).tolist() == [
        0, -1, -1, -1, 4, -1,
    ]


def test_spans_from_tags():
    names = make_tag_names(["LOC", "PER"])
    index = make_tag_index(names)
    seq = ["U-PER", "O", "B-LOC", "I-LOC", "L-LOC", "B-PER", "L-PER", "U-LOC"]
    assert spans_from_tags([index[t] for t in seq], names) == [
        (0, 1, "PER"), (2, 5, "LOC"), (5, 7, "PER"), (7, 8, "LOC"),
    ]
    assert spans_from_tags([], names) == []
    assert spans_from_tags(np.zeros(4, dtype=np.int32), names) == []
    with pytest.raises(ValueError):
        spans_from_tags([index["B-PER"], index["L-LOC"]], names)
    with pytest.raises(ValueError):
        spans_from_tags([index["B-PER"]], names)
    with pytest.raises(ValueError):
        spans_from_tags([len(names)], names)


def test_length_order_packs_rows_by_step_and_unsort_restores_item_order():
    """The sort the decoder and the entity marginals share: longest first (stable), the rows of
    step t packed together for the items longer than t; ``unsort`` undoes the sort."""
    from spacy_dice.pipeline.decoder import LengthOrder, unsort

    lengths = np.array([2, 3, 1, 3])
    by_length = LengthOrder(lengths)
    assert by_length.order.tolist() == [1, 3, 0, 2]
    assert by_length.lengths.tolist() == [3, 3, 2, 1]
    assert by_length.active.tolist() == [4, 3, 2] and by_length.offsets.tolist() == [0, 4, 7]
    assert by_length.step.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert by_length.sorted.tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1]
    sorted_values = np.array([[10.0], [30.0], [0.0], [20.0]])  # by sorted position
    restored = unsort(sorted_values, by_length.order)
    assert restored[:, 0].tolist() == [0.0, 10.0, 20.0, 30.0]
    assert restored is not sorted_values
