"""ScheduledCombinedLoss and the LinearRamp schedule: weights follow the component's update step.

Gradients (finite differences) and the torch reference are checked for the ``scheduled-*`` cases of
``torch_reference.loss_cases`` in test_losses_gradcheck.py / test_losses_reference.py; this file
checks the schedule mechanics, the component protocol and the error messages.
"""
import numpy
import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

from spacy_dice.losses import CombinedLoss, CrossEntropy, DiceLoss, ScheduledCombinedLoss
from spacy_dice.losses.schedules import linear_ramp_v1
from synthetic import SMALL_TAGGER_MODEL, ner_examples
from torch_reference import activate_np, ramp_value, reference


def inputs(seed=0, rows=9, classes=4):
    rng = numpy.random.default_rng(seed)
    Z = rng.normal(scale=2.0, size=(rows, classes))
    gold = rng.integers(-1, classes, size=rows)
    gold[0] = 1
    return Z, gold


@pytest.mark.parametrize("begin,end", [(0, 0), (0, 10), (3, 7), (5, 5), (2, 3)])
def test_linear_ramp_values(begin, end):
    ramp = linear_ramp_v1(2.0, -1.0, begin, end)
    values = [next(ramp) for _ in range(15)]
    assert values == pytest.approx([ramp_value(2.0, -1.0, begin, end, t) for t in range(15)])
    assert values[0] == 2.0 and values[-1] == -1.0


@pytest.mark.parametrize(
    "params,param",
    [
        ({"start": 0.0, "stop": 1.0, "begin_step": 5, "end_step": 4}, "end_step"),
        ({"start": 0.0, "stop": 1.0, "begin_step": -1, "end_step": 4}, "begin_step"),
        ({"start": 0.0, "stop": 1.0, "begin_step": 0, "end_step": 2.5}, "end_step"),
        ({"start": float("nan"), "stop": 1.0, "begin_step": 0, "end_step": 2}, "start"),
        ({"start": 0.0, "stop": "one", "begin_step": 0, "end_step": 2}, "stop"),
    ],
)
def test_linear_ramp_bad_parameters_are_named(params, param):
    with pytest.raises(ValueError, match=param):
        registry.resolve({"w": dict({"@schedules": "spacy-dice.LinearRamp.v1"}, **params)})


def test_weights_follow_thinc_generator_and_callable_schedules():
    """thinc 8 generator schedules (warmup_linear.v1) and thinc 9 style callables (``step=``)."""
    warm = registry.resolve({"w": {"@schedules": "warmup_linear.v1", "initial_rate": 2.0,
                                   "warmup_steps": 4, "total_steps": 12}})["w"]
    loss = ScheduledCombinedLoss(
        {"ce": CrossEntropy(), "dl": DiceLoss(), "dsc": DiceLoss(alpha=0.01)},
        {"ce": warm, "dl": lambda step: 0.1 * step, "dsc": 0.5},
    )
    expected_warm = [2.0 * t / 4 if t < 4 else 2.0 * max(0.0, (12 - t) / 8) for t in range(20)]
    for step in [0, 1, 3, 4, 9, 19, 2, 0]:  # also backwards: a generator's values are kept
        loss.set_step(step)
        assert loss.step == step
        assert loss.weights == pytest.approx({"ce": expected_warm[step], "dl": 0.1 * step, "dsc": 0.5})
        assert loss.weights_at(step + 1)["dl"] == pytest.approx(0.1 * (step + 1))
        assert loss.step == step  # weights_at does not move the step


def test_resuming_at_a_step_equals_stepping_there():
    def build():
        return ScheduledCombinedLoss(
            {"ce": CrossEntropy(), "dsc": DiceLoss(alpha=0.01)},
            {"ce": linear_ramp_v1(1.0, 0.2, 10, 50), "dsc": linear_ramp_v1(0.0, 2.0, 10, 50)},
        )

    walked, resumed = build(), build()
    for step in range(37):
        walked.set_step(step)
    resumed.set_step(36)
    Z, gold = inputs()
    g1, v1 = walked(activate_np(Z, "softmax"), gold)
    g2, v2 = resumed(activate_np(Z, "softmax"), gold)
    assert v1 == v2
    numpy.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("step", [0, 12, 40])
def test_equals_combined_loss_with_the_weights_of_the_step_and_the_reference(step):
    loss = ScheduledCombinedLoss(
        {"ce": CrossEntropy(), "dsc": DiceLoss(alpha=0.01)},
        {"ce": linear_ramp_v1(1.0, 0.2, 10, 30), "dsc": linear_ramp_v1(0.0, 2.0, 10, 30)},
    )
    loss.set_step(step)
    weights = {"ce": ramp_value(1.0, 0.2, 10, 30, step), "dsc": ramp_value(0.0, 2.0, 10, 30, step)}
    plain = CombinedLoss({"ce": CrossEntropy(), "dsc": DiceLoss(alpha=0.01)}, weights)
    Z, gold = inputs(step)
    P = activate_np(Z, "softmax")
    g, v = loss(P, gold)
    g_plain, v_plain = plain(P, gold)
    assert v == pytest.approx(v_plain, rel=1e-12)
    numpy.testing.assert_allclose(g, g_plain, rtol=1e-12, atol=1e-15)
    spec = ("combined", {"parts": [(weights["ce"], ("ce", {})),
                                   (weights["dsc"], ("dice", {"alpha": 0.01}))]})
    ref_value, ref_grad = reference(spec, Z, gold)
    assert v == pytest.approx(ref_value, rel=1e-7)
    numpy.testing.assert_allclose(g, ref_grad, rtol=1e-7, atol=1e-9)
    assert loss.get_loss(P, gold) == pytest.approx(v, rel=1e-12)


class Exploding(DiceLoss):
    """A sub-loss that must not be computed."""

    def _compute(self, batch, with_grad):
        raise AssertionError("a zero-weight sub-loss was computed")


def test_zero_weight_sub_loss_is_not_computed_and_all_zero_weights_give_zero_gradient():
    loss = ScheduledCombinedLoss({"ce": CrossEntropy(), "dsc": Exploding()},
                                 {"dsc": linear_ramp_v1(0.0, 1.0, 5, 6)})
    Z, gold = inputs()
    P = activate_np(Z, "softmax")
    g, v = loss(P, gold)
    expected_g, expected_v = CrossEntropy()(P, gold)
    assert v == expected_v
    numpy.testing.assert_array_equal(g, expected_g)
    loss.get_loss(P, gold)
    loss.set_step(6)
    with pytest.raises(AssertionError, match="zero-weight"):
        loss(P, gold)
    zero = ScheduledCombinedLoss({"ce": CrossEntropy(), "dsc": DiceLoss()},
                                 {"ce": 0.0, "dsc": linear_ramp_v1(0.0, 1.0, 5, 6)})
    g, v = zero(P, gold)
    assert v == 0.0 and g.shape == P.shape and not g.any()


def test_set_step_reaches_nested_scheduled_losses():
    inner = ScheduledCombinedLoss({"dsc": DiceLoss(alpha=0.01)}, {"dsc": lambda step: float(step)})
    outer = ScheduledCombinedLoss({"ce": CrossEntropy(), "inner": inner}, {"inner": 0.5})
    outer.set_step(3)
    assert inner.step == 3 and inner.weights == {"dsc": 3.0}


def test_combined_loss_v1_is_unchanged_and_has_no_step():
    loss = registry.resolve({"loss": {"@losses": "spacy-dice.CombinedLoss.v1",
                                      "losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}}}})
    assert type(loss["loss"]) is CombinedLoss
    assert not hasattr(loss["loss"], "set_step")


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_bad_step_is_refused(bad):
    loss = ScheduledCombinedLoss({"ce": CrossEntropy()})
    with pytest.raises(ValueError, match=r"step=.*integer >= 0"):
        loss.set_step(bad)


@pytest.mark.parametrize(
    "schedule,step,message",
    [
        (linear_ramp_v1(0.0, -1.0, 0, 4), 3, r"weights\['dsc'\].*-0.25 at step 1"),
        (lambda step: float("nan") if step == 2 else 1.0, 2, r"weights\['dsc'\].*nan at step 2"),
        (lambda step: "high" if step == 1 else 1.0, 1, r"weights\['dsc'\].*'high' at step 1"),
        (iter([1.0, 0.5]), 2, r"weights\['dsc'\].*ended after 2 steps.*step 2"),
    ],
)
def test_bad_schedule_values_name_the_sub_loss_and_the_step(schedule, step, message):
    loss = ScheduledCombinedLoss({"ce": CrossEntropy(), "dsc": DiceLoss()}, {"dsc": schedule})
    with pytest.raises(ValueError, match=message):
        loss.set_step(step)


@pytest.mark.parametrize("weight", [[1.0, 0.5], "0.5", None, True])
def test_weight_that_is_neither_number_nor_schedule_is_refused(weight):
    with pytest.raises(ValueError, match=r"weights\['ce'\].*number >= 0 or a schedule"):
        ScheduledCombinedLoss({"ce": CrossEntropy()}, {"ce": weight})


def test_negative_start_fails_when_built():
    block = {"@losses": "spacy-dice.ScheduledCombinedLoss.v1",
             "losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}},
             "weights": {"ce": {"@schedules": "spacy-dice.LinearRamp.v1", "start": -1.0,
                                "stop": 1.0, "begin_step": 0, "end_step": 5}}}
    with pytest.raises(ValueError, match=r"ScheduledCombinedLoss.*weights\['ce'\].*-1.0 at step 0"):
        registry.resolve({"loss": block})


def _scheduled_ner_config():
    import textwrap

    from spacy_dice.losses import scheduled

    block = scheduled.__doc__.split("::", 1)[1]
    config = Config().from_str("[components]\n\n[components.ner]\n\n" + textwrap.dedent(block).strip())
    return config["components"]["ner"]["loss"]


def test_component_advances_the_step_and_resumes_it_after_saving(tmp_path):
    """dice_ner keeps its loss at its update count (set_step(update_step) at load and after each
    optimizer step): the weights of the docstring config (CE only until step 200) are those of
    the component's update count, and a reloaded component continues the schedule."""
    nlp = spacy.blank("en")
    loss_cfg = _scheduled_ner_config()
    for block in loss_cfg["weights"].values():  # a short ramp: steps 1..3
        block.update(begin_step=1, end_step=3)
    ner = nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL, "loss": loss_cfg})
    examples = ner_examples(nlp, n_docs=12)
    optimizer = nlp.initialize(lambda: examples)
    # the weights at steps 0..4; update k is computed at step k
    expected = [{"ce": 1.0, "dsc": 0.0}, {"ce": 1.0, "dsc": 0.0}, {"ce": 0.625, "dsc": 2.0},
                {"ce": 0.25, "dsc": 4.0}, {"ce": 0.25, "dsc": 4.0}]
    for update in range(4):
        assert ner.loss.step == update
        assert ner.loss.weights == pytest.approx(expected[update])
        nlp.update(examples, sgd=optimizer)
        # once the update is counted, the loss is at the step of the next one
        assert ner.loss.step == update + 1
        assert ner.loss.weights == pytest.approx(expected[update + 1])
    assert ner.cfg["update_step"] == 4
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model")
    ner2 = reloaded.get_pipe("dice_ner")
    assert ner2.cfg["update_step"] == 4
    assert ner2.loss.step == 4  # set when the component is loaded, before any update
    assert ner2.loss.weights == pytest.approx({"ce": 0.25, "dsc": 4.0})
    reloaded.update(examples, sgd=reloaded.resume_training())
    assert ner2.loss.step == 5
    assert ner2.cfg["update_step"] == 5
