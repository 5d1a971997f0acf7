"""Agreement of every loss with the independent PyTorch autograd reference (tests/torch_reference.py).

float64, random logits, random gold with missing labels, single arrays (incl. one row) and lists of
docs of different lengths (incl. empty docs); loss and gradient to 1e-7. Also: get_grad / get_loss
agree with ``__call__``; class-weight specs resolve as specified; CombinedLoss mixes in foreign
thinc losses; float32 / float16 inputs.
"""
import zlib

import numpy
import pytest
from thinc.api import SequenceCategoricalCrossentropy

from spacy_dice.losses import CombinedLoss, CrossEntropy, DiceLoss, FocalLoss, TverskyLoss
from torch_reference import (
    LABEL_COUNTS,
    LABELS,
    activate_np,
    build_ours,
    loss_cases,
    probs_torch,
    random_gold,
    reference,
    reference_spec,
    resolve_weights,
)

CASES = loss_cases()
C = len(LABELS)
TOL = 1e-7

# (id, lengths or None for one array of the given rows)
SHAPES = [
    ("array-7", 7),
    ("array-1row", 1),
    ("list-3-1-5-2", [3, 1, 5, 2]),
    ("list-0-4-1-0", [0, 4, 1, 0]),
    ("list-1doc", [6]),
]


def make_inputs(rng, shape, activation, scale=2.0, p_missing=0.25):
    if isinstance(shape, int):
        Z = rng.normal(scale=scale, size=(shape, C))
        return Z, random_gold(rng, shape, C, activation, p_missing)
    Zs = [rng.normal(scale=scale, size=(k, C)) for k in shape]
    golds = [random_gold(rng, k, C, activation, p_missing) for k in shape]
    return Zs, golds


def spec_has_zero_smooth_set(spec):
    kind, params = spec
    if kind == "combined":
        return any(spec_has_zero_smooth_set(sub) for _, sub in params["parts"])
    return params.get("level") == "set" and params.get("smooth", 1.0) == 0.0


def make_defined(spec, gold, activation):
    """Set level with smooth 0 is 0/0 for a sigmoid column without any labelled cell (undefined by
    the spec): give every such column one labelled negative cell."""
    if activation != "sigmoid" or not spec_has_zero_smooth_set(spec):
        return gold
    for g in gold if isinstance(gold, list) else [gold]:
        if g.shape[0]:
            g[0, (g >= 0).sum(axis=0) == 0] = 0.0
    return gold


def as_probs(Z, activation, dtype="float64"):
    if isinstance(Z, list):
        return [activate_np(z, activation).astype(dtype) for z in Z]
    return activate_np(Z, activation).astype(dtype)


def assert_same_structure_close(actual, expected, tol=TOL):
    if isinstance(expected, list):
        assert isinstance(actual, list)
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert a.shape == e.shape
            numpy.testing.assert_allclose(a, e, rtol=tol, atol=tol)
    else:
        assert hasattr(actual, "shape") and actual.shape == expected.shape
        numpy.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape_id,shape", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("case_id,spec", CASES, ids=[c[0] for c in CASES])
def test_agrees_with_torch_reference(case_id, spec, activation, shape_id, shape):
    rng = numpy.random.default_rng(zlib.crc32(repr((case_id, activation, shape_id)).encode()))
    Z, gold = make_inputs(rng, shape, activation)
    gold = make_defined(spec, gold, activation)
    loss = build_ours(spec, activation)
    probs = as_probs(Z, activation)
    probs_before = [p.copy() for p in (probs if isinstance(probs, list) else [probs])]
    d_guesses, value = loss(probs, gold)
    # the guesses are never written to (the losses work in place on their own buffers only)
    for p, before in zip(probs if isinstance(probs, list) else [probs], probs_before):
        numpy.testing.assert_array_equal(p, before)
    expected_value, expected_grad = reference(reference_spec(spec), Z, gold, activation)
    assert isinstance(value, float)
    assert value == pytest.approx(expected_value, rel=TOL, abs=TOL)
    assert_same_structure_close(d_guesses, expected_grad)
    # get_grad / get_loss agree with __call__
    assert loss.get_loss(as_probs(Z, activation), gold) == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert_same_structure_close(loss.get_grad(as_probs(Z, activation), gold), d_guesses, tol=1e-12)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("case_id,spec", CASES, ids=[c[0] for c in CASES])
def test_agrees_with_torch_reference_on_confident_logits(case_id, spec, activation):
    """Logits up to +-10 (softmax margins up to 20): probabilities within ~2e-9 of 0 and 1.

    Both sides get the same float64 probabilities (torch's softmax / sigmoid): near P = 1 the DSC
    factor's derivative ``alpha (1-P)^(alpha-1)`` amplifies a one-ulp difference in P. Margins
    beyond ~37 give P = 1 exactly, where autograd of ``(1-P)^alpha`` is nan (the properties tests
    cover those inputs for finiteness).
    """
    rng = numpy.random.default_rng(zlib.crc32(repr((case_id, activation, "confident")).encode()))
    Z = rng.choice([-1.0, 1.0], size=(9, C)) * rng.uniform(0, 10, size=(9, C))
    gold = make_defined(spec, random_gold(rng, 9, C, activation, p_missing=0.2), activation)
    loss = build_ours(spec, activation)
    d_guesses, value = loss(probs_torch(Z, activation), gold)
    expected_value, expected_grad = reference(reference_spec(spec), Z, gold, activation)
    assert value == pytest.approx(expected_value, rel=TOL, abs=TOL)
    numpy.testing.assert_allclose(d_guesses, expected_grad, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("float16", 2e-2)])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize(
    "case_id,spec",
    [c for c in CASES if c[0] in ("ce", "wce-ls", "focal-g2", "dice-instance-mean-sq-a0.01",
                                  "dice-set-sum-lin-a0.0", "tversky-set-mean-a0.3-b0.7",
                                  "combined-ce-dsc")],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_low_precision_inputs(case_id, spec, activation, dtype, tol):
    """float32 / float16 probabilities: gradient in the input dtype, values close to float64's."""
    rng = numpy.random.default_rng(11)
    Zs, golds = make_inputs(rng, [5, 0, 3], activation)
    loss = build_ours(spec, activation)
    probs = [p.astype(dtype) for p in as_probs(Zs, activation)]
    d_guesses, value = loss(probs, golds)
    assert isinstance(value, float)
    assert all(g.dtype == numpy.dtype(dtype) for g in d_guesses)
    # the reference on the (rounded) low-precision probabilities' logits is not available, so
    # compare with our own float64 result on the same rounded probabilities
    d64, v64 = loss([p.astype("float64") for p in probs], golds)
    assert value == pytest.approx(v64, rel=tol, abs=tol)
    for g, g64 in zip(d_guesses, d64):
        numpy.testing.assert_allclose(g.astype("float64"), g64, rtol=tol, atol=tol)


def test_int32_and_int64_truths_agree():
    rng = numpy.random.default_rng(5)
    Z = rng.normal(size=(4, C))
    gold = numpy.array([0, 3, -1, 1])
    loss = DiceLoss(alpha=0.01)
    d64, v64 = loss(activate_np(Z, "softmax"), gold)
    d32, v32 = loss(activate_np(Z, "softmax"), gold.astype("int32"))
    assert v32 == v64
    numpy.testing.assert_array_equal(d32, d64)


# ----------------------------------------------------------------------------------------------
# class weights
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        {"B-PER": 3.0, "I-PER": 0.25},
        [1.0, 2.0, 3.0, 4.0],
        "inverse_frequency",
        "inverse_sqrt_frequency",
    ],
)
@pytest.mark.parametrize("cls", [CrossEntropy, FocalLoss])
def test_class_weights_resolve_as_specified(cls, spec):
    loss = cls(class_weights=spec)
    loss.initialize(list(LABELS), LABEL_COUNTS)
    assert loss.class_weights == pytest.approx(resolve_weights(spec, LABELS, LABEL_COUNTS), rel=1e-12)


def test_inverse_frequency_of_an_unseen_label_uses_count_one():
    counts = {"O": 90, "B-PER": 10}
    loss = CrossEntropy(class_weights="inverse_frequency")
    loss.initialize(["O", "B-PER", "I-PER"], counts)
    N, Cn = 100.0, 3
    assert loss.class_weights == pytest.approx([N / (Cn * 90), N / (Cn * 10), N / (Cn * 1)])


def test_inverse_frequency_balances_the_weighted_counts():
    loss = FocalLoss(class_weights="inverse_frequency")
    loss.initialize(list(LABELS), LABEL_COUNTS)
    weighted = [w * LABEL_COUNTS[label] for w, label in zip(loss.class_weights, LABELS)]
    total = sum(LABEL_COUNTS.values())
    assert weighted == pytest.approx([total / len(LABELS)] * len(LABELS))


def test_weights_by_name_need_initialize():
    loss = CrossEntropy(class_weights={"O": 0.5})
    P = activate_np(numpy.zeros((2, C)), "softmax")
    with pytest.raises(ValueError, match="initialize"):
        loss(P, numpy.array([0, 1]))


def test_weight_list_of_wrong_length_raises():
    loss = CrossEntropy(class_weights=[1.0, 2.0])
    P = activate_np(numpy.zeros((2, C)), "softmax")
    with pytest.raises(ValueError, match="class"):
        loss(P, numpy.array([0, 1]))


# ----------------------------------------------------------------------------------------------
# CombinedLoss
# ----------------------------------------------------------------------------------------------
def test_combined_equals_weighted_sum_of_parts():
    rng = numpy.random.default_rng(2)
    Zs, golds = make_inputs(rng, [4, 2, 6], "softmax")
    probs = as_probs(Zs, "softmax")
    parts = {"ce": CrossEntropy(), "dsc": DiceLoss(alpha=0.01), "tl": TverskyLoss(0.3, 0.7)}
    weights = {"ce": 0.5, "dsc": 2.0}  # "tl" not named: weighs 1
    combined = CombinedLoss(parts, weights)
    grads, value = combined(probs, golds)
    full = {"ce": 0.5, "dsc": 2.0, "tl": 1.0}
    expected_value = sum(full[k] * parts[k](probs, golds)[1] for k in parts)
    assert value == pytest.approx(expected_value, rel=1e-12)
    for i, g in enumerate(grads):
        expected = sum(full[k] * parts[k](probs, golds)[0][i] for k in parts)
        numpy.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)
    assert combined.get_loss(probs, golds) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("as_list", [True, False])
def test_combined_with_a_foreign_thinc_loss(as_list):
    """A thinc loss that is not ours is called on its own and its gradient added, scaled."""
    rng = numpy.random.default_rng(4)
    Zs, golds = make_inputs(rng, [3, 5] if as_list else 6, "softmax", p_missing=0.0)
    probs = as_probs(Zs, "softmax")
    thinc_ce = SequenceCategoricalCrossentropy(normalize=False)
    dice = DiceLoss(level="set")
    combined = CombinedLoss({"thinc": thinc_ce, "dice": dice}, {"thinc": 0.25, "dice": 1.0})
    if not as_list:
        # thinc's sequence loss wants lists: compare through the list form of the same data
        probs_l, golds_l = [probs], [golds]
    else:
        probs_l, golds_l = probs, golds
    grads, value = combined(probs_l, golds_l)
    t_grads, t_value = thinc_ce(probs_l, golds_l)
    d_grads, d_value = dice(probs_l, golds_l)
    assert value == pytest.approx(0.25 * float(t_value) + d_value, rel=1e-12)
    for g, tg, dg in zip(grads, t_grads, d_grads):
        numpy.testing.assert_allclose(g, 0.25 * tg + dg, rtol=1e-12, atol=1e-15)
