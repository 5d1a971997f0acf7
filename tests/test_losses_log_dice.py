"""LogDiceLoss: what it is for (a gradient that does not vanish with the class's probability) and
its relation to DiceLoss. Finite differences, the torch reference and the fuzzing cover its
``logdice-*`` cases in the shared loss test files."""
import numpy
import pytest

from spacy_dice.losses import DiceLoss, LogDiceLoss
from torch_reference import activate_np


def vanishing_batch(p_entity: float, n_o: int = 40, n_ent: int = 4):
    """Softmax rows over (O, ENT): every token predicts ENT with probability ``p_entity``."""
    P = numpy.tile([1.0 - p_entity, p_entity], (n_o + n_ent, 1))
    gold = numpy.array([0] * n_o + [1] * n_ent)
    return P, gold


@pytest.mark.parametrize("p_entity", [1e-3, 1e-5])
def test_gold_logit_gradient_does_not_vanish_with_the_probability(p_entity):
    """Dice's gradient on an entity token's gold logit scales with p; log-dice's (set level) stays
    about -1/count per token (here 4 entity tokens) while smooth << TP."""
    P, gold = vanishing_batch(p_entity)
    ent = gold == 1
    dice_grad, _ = DiceLoss(level="set")(P, gold)
    log_grad, _ = LogDiceLoss(level="set", smooth=1e-8)(P, gold)
    assert numpy.abs(dice_grad[ent, 1]).max() < 10 * p_entity
    # mean over 2 classes: per_class 1/2; -2 p / (2 TP) (1 - p) = -(1 - p) / count
    numpy.testing.assert_allclose(log_grad[ent, 1], -0.5 * (1 - p_entity) / 4, rtol=1e-3)


def test_smooth_is_the_floor_of_the_rescue():
    """With smooth large next to the overlap, log-dice vanishes like dice: smooth must be small."""
    P, gold = vanishing_batch(1e-5)
    ent = gold == 1
    log_grad, _ = LogDiceLoss(level="set", smooth=1.0)(P, gold)
    assert numpy.abs(log_grad[ent, 1]).max() < 1e-4


@pytest.mark.parametrize("level", ["set", "instance"])
@pytest.mark.parametrize("alpha,square", [(0.0, True), (0.1, False)])
def test_one_sigmoid_column_is_minus_log_of_one_minus_dice(level, alpha, square):
    """Per column, DiceLoss is 1 - D and LogDiceLoss is -log D (instance level: per cell, so only
    single-row batches compare directly)."""
    rng = numpy.random.default_rng(0)
    rows = 7 if level == "set" else 1
    P = activate_np(rng.normal(size=(rows, 1)), "sigmoid")
    gold = (rng.random((rows, 1)) < 0.4).astype("float64")
    params = dict(smooth=0.3, alpha=alpha, square_denominator=square, level=level,
                  activation="sigmoid")
    dice = DiceLoss(**params).get_loss(P, gold)
    log = LogDiceLoss(**params).get_loss(P, gold)
    assert log == pytest.approx(-numpy.log(1.0 - dice), rel=1e-12)


@pytest.mark.parametrize("smooth", [0.0, -1.0, float("nan")])
def test_smooth_must_be_positive(smooth):
    with pytest.raises(ValueError, match="smooth"):
        LogDiceLoss(smooth=smooth)


def test_all_missing_rows_give_zero():
    P = numpy.full((3, 4), 0.25)
    grad, value = LogDiceLoss()(P, numpy.array([-1, -1, -1]))
    assert value == 0.0 and not grad.any()
