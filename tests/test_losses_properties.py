"""Hypothesis properties of the loss family.

* finite, non-negative (and bounded) loss and finite gradient in the input dtype for logits up to
  +-1e4 (probabilities exactly 0 and 1) in float16/32/64, single arrays and lists of docs, without
  a numpy RuntimeWarning;
* one class; thousands of classes; docs of length 0 and 1;
* missing rows count nowhere (the same loss and gradient as without them);
* all-missing and empty batches give 0.0 and zero gradients (an empty list gives ``[]``);
* set-level dice of a hard prediction with smooth 0, alpha 0 is exactly 1 - F1;
* gradient descent on a toy imbalanced problem lowers every loss;
* shape mismatches and out-of-range gold ids raise a ValueError naming the shapes / the id.
"""
import numpy
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spacy_dice.losses import (
    CombinedLoss, CrossEntropy, DiceLoss, FocalLoss, LogDiceLoss, ScheduledCombinedLoss,
    TverskyLoss,
)
from spacy_dice.losses.schedules import linear_ramp_v1
from conftest import examples
from torch_reference import activate_np, ramp_value, reference

# Every example is small. Numbers of examples are chosen so that this file takes about half a
# minute of CPU under --slow (28 x 300 examples of the finiteness property alone); the fast tier
# draws a fifth of each (examples(n)).
N_FINITE = examples(300)  # 60 in the fast tier (tests/conftest.py)
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow / 0/0 warnings either
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def weights_for(n_classes):
    return [0.5 + (i % 4) * 0.75 for i in range(n_classes)]


def scheduled(C, a, step=7):
    """CE 1 -> 0.25 and DSC 0 -> 3 over steps 5..20, at ``step`` (inside the ramps)."""
    loss = ScheduledCombinedLoss(
        {"ce": CrossEntropy(activation=a), "dsc": DiceLoss(alpha=0.01, activation=a)},
        {"ce": linear_ramp_v1(1.0, 0.25, 5, 20), "dsc": linear_ramp_v1(0.0, 3.0, 5, 20)},
    )
    loss.set_step(step)
    return loss


# name -> factory(n_classes, activation); bounded: True if 0 <= loss <= 1 (mean) / <= C (sum)
LOSSES = {
    "ce": (lambda C, a: CrossEntropy(activation=a), False),
    "wce-ls": (lambda C, a: CrossEntropy(class_weights=weights_for(C), label_smoothing=0.1, activation=a), False),
    "focal": (lambda C, a: FocalLoss(2.0, class_weights=weights_for(C), activation=a), False),
    "focal-g0.5": (lambda C, a: FocalLoss(0.5, activation=a), False),
    "dice-instance": (lambda C, a: DiceLoss(activation=a), True),
    "dice-set-sum-lin": (lambda C, a: DiceLoss(square_denominator=False, level="set", class_reduction="sum", activation=a), True),
    "dsc-instance-a0.01": (lambda C, a: DiceLoss(alpha=0.01, activation=a), True),
    "dsc-set-a0.5-s0": (lambda C, a: DiceLoss(smooth=0.0, alpha=0.5, level="set", activation=a), True),
    "tversky-instance-sum": (lambda C, a: TverskyLoss(0.3, 0.7, class_reduction="sum", activation=a), True),
    "tversky-set-s0": (lambda C, a: TverskyLoss(0.7, 0.3, smooth=0.0, level="set", activation=a), True),
    "combined": (lambda C, a: CombinedLoss({"ce": CrossEntropy(activation=a), "dsc": DiceLoss(alpha=0.01, activation=a)}, {"ce": 0.3}), False),
    "scheduled": (scheduled, False),
    "logdice-set": (lambda C, a: LogDiceLoss(activation=a), False),
    "logdice-instance-sum-a0.3": (lambda C, a: LogDiceLoss(alpha=0.3, level="instance", class_reduction="sum", square_denominator=False, activation=a), False),
}
LOSS_NAMES = sorted(LOSSES)
# losses whose dL/dP is unbounded as P -> 1 (the DSC factor (1-P)^alpha, dQ/dP ~ alpha (1-P)^(alpha-1)):
# through dZ = P (dP - sum P dP) their row sums carry a rounding error of about eps * |P dL/dP|, which
# for 1 - P near eps is not small (a limit of working from probabilities, not a sign error)
SINGULAR_DP = {"dsc-instance-a0.01", "dsc-set-a0.5-s0", "combined", "scheduled",
               "logdice-instance-sum-a0.3"}
MODES = ["softmax", "sigmoid"]

# Logits: hypothesis draws the shapes, the dtype, the scale and a seed; numpy fills the arrays (much
# cheaper than drawing every float through hypothesis, so thousands of examples stay fast).
EXTREME = "extreme"
MODERATE = "moderate"


def probs_from(Z, activation, dtype):
    """Probabilities computed in float64 (exact 0 and 1 for huge logits), then cast."""
    return activate_np(numpy.asarray(Z, dtype="float64"), activation).astype(dtype)


def fill_logits(rng, shape, kind, scale):
    if kind == MODERATE:
        return rng.uniform(-6.0, 6.0, size=shape)
    Z = rng.normal(scale=scale, size=shape)
    # sprinkle exact extremes: +-1e4 (P exactly 0 / 1 in any dtype), ties, the float64 exp limit
    special = rng.random(shape) < 0.3
    Z[special] = rng.choice([-1e4, 1e4, 0.0, -50.0, 50.0, -745.0, 745.0], size=int(special.sum()))
    return Z


def fill_gold(rng, n_rows, n_classes, activation, p_missing):
    if activation == "softmax":
        gold = rng.integers(0, n_classes, size=n_rows)
        gold[rng.random(n_rows) < p_missing] = -1
        return gold.astype("int64")
    gold = (rng.random((n_rows, n_classes)) < rng.uniform(0.0, 1.0)).astype("float64")
    gold[rng.random((n_rows, n_classes)) < p_missing] = -1.0
    return gold


@st.composite
def batches(draw, activation, logits=EXTREME, max_classes=6, lengths=st.integers(0, 5),
            n_classes=None, min_classes=1):
    """``(Z, gold, is_list)``: Z one float64 logits array or a list of them, gold to match."""
    C = draw(st.integers(min_classes, max_classes)) if n_classes is None else n_classes
    is_list = draw(st.booleans())
    doc_lengths = draw(st.lists(lengths, min_size=0 if is_list else 1, max_size=4 if is_list else 1))
    scale = draw(st.sampled_from([1.0, 30.0, 1e3, 1e4]))
    p_missing = draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    rng = numpy.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Zs = [fill_logits(rng, (k, C), logits, scale) for k in doc_lengths]
    golds = [fill_gold(rng, k, C, activation, p_missing) for k in doc_lengths]
    if not is_list:
        return Zs[0], golds[0], False
    return Zs, golds, True


def to_probs(Z, activation, dtype="float64"):
    if isinstance(Z, list):
        return [probs_from(z, activation, dtype) for z in Z]
    return probs_from(Z, activation, dtype)


def flat(x):
    if isinstance(x, list):
        return [numpy.asarray(a) for a in x]
    return [numpy.asarray(x)]


def labelled_rows(gold, activation):
    g = numpy.concatenate(flat(gold)) if flat(gold) else numpy.zeros((0,))
    if activation == "softmax":
        return g >= 0
    return (g >= 0).any(axis=1) if g.ndim == 2 else numpy.zeros((0,), bool)


def assert_structure(grads, probs, dtype):
    if isinstance(probs, list):
        assert isinstance(grads, list) and len(grads) == len(probs)
    for g, p in zip(flat(grads), flat(probs)):
        assert g.shape == p.shape
        assert g.dtype == numpy.dtype(dtype)


# ----------------------------------------------------------------------------------------------
# finite outputs for extreme logits in every precision
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=N_FINITE, **SETTINGS)
@given(data=st.data(), dtype=st.sampled_from(["float16", "float32", "float64"]))
def test_finite_nonnegative_and_structured_for_extreme_logits(name, activation, data, dtype):
    Z, gold, _ = data.draw(batches(activation))
    probs = to_probs(Z, activation, dtype)
    n_classes = flat(probs)[0].shape[1] if flat(probs) else 1
    factory, bounded = LOSSES[name]
    loss = factory(n_classes, activation)
    grads, value = loss(probs, gold)
    assert isinstance(value, float)
    assert numpy.isfinite(value)
    assert value >= -1e-6
    if bounded:
        per_class_max = n_classes if "sum" in name else 1.0
        assert value <= per_class_max * (1 + 1e-5)
    assert_structure(grads, probs, dtype)
    for g in flat(grads):
        assert numpy.all(numpy.isfinite(g))
    all_grads = numpy.concatenate([g.astype("float64") for g in flat(grads)]) if flat(grads) else None
    if all_grads is not None and all_grads.size:
        labelled = labelled_rows(gold, activation)
        # missing rows get no gradient
        assert numpy.all(all_grads[~labelled] == 0.0)
        if activation == "softmax" and dtype == "float64" and name not in SINGULAR_DP:
            # dZ = P (dP - sum P dP) sums to 0 over each row (P sums to 1)
            scale = 1.0 + numpy.abs(all_grads).max()
            assert numpy.all(numpy.abs(all_grads.sum(axis=1)) <= 1e-9 * scale)
    assert loss.get_loss(probs, gold) == pytest.approx(value, rel=1e-6, abs=1e-9)
    if not labelled_rows(gold, activation).any():
        assert value == 0.0
        assert all(numpy.all(g == 0) for g in flat(grads))


# ----------------------------------------------------------------------------------------------
# agreement with the reference on odd shapes: one class, thousands of classes, docs of 0/1 rows
# ----------------------------------------------------------------------------------------------
def check_against_reference(loss, spec, Z, gold, activation, tol=1e-7):
    grads, value = loss(to_probs(Z, activation), gold)
    expected_value, expected_grads = reference(spec, Z, gold, activation)
    assert value == pytest.approx(expected_value, rel=tol, abs=tol)
    if isinstance(Z, list):
        assert isinstance(grads, list) and len(grads) == len(Z)
        pairs = zip(grads, expected_grads)
    else:
        pairs = [(grads, expected_grads)]
    for g, e in pairs:
        assert g.shape == e.shape
        numpy.testing.assert_allclose(g, e, rtol=tol, atol=tol)


# the reference specs of a few LOSSES entries (class weights as lists where used)
REFERENCE_SPECS = {
    "ce": lambda C: ("ce", {}),
    "wce-ls": lambda C: ("ce", {"class_weights": weights_for(C), "label_smoothing": 0.1}),
    "focal": lambda C: ("focal", {"gamma": 2.0, "class_weights": weights_for(C)}),
    "dice-instance": lambda C: ("dice", {}),
    "dice-set-sum-lin": lambda C: ("dice", {"square_denominator": False, "level": "set", "class_reduction": "sum"}),
    "dsc-instance-a0.01": lambda C: ("dice", {"alpha": 0.01}),
    "tversky-instance-sum": lambda C: ("tversky", {"alpha": 0.3, "beta": 0.7, "class_reduction": "sum"}),
    "combined": lambda C: ("combined", {"parts": [(0.3, ("ce", {})), (1.0, ("dice", {"alpha": 0.01}))]}),
    "logdice-set": lambda C: ("logdice", {}),
    "logdice-instance-sum-a0.3": lambda C: ("logdice", {"alpha": 0.3, "level": "instance", "class_reduction": "sum", "square_denominator": False}),
    "scheduled": lambda C: ("combined", {"parts": [(ramp_value(1.0, 0.25, 5, 20, 7), ("ce", {})),
                                                   (ramp_value(0.0, 3.0, 5, 20, 7), ("dice", {"alpha": 0.01}))]}),
}


@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", sorted(REFERENCE_SPECS))
@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data())
def test_docs_of_length_zero_and_one(name, activation, data):
    # (one softmax class has P = 1 exactly, where autograd of (1-P)^alpha is nan: see test_one_class)
    Z, gold, _ = data.draw(batches(activation, logits=MODERATE, lengths=st.integers(0, 1),
                                   min_classes=2 if activation == "softmax" else 1))
    C = flat(Z)[0].shape[1] if flat(Z) else 3
    check_against_reference(LOSSES[name][0](C, activation), REFERENCE_SPECS[name](C), Z, gold, activation)


@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", sorted(REFERENCE_SPECS))
@settings(max_examples=examples(40), **SETTINGS)
@given(data=st.data())
def test_one_class(name, activation, data):
    Z, gold, _ = data.draw(batches(activation, logits=EXTREME if activation == "softmax" else MODERATE,
                                   n_classes=1))
    loss = LOSSES[name][0](1, activation)
    if activation == "sigmoid":
        check_against_reference(loss, REFERENCE_SPECS[name](1), Z, gold, activation)
        return
    # softmax over one class: P = 1 whatever the logits, so the logits' gradient is exactly 0
    grads, value = loss(to_probs(Z, activation), gold)
    assert numpy.isfinite(value)
    assert all(numpy.all(g == 0.0) for g in flat(grads))
    if name in ("ce", "focal", "dice-instance", "dice-set-sum-lin"):
        assert value == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", ["wce-ls", "focal", "dice-set-sum-lin", "dsc-instance-a0.01", "tversky-instance-sum"])
@settings(max_examples=examples(8), **SETTINGS)
@given(data=st.data())
def test_thousands_of_classes(name, activation, data):
    C = data.draw(st.integers(1000, 3000))
    n_rows = data.draw(st.integers(1, 3))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = numpy.random.default_rng(seed)
    Z = rng.normal(scale=3.0, size=(n_rows, C))
    if activation == "softmax":
        gold = rng.integers(-1, C, size=n_rows)
    else:
        gold = numpy.where(rng.random((n_rows, C)) < 0.01, 1.0, 0.0)
        gold[rng.random((n_rows, C)) < 0.1] = -1.0
    check_against_reference(LOSSES[name][0](C, activation), REFERENCE_SPECS[name](C), Z, gold, activation)


# ----------------------------------------------------------------------------------------------
# missing rows count nowhere: the same loss as without them, whatever their probabilities
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=examples(30), **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n_missing=st.integers(1, 400), dtype=st.sampled_from(["float32", "float64"]))
def test_missing_rows_count_nowhere(name, activation, seed, n_missing, dtype):
    rng = numpy.random.default_rng(seed)
    C = int(rng.integers(2, 7))
    n_labelled = int(rng.integers(1, 6))
    # confident labelled rows (small loss terms) next to many missing rows far from them
    Z_lab = rng.normal(scale=8.0, size=(n_labelled, C))
    Z_mis = rng.normal(scale=0.1, size=(n_missing, C))
    gold_lab = fill_gold(rng, n_labelled, C, activation, 0.0)
    gold_mis = numpy.full_like(fill_gold(rng, n_missing, C, activation, 0.0), -1)
    order = rng.permutation(n_labelled + n_missing)
    Z = numpy.concatenate([Z_lab, Z_mis])[order]
    gold = numpy.concatenate([gold_lab, gold_mis])[order]
    loss = LOSSES[name][0](C, activation)
    grads, value = loss(probs_from(Z, activation, dtype), gold)
    keep = numpy.argsort(order)[:n_labelled]  # positions of the labelled rows after shuffling
    grads_lab, value_lab = loss(probs_from(Z[keep], activation, dtype), gold[keep])
    tol = 1e-12 if dtype == "float64" else 2e-6
    assert value == pytest.approx(value_lab, rel=tol, abs=tol)
    numpy.testing.assert_allclose(grads[keep], grads_lab, rtol=tol, atol=tol)
    missing = numpy.ones(len(order), bool)
    missing[keep] = False
    assert numpy.all(grads[missing] == 0.0)


# ----------------------------------------------------------------------------------------------
# n = 0: all missing, no rows, no docs
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=examples(25), **SETTINGS)
@given(data=st.data(), dtype=st.sampled_from(["float16", "float32", "float64"]))
def test_all_missing_gives_zero(name, activation, data, dtype):
    Z, gold, is_list = data.draw(batches(activation))
    missing = [numpy.full_like(g, -1) for g in flat(gold)]
    gold = missing if is_list else missing[0]
    probs = to_probs(Z, activation, dtype)
    C = flat(probs)[0].shape[1] if flat(probs) else 2
    loss = LOSSES[name][0](C, activation)
    grads, value = loss(probs, gold)
    assert value == 0.0 and isinstance(value, float)
    assert loss.get_loss(probs, gold) == 0.0
    assert_structure(grads, probs, dtype)
    assert all(numpy.all(g == 0) for g in flat(grads))


@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_empty_batches_give_zero(name, activation):
    loss = LOSSES[name][0](3, activation)
    assert loss([], []) == ([], 0.0)
    assert loss.get_loss([], []) == 0.0
    gold0 = numpy.zeros((0,), "int64") if activation == "softmax" else numpy.zeros((0, 3))
    grads, value = loss(numpy.zeros((0, 3), "float32"), gold0)
    assert value == 0.0 and grads.shape == (0, 3) and grads.dtype == numpy.float32
    grads, value = loss([numpy.zeros((0, 3)), numpy.zeros((0, 3))], [gold0, gold0])
    assert value == 0.0 and [g.shape for g in grads] == [(0, 3), (0, 3)]


# ----------------------------------------------------------------------------------------------
# set-level dice of a hard prediction is 1 - F1
# ----------------------------------------------------------------------------------------------
def f1(pred, gold):
    tp = float(numpy.sum(pred & gold))
    fp = float(numpy.sum(pred & ~gold))
    fn = float(numpy.sum(~pred & gold))
    return 2 * tp / (2 * tp + fp + fn)


@settings(max_examples=examples(300), **SETTINGS)
@given(
    cells=st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 1.0, -1.0])), min_size=1, max_size=30),
    square=st.booleans(),
    as_list=st.booleans(),
)
def test_binary_set_dice_of_hard_prediction_is_one_minus_f1(cells, square, as_list):
    """Sigmoid mode, one column: P in {0, 1}; missing cells are left out of the F1."""
    pred = numpy.array([c[0] for c in cells])
    gold = numpy.array([c[1] for c in cells])
    labelled = gold >= 0
    assume((pred[labelled] | (gold[labelled] == 1)).any())  # F1 is 0/0 otherwise
    expected = 1.0 - f1(pred[labelled], gold[labelled] == 1)
    P = pred.astype("float64")[:, None]
    G = gold[:, None]
    if as_list:
        P, G = [P[:1], P[1:]], [G[:1], G[1:]]
    dice = DiceLoss(smooth=0.0, alpha=0.0, square_denominator=square, level="set", activation="sigmoid")
    assert dice(P, G)[1] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    tversky = TverskyLoss(0.5, 0.5, smooth=0.0, level="set", activation="sigmoid")
    assert tversky(P, G)[1] == pytest.approx(expected, rel=1e-12, abs=1e-12)


@settings(max_examples=examples(300), **SETTINGS)
@given(
    rows=st.lists(st.tuples(st.integers(0, 1), st.integers(-1, 1)), min_size=1, max_size=30),
    square=st.booleans(),
)
def test_two_class_softmax_set_dice_of_hard_prediction(rows, square):
    """Softmax, 2 classes, one-hot P: each class's set dice is that class's F1, so
    ``class_reduction="mean"`` gives exactly 1 - macro-F1 and ``"sum"`` gives 2 - F1_0 - F1_1;
    with one class fully correct-and-absent undefined (0/0), both classes need a prediction or gold."""
    pred = numpy.array([r[0] for r in rows])
    gold = numpy.array([r[1] for r in rows])
    lab = gold >= 0
    p, g = pred[lab], gold[lab]
    assume(((p == 0) | (g == 0)).any() and ((p == 1) | (g == 1)).any())
    f1_1 = f1(p == 1, g == 1)
    f1_0 = f1(p == 0, g == 0)
    P = numpy.eye(2)[pred]
    mean = DiceLoss(smooth=0.0, square_denominator=square, level="set", class_reduction="mean")
    total = DiceLoss(smooth=0.0, square_denominator=square, level="set", class_reduction="sum")
    assert mean(P, gold)[1] == pytest.approx(1.0 - (f1_0 + f1_1) / 2, rel=1e-12, abs=1e-12)
    assert total(P, gold)[1] == pytest.approx(2.0 - f1_0 - f1_1, rel=1e-12, abs=1e-12)


# ----------------------------------------------------------------------------------------------
# gradient descent on a toy imbalanced problem
# ----------------------------------------------------------------------------------------------
def toy_problem(seed, activation):
    """A linear model on 2-d points, classes 0 (85%), 1 (10%), 2 (5%)."""
    rng = numpy.random.default_rng(seed)
    n = 200
    y = rng.choice(3, size=n, p=[0.85, 0.10, 0.05])
    centres = numpy.array([[0.0, 0.0], [2.5, 0.5], [0.5, 2.5]])
    X = centres[y] + rng.normal(scale=0.8, size=(n, 2))
    X = numpy.hstack([X, numpy.ones((n, 1))])
    y = y.copy()
    y[rng.random(n) < 0.1] = -1  # some missing labels
    if activation == "softmax":
        return X, y
    Y = numpy.eye(3)[numpy.maximum(y, 0)]
    Y[y < 0] = -1.0
    return X, Y


LEARNING_RATE = 1.0


@pytest.mark.parametrize("activation", MODES)
@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=examples(3), **SETTINGS)
@given(seed=st.integers(0, 2**16))
def test_gradient_descent_lowers_the_loss(name, activation, seed):
    X, gold = toy_problem(seed, activation)
    loss = LOSSES[name][0](3, activation)
    W = numpy.zeros((X.shape[1], 3))
    values = []
    for _ in range(60):
        Z = X @ W
        dZ, value = loss(activate_np(Z, activation), gold)
        values.append(value)
        W -= LEARNING_RATE * (X.T @ dZ)
    final = loss.get_loss(activate_np(X @ W, activation), gold)
    assert numpy.isfinite(final)
    assert final < 0.9 * values[0]


# ----------------------------------------------------------------------------------------------
# input errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ce", "dice-instance", "tversky-set-s0", "combined"])
@settings(max_examples=examples(40), **SETTINGS)
@given(rows=st.integers(0, 6), other=st.integers(0, 6), C=st.integers(1, 5))
def test_softmax_length_mismatch_names_the_shapes(name, rows, other, C):
    assume(rows != other)
    loss = LOSSES[name][0](C, "softmax")
    P = numpy.full((rows, C), 1.0 / C)
    gold = numpy.zeros((other,), "int64")
    with pytest.raises(ValueError) as err:
        loss(P, gold)
    assert f"({other},)" in str(err.value) and f"({rows}," in str(err.value)
    with pytest.raises(ValueError) as err:
        loss([P[:0], P], [gold[:0], gold])
    assert f"({other},)" in str(err.value)


@pytest.mark.parametrize("name", ["ce", "dsc-instance-a0.01", "tversky-set-s0"])
@settings(max_examples=examples(40), **SETTINGS)
@given(rows=st.integers(1, 5), C=st.integers(1, 5), gold_shape=st.tuples(st.integers(0, 6), st.integers(0, 6)))
def test_sigmoid_shape_mismatch_names_the_shapes(name, rows, C, gold_shape):
    assume(gold_shape != (rows, C))
    loss = LOSSES[name][0](C, "sigmoid")
    P = numpy.full((rows, C), 0.5)
    with pytest.raises(ValueError) as err:
        loss(P, numpy.zeros(gold_shape))
    assert str(gold_shape) in str(err.value) and str((rows, C)) in str(err.value)


@pytest.mark.parametrize("name", ["ce", "focal", "dice-set-sum-lin", "combined"])
def test_doc_count_and_class_count_mismatch(name):
    loss = LOSSES[name][0](3, "softmax")
    P = numpy.full((2, 3), 1 / 3)
    gold = numpy.array([0, 1])
    with pytest.raises(ValueError, match="2 docs.*1"):
        loss([P, P], [gold])
    with pytest.raises(ValueError, match=r"4 classes.*3|3.*4 classes"):
        loss([P, numpy.full((2, 4), 0.25)], [gold, gold])
    with pytest.raises(ValueError, match=r"\(2, 3, 1\)"):
        loss(P[:, :, None], gold)


@pytest.mark.parametrize("name", ["ce", "wce-ls", "focal", "dice-instance", "tversky-set-s0", "combined"])
@settings(max_examples=examples(40), **SETTINGS)
@given(C=st.integers(1, 6), bad=st.one_of(st.integers(-1000, -2), st.integers(0, 1000)), as_list=st.booleans())
def test_out_of_range_gold_id_is_named(name, C, bad, as_list):
    assume(bad < -1 or bad >= C)
    loss = LOSSES[name][0](C, "softmax")
    P = numpy.full((3, C), 1.0 / C)
    gold = numpy.array([0, bad, -1])
    with pytest.raises(ValueError) as err:
        loss([P[:1], P[1:]], [gold[:1], gold[1:]]) if as_list else loss(P, gold)
    assert str(bad) in str(err.value)
    with pytest.raises(ValueError):
        loss.get_loss(P, gold)


@pytest.mark.parametrize("value", [2.0, 0.5, -2.0, numpy.nan])
def test_sigmoid_gold_values_other_than_one_zero_missing_raise(value):
    loss = DiceLoss(activation="sigmoid")
    gold = numpy.array([[1.0, value]])
    with pytest.raises(ValueError, match="gold"):
        loss(numpy.full((1, 2), 0.5), gold)
