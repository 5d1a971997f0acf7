"""Entity marginals under the constrained BILUO lattice against brute-force enumeration.

Every valid tag sequence of small docs (1-6 tokens, 1-2 labels) is enumerated; the marginal of an
entity is the total probability of the sequences that contain it exactly. Checked for every
possible entity (overlapping alternatives too), several docs in one batch (so the length-sorted
batching is exercised), random log-probabilities with ``-inf``, NaN and ``NEG_FLOOR`` entries.
"""
import math
from typing import Dict, List, Tuple

import numpy
import pytest

from spacy_dice.pipeline.biluo import biluo_constraints, make_tag_names, spans_from_tags
from spacy_dice.pipeline.decoder import NEG_FLOOR
from spacy_dice.pipeline.marginals import entity_marginals


def valid_sequences(n: int, names: List[str]) -> List[Tuple[int, ...]]:
    allowed, start, end = biluo_constraints(names)
    out: List[Tuple[int, ...]] = []

    def extend(seq: Tuple[int, ...]) -> None:
        if len(seq) == n:
            if end[seq[-1]]:
                out.append(seq)
            return
        for tag in range(len(names)):
            if (not seq and start[tag]) or (seq and allowed[seq[-1], tag]):
                extend(seq + (tag,))

    extend(())
    return out


def brute_force(lp: numpy.ndarray, names: List[str]) -> Tuple[Dict[Tuple[int, int, str], float], numpy.ndarray]:
    """Marginal of every entity, and P(token t is O), by enumeration (scores sanitized as the code does)."""
    lp = numpy.minimum(numpy.fmax(numpy.asarray(lp, dtype="float64"), NEG_FLOOR), -NEG_FLOOR)
    seqs = valid_sequences(lp.shape[0], names)
    scores = numpy.array([lp[numpy.arange(len(s)), list(s)].sum() for s in seqs])
    probs = numpy.exp(scores - scores.max())
    probs /= probs.sum()
    marginals: Dict[Tuple[int, int, str], float] = {}
    p_out = numpy.zeros(lp.shape[0])
    for seq, p in zip(seqs, probs):
        for ent in spans_from_tags(numpy.array(seq), names):
            marginals[ent] = marginals.get(ent, 0.0) + p
        p_out += p * (numpy.array(seq) == names.index("O"))
    return marginals, p_out


def all_entities(n: int, labels: List[str]) -> List[Tuple[int, int, str]]:
    return [(s, e, x) for s in range(n) for e in range(s + 1, n + 1) for x in labels]


def random_log_probs(rng: numpy.random.Generator, n: int, n_tags: int, spice: bool) -> numpy.ndarray:
    z = rng.normal(0.0, 2.0, size=(n, n_tags))
    lp = z - numpy.log(numpy.exp(z).sum(axis=1, keepdims=True))
    if spice and n:
        # impossible tags (log 0), floor values and a NaN, but "O" stays possible
        mask = rng.random((n, n_tags)) < 0.25
        mask[:, 0] = False
        lp[mask] = rng.choice([-numpy.inf, NEG_FLOOR, numpy.nan], size=int(mask.sum()))
    return lp.astype(rng.choice(["float32", "float64"]))


@pytest.mark.parametrize("labels", [["PER"], ["LOC", "PER"]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_marginals_equal_brute_force(labels, seed):
    rng = numpy.random.default_rng(seed)
    names = make_tag_names(labels)
    lengths = [1, 6, 3, 2, 5, 4, 1] if len(labels) == 1 else [1, 5, 3, 2, 4]
    if len(labels) == 2 and seed == 0:
        lengths.append(6)
    docs = [random_log_probs(rng, n, len(names), spice=i % 2 == 1) for i, n in enumerate(lengths)]
    entities = [all_entities(n, labels) for n in lengths]
    got = entity_marginals(docs, entities, names)
    for lp, ents, values in zip(docs, entities, got):
        want, p_out = brute_force(lp, names)
        assert values.shape == (len(ents),)
        for ent, value in zip(ents, values):
            assert value == pytest.approx(want.get(ent, 0.0), abs=1e-9), ent
        # every token: entities covering it plus "O" there sum to 1
        by_ent = dict(zip(ents, values))
        for t in range(lp.shape[0]):
            covering = sum(v for (s, e, _), v in by_ent.items() if s <= t < e)
            assert covering + p_out[t] == pytest.approx(1.0, abs=1e-9)


def test_one_token_doc_unit_entities_and_o_sum_to_one():
    names = make_tag_names(["A", "B"])
    lp = numpy.log(numpy.array([[0.5, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.04]]))
    got = entity_marginals([lp], [[(0, 1, "A"), (0, 1, "B")]], names)[0]
    o, u_a, u_b = 0.5, 0.05, 0.04  # B-, I-, L- cannot stand alone: renormalise over O, U-A, U-B
    total = o + u_a + u_b
    numpy.testing.assert_allclose(got, [u_a / total, u_b / total], rtol=1e-12)
    assert got.sum() + o / total == pytest.approx(1.0)


def test_docs_without_entities_cost_nothing_and_order_is_kept():
    names = make_tag_names(["X"])
    rng = numpy.random.default_rng(5)
    docs = [random_log_probs(rng, n, len(names), spice=False) for n in (3, 0, 4, 2)]
    ents = [[(0, 2, "X"), (1, 2, "X")], [], [], [(1, 2, "X")]]
    got = entity_marginals(docs, ents, names)
    assert [len(g) for g in got] == [2, 0, 0, 1]
    alone = entity_marginals([docs[3]], [ents[3]], names)[0]
    numpy.testing.assert_array_equal(got[3], alone)  # a doc's marginals do not depend on the batch
    import spacy_dice.pipeline.marginals as module

    def no_lattice(*args, **kwargs):
        raise AssertionError("the lattice ran for docs without entities")

    original, module._forward_backward = module._forward_backward, no_lattice
    try:
        assert all(g.size == 0 for g in entity_marginals(docs, [[] for _ in docs], names))
    finally:
        module._forward_backward = original


def test_long_docs_stay_finite_and_match_a_split_brute_force():
    """A 300-token doc: the sums stay finite (log space); a token whose row forces "O" splits it
    into independent halves, so the marginal of an entity in the last 4 tokens is their own."""
    names = make_tag_names(["X"])
    rng = numpy.random.default_rng(3)
    lp = random_log_probs(rng, 300, len(names), spice=False).astype("float64")
    lp[295] = NEG_FLOOR
    lp[295, 0] = 0.0  # whitespace-like row: O only
    tail = lp[296:]
    ents = all_entities(4, ["X"])
    got = entity_marginals([lp], [[(296 + s, 296 + e, x) for s, e, x in ents]], names)[0]
    want, _ = brute_force(tail, names)
    for ent, value in zip(ents, got):
        assert math.isfinite(value)
        assert value == pytest.approx(want.get(ent, 0.0), abs=1e-9)


def test_bias_shifts_marginals_consistently():
    """A label bias b on every B/I/L/U column of X multiplies the weight of each sequence by
    exp(b * tokens in X entities): the marginals equal brute force on the biased scores, and
    grow with b for X entities."""
    names = make_tag_names(["X", "Y"])
    rng = numpy.random.default_rng(11)
    lp = random_log_probs(rng, 4, len(names), spice=False).astype("float64")
    cols = [names.index(f"{p}-X") for p in "BILU"]
    ents = all_entities(4, ["X", "Y"])
    previous = None
    for b in (-2.0, 0.0, 1.0, 3.0):
        biased = lp.copy()
        biased[:, cols] += b
        got = entity_marginals([biased], [ents], names)[0]
        want, _ = brute_force(biased, names)
        for ent, value in zip(ents, got):
            assert value == pytest.approx(want.get(ent, 0.0), abs=1e-9)
        x_total = sum(v for (s, e, lab), v in zip(ents, got) if lab == "X")
        if previous is not None:
            assert x_total > previous
        previous = x_total


def test_bad_entities_are_refused():
    names = make_tag_names(["X"])
    lp = numpy.zeros((3, len(names)))
    with pytest.raises(ValueError, match="outside a doc of 3 tokens"):
        entity_marginals([lp], [[(2, 4, "X")]], names)
    with pytest.raises(ValueError, match="not one of"):
        entity_marginals([lp], [[(0, 1, "Z")]], names)
