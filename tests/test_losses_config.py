"""The registered loss names resolve from configs, also in an interpreter that never imported
spacy_dice (through the ``thinc_losses`` entry points), and bad parameters are reported by name."""
import json
import os
import subprocess
import sys
import textwrap

import numpy
import pytest
from spacy.util import registry
from thinc.api import Config

from spacy_dice.losses import CombinedLoss, CrossEntropy, DiceLoss, FocalLoss, TverskyLoss
from spacy_dice.losses import combined as combined_module
from torch_reference import LABEL_COUNTS, LABELS, activate_np, reference, resolve_weights

# name -> (parameters of the "with parameters" form, attributes they must set)
NAMES = {
    "spacy-dice.CrossEntropy.v1": (
        {"class_weights": "inverse_sqrt_frequency", "label_smoothing": 0.1, "activation": "sigmoid"},
        {"label_smoothing": 0.1, "activation": "sigmoid", "class_weights_spec": "inverse_sqrt_frequency"},
    ),
    "spacy-dice.FocalLoss.v1": (
        {"gamma": 3.0, "class_weights": {"B-PER": 2.0}},
        {"gamma": 3.0, "class_weights_spec": {"B-PER": 2.0}, "activation": "softmax"},
    ),
    "spacy-dice.DiceLoss.v1": (
        {"smooth": 0.5, "alpha": 0.01, "square_denominator": False, "level": "set",
         "class_reduction": "sum", "activation": "sigmoid"},
        {"smooth": 0.5, "alpha": 0.01, "square_denominator": False, "level": "set",
         "class_reduction": "sum", "activation": "sigmoid"},
    ),
    "spacy-dice.LogDiceLoss.v1": (
        {"smooth": 0.5, "alpha": 0.01, "square_denominator": False, "level": "instance",
         "class_reduction": "sum", "activation": "sigmoid"},
        {"smooth": 0.5, "alpha": 0.01, "square_denominator": False, "level": "instance",
         "class_reduction": "sum", "activation": "sigmoid"},
    ),
    "spacy-dice.TverskyLoss.v1": (
        {"alpha": 0.3, "beta": 0.7, "smooth": 0.0, "level": "set", "class_reduction": "sum"},
        {"alpha": 0.3, "beta": 0.7, "smooth": 0.0, "level": "set", "class_reduction": "sum"},
    ),
    "spacy-dice.CombinedLoss.v1": (
        {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"},
                    "tl": {"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.2}},
         "weights": {"ce": 0.25}},
        {"weights": {"ce": 0.25, "tl": 1.0}},
    ),
    "spacy-dice.ScheduledCombinedLoss.v1": (
        {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"},
                    "tl": {"@losses": "spacy-dice.TverskyLoss.v1", "alpha": 0.2}},
         "weights": {"ce": 0.25,
                     "tl": {"@schedules": "spacy-dice.LinearRamp.v1", "start": 0.5, "stop": 2.0,
                            "begin_step": 0, "end_step": 10}}},
        {"weights": {"ce": 0.25, "tl": 0.5}, "step": 0},
    ),
}
DEFAULTS = {
    "spacy-dice.CrossEntropy.v1": {"label_smoothing": 0.0, "activation": "softmax", "class_weights_spec": None, "gamma": 0.0},
    "spacy-dice.FocalLoss.v1": {"gamma": 2.0, "activation": "softmax", "class_weights_spec": None},
    "spacy-dice.DiceLoss.v1": {"smooth": 1.0, "alpha": 0.0, "square_denominator": True, "level": "instance",
                               "class_reduction": "mean", "activation": "softmax"},
    "spacy-dice.LogDiceLoss.v1": {"smooth": 0.01, "alpha": 0.0, "square_denominator": True, "level": "set",
                                  "class_reduction": "mean", "activation": "softmax"},
    "spacy-dice.TverskyLoss.v1": {"alpha": 0.5, "beta": 0.5, "smooth": 1.0, "level": "instance",
                                  "class_reduction": "mean", "activation": "softmax"},
    # CombinedLoss has a required argument: its "without parameters" form names one default sub-loss
    "spacy-dice.CombinedLoss.v1": {"weights": {"dice": 1.0}},
    "spacy-dice.ScheduledCombinedLoss.v1": {"weights": {"dice": 1.0}, "step": 0},
}
CLASSES = {
    "spacy-dice.CrossEntropy.v1": "CrossEntropy",
    "spacy-dice.FocalLoss.v1": "FocalLoss",
    "spacy-dice.DiceLoss.v1": "DiceLoss",
    "spacy-dice.LogDiceLoss.v1": "LogDiceLoss",
    "spacy-dice.TverskyLoss.v1": "TverskyLoss",
    "spacy-dice.CombinedLoss.v1": "CombinedLoss",
    "spacy-dice.ScheduledCombinedLoss.v1": "ScheduledCombinedLoss",
}

FRESH_SCRIPT = textwrap.dedent(
    """
    import catalogue, json, sys
    from spacy.util import registry

    def forget_spacy_dice():
        # as in a fresh interpreter: no spacy_dice module and no spacy-dice name registered, so
        # the next name can only be found through the entry points
        for module in [m for m in sys.modules if m.split(".")[0] == "spacy_dice"]:
            del sys.modules[module]
        for key in [k for k in catalogue.REGISTRY if k[-1].startswith("spacy-dice.")]:
            del catalogue.REGISTRY[key]

    results = {}
    for name, params in json.loads(sys.argv[1]).items():
        forget_spacy_dice()
        before = sorted(m for m in sys.modules if m.split(".")[0] == "spacy_dice")
        default = {"@losses": name}
        if name in ("spacy-dice.CombinedLoss.v1", "spacy-dice.ScheduledCombinedLoss.v1"):
            default["losses"] = {"dice": {"@losses": "spacy-dice.DiceLoss.v1"}}
        out = {"before": before}
        for key, block in (("default", default), ("params", dict({"@losses": name}, **params))):
            loss = registry.resolve({"loss": block})["loss"]
            attrs = {}
            for attr in ("smooth", "alpha", "beta", "gamma", "square_denominator", "level",
                         "class_reduction", "activation", "label_smoothing", "class_weights_spec",
                         "weights", "step"):
                if hasattr(loss, attr):
                    attrs[attr] = getattr(loss, attr)
            if hasattr(loss, "losses"):
                attrs["sub"] = {k: type(v).__name__ for k, v in loss.losses.items()}
            out[key] = {"type": type(loss).__name__, "module": type(loss).__module__, "attrs": attrs}
        results[name] = out
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def fresh_results():
    """Every name resolved in one fresh interpreter that never imports spacy_dice itself; before
    each name the interpreter forgets every spacy_dice module and registered spacy-dice name, so
    each is found through the entry points alone (one interpreter instead of one per name)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_SCRIPT, json.dumps({name: NAMES[name][0] for name in NAMES})],
        capture_output=True, text=True, timeout=300, env=env, cwd=os.path.dirname(__file__),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NAMES))
def test_resolves_in_fresh_interpreter_without_importing_spacy_dice(fresh_results, name):
    out = fresh_results[name]
    assert out["before"] == [], f"spacy_dice was imported before resolving: {out['before']}"
    for key in ("default", "params"):
        assert out[key]["type"] == CLASSES[name]
        assert out[key]["module"].startswith("spacy_dice.losses")
    for attr, value in DEFAULTS[name].items():
        assert out["default"]["attrs"].get(attr) == value, (attr, out["default"]["attrs"])
    for attr, value in NAMES[name][1].items():
        assert out["params"]["attrs"].get(attr) == value, (attr, out["params"]["attrs"])
    if name in ("spacy-dice.CombinedLoss.v1", "spacy-dice.ScheduledCombinedLoss.v1"):
        assert out["default"]["attrs"]["sub"] == {"dice": "DiceLoss"}
        assert out["params"]["attrs"]["sub"] == {"ce": "CrossEntropy", "tl": "TverskyLoss"}


def test_entry_points_point_at_the_loss_classes():
    """Each name is registered once, as its class (no second copy of the signature): the entry point,
    the registry and the class are one object, defined in the class's own module."""
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group="thinc_losses") if ep.name.startswith("spacy-dice.")}
    assert set(found) == set(NAMES)
    for name, ep in found.items():
        cls = ep.load()
        assert cls is registry.losses.get(name)
        assert isinstance(cls, type) and cls.__name__ == CLASSES[name]
        assert ep.module == cls.__module__ and ep.attr == cls.__name__


@pytest.mark.parametrize("name", list(NAMES))
def test_resolves_in_process(name):
    params = NAMES[name][0]
    loss = registry.resolve({"loss": dict({"@losses": name}, **params)})["loss"]
    assert type(loss).__name__ == CLASSES[name]


# ----------------------------------------------------------------------------------------------
# CombinedLoss, config form of its docstring
# ----------------------------------------------------------------------------------------------
def docstring_config():
    block = textwrap.dedent(combined_module.__doc__.split("::", 1)[1]).strip()
    # a full spaCy config defines the parent sections; the docstring shows the loss's part
    return "[components]\n\n[components.ner]\n\n" + block + "\n"


def test_combined_loss_docstring_config_resolves_and_computes():
    config = Config().from_str(docstring_config())
    loss = registry.resolve(config)["components"]["ner"]["loss"]
    assert isinstance(loss, CombinedLoss)
    assert {k: type(v) for k, v in loss.losses.items()} == {"ce": CrossEntropy, "dsc": DiceLoss}
    assert loss.weights == {"ce": 0.5, "dsc": 1.0}
    assert loss.losses["dsc"].alpha == 0.01
    rng = numpy.random.default_rng(0)
    Zs = [rng.normal(size=(k, 4)) for k in (3, 1, 5)]
    golds = [rng.integers(-1, 4, size=k) for k in (3, 1, 5)]
    grads, value = loss([activate_np(z, "softmax") for z in Zs], golds)
    spec = ("combined", {"parts": [(0.5, ("ce", {})), (1.0, ("dice", {"alpha": 0.01}))]})
    expected_value, expected_grads = reference(spec, Zs, golds)
    assert value == pytest.approx(expected_value, rel=1e-7, abs=1e-7)
    for g, e in zip(grads, expected_grads):
        numpy.testing.assert_allclose(g, e, rtol=1e-7, atol=1e-7)


def test_combined_config_with_weighted_sub_losses_and_initialize():
    text = """
[loss]
@losses = "spacy-dice.CombinedLoss.v1"

[loss.losses]

[loss.losses.wce]
@losses = "spacy-dice.CrossEntropy.v1"
class_weights = "inverse_frequency"

[loss.losses.focal]
@losses = "spacy-dice.FocalLoss.v1"
gamma = 1.0
class_weights = {"B-PER": 3.0}

[loss.losses.tl]
@losses = "spacy-dice.TverskyLoss.v1"
alpha = 0.3
beta = 0.7
level = "set"

[loss.weights]
wce = 0.2
tl = 2.0
"""
    loss = registry.resolve(Config().from_str(text))["loss"]
    assert loss.weights == {"wce": 0.2, "focal": 1.0, "tl": 2.0}
    loss.initialize(list(LABELS), LABEL_COUNTS)
    assert loss.losses["wce"].class_weights == pytest.approx(
        resolve_weights("inverse_frequency", LABELS, LABEL_COUNTS))
    assert loss.losses["focal"].class_weights == [1.0, 3.0, 1.0, 1.0]
    rng = numpy.random.default_rng(1)
    Z = rng.normal(size=(8, 4))
    gold = rng.integers(-1, 4, size=8)
    grads, value = loss(activate_np(Z, "softmax"), gold)
    spec = ("combined", {"parts": [
        (0.2, ("ce", {"class_weights": resolve_weights("inverse_frequency", LABELS, LABEL_COUNTS)})),
        (1.0, ("focal", {"gamma": 1.0, "class_weights": [1.0, 3.0, 1.0, 1.0]})),
        (2.0, ("tversky", {"alpha": 0.3, "beta": 0.7, "level": "set"})),
    ]})
    expected_value, expected_grad = reference(spec, Z, gold)
    assert value == pytest.approx(expected_value, rel=1e-7)
    numpy.testing.assert_allclose(grads, expected_grad, rtol=1e-7, atol=1e-7)


# ----------------------------------------------------------------------------------------------
# bad parameters are reported with the parameter's name (and value)
# ----------------------------------------------------------------------------------------------
BAD = [
    ("spacy-dice.DiceLoss.v1", {"smooth": -1.0}, "smooth", "-1"),
    ("spacy-dice.DiceLoss.v1", {"alpha": -0.01}, "alpha", "-0.01"),
    ("spacy-dice.DiceLoss.v1", {"level": "token"}, "level", "token"),
    ("spacy-dice.DiceLoss.v1", {"class_reduction": "max"}, "class_reduction", "max"),
    ("spacy-dice.DiceLoss.v1", {"activation": "relu"}, "activation", "relu"),
    ("spacy-dice.DiceLoss.v1", {"square_denominator": "yes"}, "square_denominator", "yes"),
    ("spacy-dice.LogDiceLoss.v1", {"smooth": 0.0}, "smooth", "0"),
    ("spacy-dice.LogDiceLoss.v1", {"smooth": -0.1}, "smooth", "-0.1"),
    ("spacy-dice.LogDiceLoss.v1", {"level": "token"}, "level", "token"),
    ("spacy-dice.LogDiceLoss.v1", {"alpha": -1.0}, "alpha", "-1"),
    ("spacy-dice.TverskyLoss.v1", {"alpha": -0.5}, "alpha", "-0.5"),
    ("spacy-dice.TverskyLoss.v1", {"beta": -2.0}, "beta", "-2"),
    ("spacy-dice.TverskyLoss.v1", {"smooth": -1e-3}, "smooth", "-0.001"),
    ("spacy-dice.TverskyLoss.v1", {"alpha": 0.0, "beta": 0.0, "smooth": 0.0}, "smooth", "0"),
    ("spacy-dice.TverskyLoss.v1", {"level": "batch"}, "level", "batch"),
    ("spacy-dice.TverskyLoss.v1", {"class_reduction": "none"}, "class_reduction", "none"),
    ("spacy-dice.TverskyLoss.v1", {"activation": "softmax2"}, "activation", "softmax2"),
    ("spacy-dice.FocalLoss.v1", {"gamma": -1.0}, "gamma", "-1"),
    ("spacy-dice.FocalLoss.v1", {"class_weights": [1.0, 0.0]}, "class_weights", "0"),
    ("spacy-dice.FocalLoss.v1", {"class_weights": {"B-PER": -2.0}}, "class_weights", "-2"),
    ("spacy-dice.FocalLoss.v1", {"class_weights": "balanced"}, "class_weights", "balanced"),
    ("spacy-dice.FocalLoss.v1", {"activation": "tanh"}, "activation", "tanh"),
    ("spacy-dice.CrossEntropy.v1", {"label_smoothing": 1.0}, "label_smoothing", "1"),
    ("spacy-dice.CrossEntropy.v1", {"label_smoothing": 1.5}, "label_smoothing", "1.5"),
    ("spacy-dice.CrossEntropy.v1", {"label_smoothing": -0.1}, "label_smoothing", "-0.1"),
    ("spacy-dice.CrossEntropy.v1", {"class_weights": [2.0, -1.0]}, "class_weights", "-1"),
    ("spacy-dice.CrossEntropy.v1", {"activation": "Softmax"}, "activation", "Softmax"),
    ("spacy-dice.CombinedLoss.v1",
     {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}}, "weights": {"dice": 1.0}},
     "weights", "dice"),
    ("spacy-dice.CombinedLoss.v1",
     {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}}, "weights": {"ce": -1.0}},
     "weights", "-1"),
    ("spacy-dice.CombinedLoss.v1", {"losses": {}}, "losses", "empty"),
    ("spacy-dice.CombinedLoss.v1",
     {"losses": {"a": {"@losses": "spacy-dice.CrossEntropy.v1"},
                 "b": {"@losses": "spacy-dice.DiceLoss.v1", "activation": "sigmoid"}}},
     "activation", "sigmoid"),
    ("spacy-dice.ScheduledCombinedLoss.v1",
     {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}}, "weights": {"dice": 1.0}},
     "weights", "dice"),
    ("spacy-dice.ScheduledCombinedLoss.v1",
     {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}}, "weights": {"ce": -2.0}},
     "weights", "-2"),
    ("spacy-dice.ScheduledCombinedLoss.v1",
     {"losses": {"ce": {"@losses": "spacy-dice.CrossEntropy.v1"}},
      "weights": {"ce": {"@schedules": "spacy-dice.LinearRamp.v1", "start": -3.0, "stop": 1.0,
                         "begin_step": 0, "end_step": 4}}},
     "weights['ce']", "-3.0 at step 0"),
    ("spacy-dice.ScheduledCombinedLoss.v1", {"losses": {}}, "losses", "empty"),
]


@pytest.mark.parametrize(
    "name,params,param,value", BAD,
    ids=[f"{n.split('.')[1]}-{'-'.join(map(str, p))}" for n, p, _, _ in BAD],
)
def test_bad_parameter_is_named(name, params, param, value):
    with pytest.raises(ValueError) as err:  # ConfigValidationError is a ValueError too
        registry.resolve({"loss": dict({"@losses": name}, **params)})
    message = str(err.value)
    assert param in message, message
    assert value in message, message


@pytest.mark.parametrize(
    "cls,kwargs,param",
    [
        (DiceLoss, {"smooth": float("nan")}, "smooth"),
        (DiceLoss, {"alpha": float("inf")}, "alpha"),
        (TverskyLoss, {"beta": "x"}, "beta"),
        (FocalLoss, {"gamma": None}, "gamma"),
        (CrossEntropy, {"class_weights": [1.0, float("nan")]}, "class_weights"),
        (CrossEntropy, {"class_weights": []}, "class_weights"),
    ],
)
def test_bad_parameter_is_named_direct(cls, kwargs, param):
    with pytest.raises(ValueError, match=param):
        cls(**kwargs)


def test_unknown_label_in_weights_is_named_at_initialize():
    loss = registry.resolve({"loss": {"@losses": "spacy-dice.CrossEntropy.v1",
                                      "class_weights": {"B-ORG": 2.0}}})["loss"]
    with pytest.raises(ValueError, match="B-ORG"):
        loss.initialize(list(LABELS), LABEL_COUNTS)
