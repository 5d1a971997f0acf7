"""Named loss presets and config rewrites for experiments.

``with_loss(config, "ner", "dsc")`` returns a copy of a training config whose
``[components.ner.loss]`` block is replaced by the ``dsc`` preset;
``spacy_baseline(config, "ner")`` swaps our component for spaCy's own one on the same
tok2vec, data, steps and seed.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional

from thinc.api import Config

CE = "spacy-dice.CrossEntropy.v1"
FOCAL = "spacy-dice.FocalLoss.v1"
DICE = "spacy-dice.DiceLoss.v1"
TVERSKY = "spacy-dice.TverskyLoss.v1"
COMBINED = "spacy-dice.CombinedLoss.v1"
SCHEDULED = "spacy-dice.ScheduledCombinedLoss.v1"
LOG_DICE = "spacy-dice.LogDiceLoss.v1"
RAMP = "spacy-dice.LinearRamp.v1"

LOSS_PRESETS: Dict[str, Dict[str, Any]] = {
    # plain cross entropy: the reference every other row is compared with
    "ce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0},
    # weighted CE. "inverse_sqrt_frequency" rather than "inverse_frequency": with 94% "O"
    # tokens (UNER) the plain inverse frequency gives the rare BILUO tags weights ~100x that
    # of "O" and floods the output with false positives (see docs/BENCHMARKS.md).
    "wce": {"@losses": CE, "class_weights": "inverse_sqrt_frequency", "label_smoothing": 0.0},
    "focal": {"@losses": FOCAL, "gamma": 2.0, "class_weights": None},
    # the paper's dice loss (DL): no self-adjustment
    "dl": {
        "@losses": DICE, "smooth": 1.0, "alpha": 0.0, "square_denominator": True,
        "level": "instance", "class_reduction": "mean",
    },
    # the paper's self-adjusting dice loss (DSC): alpha 0.01, smooth 1, squared denominator
    "dsc": {
        "@losses": DICE, "smooth": 1.0, "alpha": 0.01, "square_denominator": True,
        "level": "instance", "class_reduction": "mean",
    },
    # Tversky index: alpha weighs false positives, beta false negatives (recall-leaning)
    "tversky": {
        "@losses": TVERSKY, "alpha": 0.3, "beta": 0.7, "smooth": 1.0,
        "level": "instance", "class_reduction": "mean",
    },
    # CE + DSC: CE for a fast start, DSC for the F1-like objective
    "combined": {
        "@losses": COMBINED,
        "losses": {
            "ce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0},
            "dsc": {
                "@losses": DICE, "smooth": 1.0, "alpha": 0.01, "square_denominator": True,
                "level": "instance", "class_reduction": "mean",
            },
        },
        "weights": {"ce": 1.0, "dsc": 1.0},
    },
    # -log of the set-level dice coefficient (docs/LOSSES.md): the gradient of a class does not
    # vanish with its probability
    "logdice": {
        "@losses": LOG_DICE, "smooth": 0.01, "alpha": 0.0, "square_denominator": True,
        "level": "set", "class_reduction": "mean",
    },
    # CE first, DSC later (docs/LOSSES.md): CE alone for the first 200 updates, then over 800
    # updates CE down to 0.25 and DSC up to 4 (DSC's mean over C classes makes its logit gradient
    # about C times smaller than CE's; a CE floor keeps every class reachable).
    "ce_then_dsc": {
        "@losses": SCHEDULED,
        "losses": {
            "ce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0},
            "dsc": {
                "@losses": DICE, "smooth": 1.0, "alpha": 0.01, "square_denominator": True,
                "level": "instance", "class_reduction": "mean",
            },
        },
        "weights": {
            "ce": {"@schedules": RAMP, "start": 1.0, "stop": 0.25, "begin_step": 200,
                   "end_step": 1000},
            "dsc": {"@schedules": RAMP, "start": 0.0, "stop": 4.0, "begin_step": 200,
                    "end_step": 1000},
        },
    },
}
"""Loss blocks by preset name (the value of a ``[components.X.loss]`` section)."""

_SIGMOID = {"activation": "sigmoid"}
_DSC_SET_SIGMOID = {
    "@losses": DICE, "smooth": 1.0, "alpha": 0.01, "square_denominator": True,
    "level": "set", "class_reduction": "mean", **_SIGMOID,
}
SPAN_LOSS_PRESETS: Dict[str, Dict[str, Any]] = {
    # sigmoid presets for dice_spancat / dice_span_finder: one 0/1 column per label (or per
    # start / end), candidates x columns
    "bce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0, **_SIGMOID},
    # weights per label column from the training span counts (N / (C count_c)); they do not
    # change the negative:positive ratio inside a column
    "wbce": {"@losses": CE, "class_weights": "inverse_frequency", "label_smoothing": 0.0, **_SIGMOID},
    "focal_sig": {"@losses": FOCAL, "gamma": 2.0, "class_weights": None, **_SIGMOID},
    "dl_inst": {
        "@losses": DICE, "smooth": 1.0, "alpha": 0.0, "square_denominator": True,
        "level": "instance", "class_reduction": "mean", **_SIGMOID,
    },
    "dsc_inst": {
        "@losses": DICE, "smooth": 1.0, "alpha": 0.01, "square_denominator": True,
        "level": "instance", "class_reduction": "mean", **_SIGMOID,
    },
    # set level: the whole batch's candidates as one set per label, as the authors train
    # MRC-NER's start / end / span matching
    "dl_set": {
        "@losses": DICE, "smooth": 1.0, "alpha": 0.0, "square_denominator": True,
        "level": "set", "class_reduction": "mean", **_SIGMOID,
    },
    "dsc_set": _DSC_SET_SIGMOID,
    "tversky_set": {
        "@losses": TVERSKY, "alpha": 0.3, "beta": 0.7, "smooth": 1.0,
        "level": "set", "class_reduction": "mean", **_SIGMOID,
    },
    # BCE + set-level DSC
    "bce_dsc": {
        "@losses": COMBINED,
        "losses": {
            "ce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0, **_SIGMOID},
            "dsc": dict(_DSC_SET_SIGMOID),
        },
        "weights": {"ce": 1.0, "dsc": 1.0},
    },
    # the token presets' remedies in sigmoid mode: -log set-level dice, and BCE first, set-level
    # DSC later (the ramp of "ce_then_dsc")
    "logdice_set": {**LOSS_PRESETS["logdice"], **_SIGMOID},
    "bce_then_dsc": {
        "@losses": SCHEDULED,
        "losses": {
            "ce": {"@losses": CE, "class_weights": None, "label_smoothing": 0.0, **_SIGMOID},
            "dsc": dict(_DSC_SET_SIGMOID),
        },
        "weights": copy.deepcopy(LOSS_PRESETS["ce_then_dsc"]["weights"]),
    },
}
"""Sigmoid-mode loss blocks for the span components (``with_loss`` finds them by name too)."""


def loss_block(loss: str, **params: Any) -> Dict[str, Any]:
    """A fresh copy of the preset ``loss`` with ``params`` overriding its keys.

    Raises:
        ValueError: unknown preset name (the message lists the allowed ones).
    """
    try:
        preset = LOSS_PRESETS[loss] if loss in LOSS_PRESETS else SPAN_LOSS_PRESETS[loss]
    except KeyError:
        raise ValueError(
            f"unknown loss preset {loss!r}: expected one of"
            f" {', '.join(list(LOSS_PRESETS) + list(SPAN_LOSS_PRESETS))}"
        ) from None
    block = copy.deepcopy(preset)
    for key, value in params.items():
        block[key] = copy.deepcopy(value)
    return block


def _component_section(config: Config, component: str) -> Dict[str, Any]:
    components = config.get("components", {})
    if component not in components:
        raise ValueError(
            f"no component {component!r} in the config: it has {', '.join(components) or 'none'}"
        )
    return components[component]


def with_loss(config: Config, component: str, loss: str, **params: Any) -> Config:
    """A copy of ``config`` whose ``[components.<component>.loss]`` block is the preset ``loss``.

    The block is replaced, not merged: keys of the old loss do not leak into the new one.
    ``params`` override the preset's keys (e.g. ``with_loss(cfg, "ner", "dsc", alpha=0.1)``).

    Raises:
        ValueError: unknown preset, or no such component in the config.
    """
    block = loss_block(loss, **params)
    new = Config(config).copy()
    section = _component_section(new, component)
    section["loss"] = block
    return new


def _listener(section: Dict[str, Any]) -> Dict[str, Any]:
    model = section.get("model", {})
    tok2vec = model.get("tok2vec")
    if tok2vec is None:
        raise ValueError("the component's model has no [model.tok2vec] block to share")
    return copy.deepcopy(tok2vec)


def spacy_baseline(config: Config, component: str) -> Config:
    """A copy of ``config`` where our component is replaced by spaCy's own equivalent.

    Same tok2vec (the listener block is kept), data, steps, optimizer and seed:

    * ``dice_ner`` -> ``ner`` (``spacy.TransitionBasedParser.v2``, spaCy's default sizes);
    * ``dice_tagger`` with ``attr = "tag"`` -> ``tagger`` (``spacy.Tagger.v2``; it predicts
      ``token.tag_`` only);
    * ``dice_tagger`` with ``attr = "pos"`` -> ``morphologizer`` (``spacy.Tagger.v2``): spaCy's
      component that predicts ``token.pos_`` (with no morphological features in the data its
      labels are the UPOS tags); scored by ``pos_acc``;
    * ``dice_textcat`` -> ``textcat`` with the same model block (``TextCatEnsemble``);
    * ``dice_spancat`` -> ``spancat``, ``dice_spancat_singlelabel`` -> ``spancat_singlelabel``,
      ``dice_span_finder`` -> ``span_finder``: see :func:`spacy_span_baseline`.

    Raises:
        ValueError: no such component, or a factory this function does not know.
    """
    new = Config(config).copy()
    section = _component_section(new, component)
    factory = section.get("factory")
    if factory in SPAN_BASELINES:
        return spacy_span_baseline(config, component)
    if factory not in ("dice_ner", "dice_tagger", "dice_textcat"):
        raise ValueError(
            f"component {component!r} has factory {factory!r}; spacy_baseline knows"
            " dice_ner, dice_tagger, dice_textcat, " + ", ".join(SPAN_BASELINES)
        )
    tok2vec = _listener(section)
    weights = new.setdefault("training", {}).setdefault("score_weights", {})
    if factory == "dice_ner":
        new["components"][component] = {
            "factory": "ner",
            "incorrect_spans_key": None,
            "moves": None,
            "scorer": {"@scorers": "spacy.ner_scorer.v1"},
            "update_with_oracle_cut_size": 100,
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": 64,
                "maxout_pieces": 2,
                "use_upper": True,
                "nO": None,
                "tok2vec": tok2vec,
            },
        }
    elif factory == "dice_tagger":
        attr = section.get("attr", "tag")
        model = {"@architectures": "spacy.Tagger.v2", "nO": None, "normalize": False,
                 "tok2vec": tok2vec}
        if attr == "pos":
            new["components"][component] = {
                "factory": "morphologizer",
                "extend": False,
                "overwrite": True,
                "scorer": {"@scorers": "spacy.morphologizer_scorer.v1"},
                "model": model,
            }
            for key in list(weights):
                weights[key] = None
            # None drops the morphologizer's default morph_acc / morph_per_feat weights
            weights.update(pos_acc=1.0, morph_acc=None, morph_per_feat=None, tag_acc=None)
        elif attr == "tag":
            new["components"][component] = {
                "factory": "tagger",
                "neg_prefix": "!",
                "overwrite": False,
                "scorer": {"@scorers": "spacy.tagger_scorer.v1"},
                "model": model,
            }
            for key in list(weights):
                weights[key] = None
            weights.update(tag_acc=1.0, pos_acc=None)
        else:
            raise ValueError(f"dice_tagger attr {attr!r}: expected 'pos' or 'tag'")
    elif factory == "dice_textcat":
        new["components"][component] = {
            "factory": "textcat",
            "threshold": 0.0,
            "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
            "model": copy.deepcopy(section["model"]),
        }
    return new


SPAN_BASELINES = {
    "dice_spancat": "spancat",
    "dice_spancat_singlelabel": "spancat_singlelabel",
    "dice_span_finder": "span_finder",
}
_SPACY_SCORER_LAYER = {"spancat": "spacy.LinearLogistic.v1", "span_finder": "spacy.LinearLogistic.v1",
                       "spancat_singlelabel": "Softmax.v2"}
_SPAN_SETTINGS = {
    "spancat": ("spans_key", "suggester", "threshold", "max_positive", "scorer"),
    "spancat_singlelabel": ("spans_key", "suggester", "allow_overlap", "scorer"),
    "span_finder": ("spans_key", "threshold", "max_length", "min_length", "scorer"),
}


def spacy_span_baseline(
    config: Config, component: str, factory: Optional[str] = None, loss: Optional[str] = None
) -> Config:
    """A copy of ``config`` with a span component swapped for spaCy's own (or another of ours).

    ``factory`` (default: spaCy's counterpart of the component's factory, :data:`SPAN_BASELINES`)
    may be ``spancat``, ``spancat_singlelabel``, ``span_finder`` or one of ours
    (``dice_spancat_singlelabel`` with ``loss``, a preset name). The model keeps its tok2vec
    (listener), reducer and sizes; only the output layer follows the factory: spaCy's
    ``spacy.LinearLogistic.v1`` for ``spancat`` / ``span_finder`` (what ``spacy init config``
    writes), ``Softmax.v2`` for the single-label ones. Suggester, ``spans_key``, thresholds and
    the scorer are kept where the target factory has them.

    Raises:
        ValueError: not a span component, or an unknown target factory.
    """
    new = Config(config).copy()
    section = _component_section(new, component)
    old = section.get("factory")
    if old not in SPAN_BASELINES:
        raise ValueError(
            f"component {component!r} has factory {old!r}; spacy_span_baseline knows "
            + ", ".join(SPAN_BASELINES)
        )
    target = factory or SPAN_BASELINES[old]
    spacy_target = target[len("dice_"):] if target.startswith("dice_") else target
    if spacy_target not in _SPAN_SETTINGS:
        raise ValueError(
            f"factory {target!r} is not a span factory; use one of {', '.join(_SPAN_SETTINGS)}"
            " or their dice_ versions"
        )
    model = copy.deepcopy(section["model"])
    model["scorer"] = {"@layers": _SPACY_SCORER_LAYER[spacy_target]}
    if spacy_target == "span_finder":
        model["scorer"]["nO"] = 2
    replaced: Dict[str, Any] = {"factory": target, "model": model}
    for key in _SPAN_SETTINGS[spacy_target]:
        if key in section:
            replaced[key] = copy.deepcopy(section[key])
    if target.startswith("dice_"):
        for key in ("grad_scale", "head_learn_rate_scale"):
            if key in section:
                replaced[key] = section[key]
        replaced["loss"] = loss_block(loss or "ce")
    new["components"][component] = replaced
    return new


def load_config(path: str) -> Config:
    """A training config from disk, *not* interpolated (so ``${paths.train}`` stays an override
    point and :func:`with_loss` edits the one loss block)."""
    return Config().from_disk(path, interpolate=False)
