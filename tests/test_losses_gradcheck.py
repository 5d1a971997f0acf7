"""Finite-difference checks of every loss's gradient w.r.t. the PRE-ACTIVATION LOGITS.

The losses take probabilities and return ``dL/dZ``; here ``f(Z) = loss(activation(Z), gold)`` is
differentiated numerically by central differences in float64 and compared with the returned
gradient, for every loss x level x class_reduction x alpha x square x class weights x label smoothing
x CombinedLoss, in softmax and sigmoid mode.
"""
import zlib

import numpy
import pytest

from torch_reference import activate_np, build_ours, loss_cases, random_gold

CASES = loss_cases()
STEP = 1e-5


def numeric_grad(loss, Z, gold, activation):
    grad = numpy.zeros_like(Z)
    for idx in numpy.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += STEP
        Zm[idx] -= STEP
        fp = loss.get_loss(activate_np(Zp, activation), gold)
        fm = loss.get_loss(activate_np(Zm, activation), gold)
        grad[idx] = (fp - fm) / (2 * STEP)
    return grad


def check(loss, Z, gold, activation):
    d_guesses, value = loss(activate_np(Z, activation), gold)
    assert isinstance(value, float)
    assert d_guesses.dtype == numpy.float64
    expected = numeric_grad(loss, Z, gold, activation)
    numpy.testing.assert_allclose(d_guesses, expected, rtol=1e-5, atol=1e-8)
    return d_guesses


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("case_id,spec", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(case_id, spec, activation):
    rng = numpy.random.default_rng(zlib.crc32(repr((case_id, activation)).encode()))
    Z = rng.normal(scale=1.5, size=(6, 4))
    gold = random_gold(rng, 6, 4, activation, p_missing=0.2)
    # keep at least one labelled row, and one missing row, in every case
    if activation == "softmax":
        gold[0], gold[1] = -1, 2
    else:
        gold[0, :] = -1
        gold[1, :] = [1, 0, -1, 0]
    grad = check(build_ours(spec, activation), Z, gold, activation)
    # a missing row gets no gradient
    assert numpy.all(grad[0] == 0.0)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize(
    "case_id,spec",
    [c for c in CASES if c[0] in ("ce", "focal-g2", "dice-set-sum-sq-a0.01", "tversky-instance-mean-a0.3-b0.7")],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_gradient_with_extreme_but_finite_probabilities(case_id, spec, activation):
    """Confident logits (|Z| ~ 4..7): probabilities near 0 and 1 but not at them.

    (Much larger logits put P within ~1e-9 of 1, where ``1 - P`` from a float64 ``P`` has too few
    digits for a finite difference; test_losses_reference checks those against autograd.)
    """
    rng = numpy.random.default_rng(7)
    Z = rng.choice([-1.0, 1.0], size=(5, 3)) * rng.uniform(4, 7, size=(5, 3))
    gold = random_gold(rng, 5, 3, activation, p_missing=0.0)
    check(build_ours(spec, activation, labels=None), Z, gold, activation)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_gradient_of_list_input_matches_finite_differences(activation):
    """Lists of docs: the gradient of doc ``d`` is the derivative w.r.t. doc ``d``'s logits."""
    spec = ("dice", {"alpha": 0.1, "level": "set", "class_reduction": "sum"})
    loss = build_ours(spec, activation)
    rng = numpy.random.default_rng(3)
    lengths = [1, 3, 0, 2]
    Zs = [rng.normal(size=(k, 4)) for k in lengths]
    golds = [random_gold(rng, k, 4, activation) for k in lengths]
    grads, _ = loss([activate_np(Z, activation) for Z in Zs], golds)
    assert [g.shape for g in grads] == [Z.shape for Z in Zs]
    Z_all = numpy.concatenate(Zs)
    gold_all = numpy.concatenate(golds)
    expected = numeric_grad(loss, Z_all, gold_all, activation)
    numpy.testing.assert_allclose(numpy.concatenate(grads), expected, rtol=1e-5, atol=1e-8)
