"""The loss presets: one table, read by every command that takes a loss by name.

A preset name means one loss for a softmax component (one distribution over exclusive classes
per row: ``dice_ner``, ``dice_tagger``, ``dice_textcat``, ``dice_spancat_singlelabel``) and one
for a sigmoid component (independent 0/1 columns: ``dice_spancat``, ``dice_span_finder``), the
same in ``init-config``, ``project-config``, ``compare``, ``sweep``, ``with_loss``, the shipped
defaults and the benchmarks. ``loss_block("dsc", activation="sigmoid")`` is the block of a
``[components.NAME.loss]`` section.

For sigmoid components ``dl``, ``dsc``, ``tversky`` and ``logdice`` are **set level**: each
label column's candidates of the whole batch form one set, the form the paper uses for binary
decisions (its MRC-NER start / end / span matching); an instance-level dice over one 0/1 column
per row scores each candidate alone. ``combined`` and ``ce_then_dsc`` pair binary cross-entropy
with set-level DSC there. For softmax components the dice names are instance level (per token /
text, as the paper's tagging and classification experiments).

The second group of names spells out a form: ``bce``, ``wbce``, ``focal_sig``, ``bce_dsc`` and
``bce_then_dsc`` are binary (sigmoid only; their softmax counterparts are ``ce``, ``wce``,
``focal``, ``combined``, ``ce_then_dsc``), while ``dl_inst``, ``dsc_inst``, ``dl_set``,
``dsc_set``, ``tversky_set`` and ``logdice_set`` fix the level and take either activation. They
are the row names of the recorded span benchmarks (``benchmarks/results/``), and ``dsc_set`` /
``tversky_set`` also name recorded softmax runs of ``dice_ner`` and ``dice_textcat``.

This module knows no spaCy component: which activation a component uses is read from its
factory by :mod:`spacy_dice.training.config_rewrites`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .base import ACTIVATIONS

CE = "spacy-dice.CrossEntropy.v1"
FOCAL = "spacy-dice.FocalLoss.v1"
DICE = "spacy-dice.DiceLoss.v1"
TVERSKY = "spacy-dice.TverskyLoss.v1"
COMBINED = "spacy-dice.CombinedLoss.v1"
SCHEDULED = "spacy-dice.ScheduledCombinedLoss.v1"
LOG_DICE = "spacy-dice.LogDiceLoss.v1"
RAMP = "spacy-dice.LinearRamp.v1"

LossBlock = Dict[str, Any]
_COMPONENTS = {
    "softmax": "dice_ner, dice_tagger, dice_textcat, dice_spancat_singlelabel",
    "sigmoid": "dice_spancat, dice_span_finder",
}


@dataclass(frozen=True)
class LossPreset:
    """One preset name's loss blocks.

    Attributes:
        softmax: the block for a softmax component, or ``None`` where the name has no softmax
            meaning (``bce`` and the other binary names).
        sigmoid: the block for a sigmoid component.
        general: ``True`` for the names that take the component's form (``ce``, ``dsc``, ...);
            ``False`` for the names that spell one out (``bce``, ``dsc_set``, ...).
    """

    softmax: Optional[LossBlock]
    sigmoid: Optional[LossBlock]
    general: bool = True

    def block(self, activation: str) -> Optional[LossBlock]:
        """The stored block for ``activation`` (not a copy; use :func:`loss_block`)."""
        return self.softmax if activation == "softmax" else self.sigmoid


def _ce(class_weights: Optional[str] = None) -> LossBlock:
    return {"@losses": CE, "class_weights": class_weights, "label_smoothing": 0.0}


def _focal() -> LossBlock:
    return {"@losses": FOCAL, "gamma": 2.0, "class_weights": None}


def _dice(alpha: float, level: str) -> LossBlock:
    # the paper's settings: smooth 1, squared denominator; alpha 0 is DL, 0.01 DSC
    return {
        "@losses": DICE, "smooth": 1.0, "alpha": alpha, "square_denominator": True,
        "level": level, "class_reduction": "mean",
    }


def _tversky(level: str) -> LossBlock:
    # alpha weighs false positives, beta false negatives (recall-leaning)
    return {
        "@losses": TVERSKY, "alpha": 0.3, "beta": 0.7, "smooth": 1.0,
        "level": level, "class_reduction": "mean",
    }


def _log_dice() -> LossBlock:
    # -log of the set-level dice coefficient (docs/LOSSES.md): the gradient of a class does not
    # vanish with its probability
    return {
        "@losses": LOG_DICE, "smooth": 0.01, "alpha": 0.0, "square_denominator": True,
        "level": "set", "class_reduction": "mean",
    }


def _combined(ce: LossBlock, dsc: LossBlock) -> LossBlock:
    # CE for a fast start, DSC for the F1-like objective
    return {"@losses": COMBINED, "losses": {"ce": ce, "dsc": dsc}, "weights": {"ce": 1.0, "dsc": 1.0}}


def _ce_then_dsc(ce: LossBlock, dsc: LossBlock) -> LossBlock:
    # CE alone for the first 200 updates, then over 800 updates CE down to 0.25 and DSC up to 4
    # (DSC's mean over C classes makes its logit gradient about C times smaller than CE's; a CE
    # floor keeps every class reachable). docs/LOSSES.md
    return {
        "@losses": SCHEDULED,
        "losses": {"ce": ce, "dsc": dsc},
        "weights": {
            "ce": {"@schedules": RAMP, "start": 1.0, "stop": 0.25, "begin_step": 200,
                   "end_step": 1000},
            "dsc": {"@schedules": RAMP, "start": 0.0, "stop": 4.0, "begin_step": 200,
                    "end_step": 1000},
        },
    }


def _sigmoid(block: LossBlock) -> LossBlock:
    """``block`` with ``activation = "sigmoid"`` on every single loss (combinations carry none)."""
    block = copy.deepcopy(block)
    if isinstance(block.get("losses"), dict):
        block["losses"] = {key: _sigmoid(sub) for key, sub in block["losses"].items()}
    else:
        block["activation"] = "sigmoid"
    return block


def _both(softmax: LossBlock) -> LossPreset:
    """A name that fixes the loss and its level: the same block on either activation."""
    return LossPreset(softmax, _sigmoid(softmax), general=False)


def _binary(general: LossPreset) -> LossPreset:
    """A binary name: the sigmoid form of ``general`` and no softmax form."""
    return LossPreset(None, general.sigmoid, general=False)


_DL_INST = _both(_dice(0.0, "instance"))
_DSC_INST = _both(_dice(0.01, "instance"))
_DL_SET = _both(_dice(0.0, "set"))
_DSC_SET = _both(_dice(0.01, "set"))
_TVERSKY_SET = _both(_tversky("set"))
_LOGDICE = _both(_log_dice())

_GENERAL: Dict[str, LossPreset] = {
    # plain cross entropy: the reference every other row is compared with; sigmoid: BCE
    "ce": LossPreset(_ce(), _sigmoid(_ce())),
    # weighted CE. Softmax: "inverse_sqrt_frequency" rather than "inverse_frequency": with 94% "O"
    # tokens (UNER) the plain inverse frequency gives the rare BILUO tags weights ~100x that of
    # "O" and floods the output with false positives (docs/BENCHMARKS.md). Sigmoid: weights per
    # label column from the training span counts (N / (C count_c)); they do not change the
    # negative:positive ratio inside a column.
    "wce": LossPreset(_ce("inverse_sqrt_frequency"), _sigmoid(_ce("inverse_frequency"))),
    "focal": LossPreset(_focal(), _sigmoid(_focal())),
    # the paper's dice loss (DL, no self-adjustment) and self-adjusting dice loss (DSC, alpha
    # 0.01): instance level on softmax rows, set level on sigmoid columns
    "dl": LossPreset(_DL_INST.softmax, _DL_SET.sigmoid),
    "dsc": LossPreset(_DSC_INST.softmax, _DSC_SET.sigmoid),
    "tversky": LossPreset(_tversky("instance"), _TVERSKY_SET.sigmoid),
    "combined": LossPreset(
        _combined(_ce(), _DSC_INST.softmax), _sigmoid(_combined(_ce(), _DSC_SET.softmax))
    ),
    "logdice": LossPreset(_LOGDICE.softmax, _LOGDICE.sigmoid),
    "ce_then_dsc": LossPreset(
        _ce_then_dsc(_ce(), _DSC_INST.softmax), _sigmoid(_ce_then_dsc(_ce(), _DSC_SET.softmax))
    ),
}

PRESETS: Dict[str, LossPreset] = {
    **_GENERAL,
    "bce": _binary(_GENERAL["ce"]),
    "wbce": _binary(_GENERAL["wce"]),
    "focal_sig": _binary(_GENERAL["focal"]),
    "dl_inst": _DL_INST,
    "dsc_inst": _DSC_INST,
    # set level: the whole batch's candidates as one set per label, as the authors train
    # MRC-NER's start / end / span matching
    "dl_set": _DL_SET,
    "dsc_set": _DSC_SET,
    "tversky_set": _TVERSKY_SET,
    "bce_dsc": _binary(_GENERAL["combined"]),
    "logdice_set": _LOGDICE,
    "bce_then_dsc": _binary(_GENERAL["ce_then_dsc"]),
}
"""Every loss preset by name (module docstring). Read it through :func:`loss_block`."""


def preset_names(activation: Optional[str] = None, *, general: Optional[bool] = None) -> Tuple[str, ...]:
    """The preset names, in table order: all of them, or those with a form for ``activation``
    and/or in the ``general`` group."""
    return tuple(
        name for name, preset in PRESETS.items()
        if (activation is None or preset.block(activation) is not None)
        and (general is None or preset.general == general)
    )


def block_activation(block: LossBlock) -> str:
    """The activation a loss block trains on: its ``activation`` key, a combination's sub-losses'
    (the first that sets one), else ``"softmax"`` (every loss's default)."""
    if "activation" in block:
        return str(block["activation"])
    for sub in (block.get("losses") or {}).values():
        if isinstance(sub, dict) and "activation" in sub:
            return str(sub["activation"])
    return "softmax"


def _counterpart(name: str, activation: str) -> Optional[str]:
    """The general name whose other form is ``name``'s: ``bce`` -> ``ce``."""
    other = "sigmoid" if activation == "softmax" else "softmax"
    block = PRESETS[name].block(other)
    for general in preset_names(activation, general=True):
        if PRESETS[general].block(other) == block:
            return general
    return None


def loss_block(name: str, activation: Optional[str] = None, **params: Any) -> LossBlock:
    """A fresh copy of the preset ``name`` for a ``activation`` component, ``params`` overriding
    its top-level keys (e.g. ``loss_block("dsc", "sigmoid", alpha=0.1)``).

    ``activation``: ``"softmax"`` or ``"sigmoid"``; ``None`` gives the name's softmax form, or
    its sigmoid form for a binary name (``bce``, ...).

    Raises:
        ValueError: an unknown name or activation, or a name without a form for ``activation``
            (each message lists what is allowed).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown loss preset {name!r}: expected one of {', '.join(PRESETS)}")
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(
            f"loss preset {name!r}: unknown activation {activation!r}; expected one of"
            f" {', '.join(ACTIVATIONS)}"
        )
    preset = PRESETS[name]
    if activation is None:
        activation = "softmax" if preset.softmax is not None else "sigmoid"
    block = preset.block(activation)
    if block is None:
        other = "sigmoid" if activation == "softmax" else "softmax"
        instead = _counterpart(name, activation)
        raise ValueError(
            f"loss preset {name!r} has no {activation} form: it is defined for {other}"
            f" components ({_COMPONENTS[other]}) only"
            + (f"; use {instead!r} for a {activation} component" if instead else "")
            + f". Presets with a {activation} form: {', '.join(preset_names(activation))}"
        )
    block = copy.deepcopy(block)
    for key, value in params.items():
        block[key] = copy.deepcopy(value)
    return block
