"""Named loss presets and config rewrites for experiments.

``with_loss(config, "ner", "dsc")`` returns a copy of a training config whose
``[components.ner.loss]`` block is replaced by the ``dsc`` preset, in the form (softmax or
sigmoid) of the component's factory; the presets are the one table of
:mod:`spacy_dice.losses.presets`.
``spacy_baseline(config, "ner")`` swaps our component for spaCy's own one on the same
tok2vec, data, steps and seed.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from thinc.api import Config

from ..losses.presets import (  # noqa: F401  (the registry names, re-exported)
    CE,
    COMBINED,
    DICE,
    FOCAL,
    LOG_DICE,
    PRESETS,
    RAMP,
    SCHEDULED,
    TVERSKY,
    block_activation,
    loss_block,
    preset_names,
)


class _PresetView(Mapping[str, Dict[str, Any]]):
    """A read-only view of one group of :data:`spacy_dice.losses.presets.PRESETS` in one
    activation; each lookup is a fresh copy."""

    def __init__(self, activation: str, general: bool) -> None:
        self._activation = activation
        self._general = general

    def __getitem__(self, name: str) -> Dict[str, Any]:
        if name not in PRESETS or PRESETS[name].general != self._general:
            raise KeyError(name)
        return loss_block(name, self._activation)

    def __iter__(self) -> Iterator[str]:
        return iter(preset_names(self._activation, general=self._general))

    def __len__(self) -> int:
        return len(preset_names(self._activation, general=self._general))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


LOSS_PRESETS: Mapping[str, Dict[str, Any]] = _PresetView("softmax", general=True)
"""The general presets' softmax blocks by name (``ce``, ``wce``, ``focal``, ``dl``, ``dsc``,
``tversky``, ``combined``, ``logdice``, ``ce_then_dsc``): a view of the one table,
:data:`spacy_dice.losses.presets.PRESETS`."""

SPAN_LOSS_PRESETS: Mapping[str, Dict[str, Any]] = _PresetView("sigmoid", general=False)
"""The sigmoid blocks of the names that spell out a form (``bce``, ``dsc_set``, ...: the span
benchmarks' rows), a view of the same table."""

def factory_activation(factory: Optional[str]) -> str:
    """``"sigmoid"`` or ``"softmax"``: the activation of ``factory``'s default loss block (a
    factory that is not registered, or has no loss setting, counts as softmax)."""
    from spacy.language import Language

    import spacy_dice.pipeline  # noqa: F401  (registers the factories)

    if not factory or not Language.has_factory(factory):
        return "softmax"
    default = Language.get_factory_meta(factory).default_config.get("loss")
    return block_activation(default) if isinstance(default, dict) else "softmax"


def component_activation(config: Config, component: str) -> str:
    """The activation of ``[components.<component>]``'s factory (:func:`factory_activation`).

    Raises:
        ValueError: no such component in the config.
    """
    return factory_activation(_component_section(config, component).get("factory"))


def _component_section(config: Config, component: str) -> Dict[str, Any]:
    components = config.get("components", {})
    if component not in components:
        raise ValueError(
            f"no component {component!r} in the config: it has {', '.join(components) or 'none'}"
        )
    return components[component]


def with_loss(config: Config, component: str, loss: str, **params: Any) -> Config:
    """A copy of ``config`` whose ``[components.<component>.loss]`` block is the preset ``loss``
    in the form of the component's factory: sigmoid for ``dice_spancat`` / ``dice_span_finder``,
    softmax for the others (``with_loss(cfg, "spancat", "dsc")`` is set-level sigmoid DSC).

    The block is replaced, not merged: keys of the old loss do not leak into the new one.
    ``params`` override the preset's keys (e.g. ``with_loss(cfg, "ner", "dsc", alpha=0.1)``).

    Raises:
        ValueError: unknown preset, a preset without a form for the component's activation
            (``bce`` on ``dice_ner``), or no such component in the config.
    """
    new = Config(config).copy()
    section = _component_section(new, component)
    section["loss"] = loss_block(loss, factory_activation(section.get("factory")), **params)
    return new


BILU_TAG_WORDS_SCORER = "spacy-dice.bilu_tag_words_scorer.v1"
"""The scorer of spaCy's ``tagger`` standing in for ``dice_seg_tagger`` (:func:`spacy_baseline`)."""


def _listener(section: Dict[str, Any]) -> Dict[str, Any]:
    model = section.get("model", {})
    tok2vec = model.get("tok2vec")
    if tok2vec is None:
        raise ValueError("the component's model has no [model.tok2vec] block to share")
    return copy.deepcopy(tok2vec)


def _counterpart(section: Dict[str, Any]) -> Tuple[Optional[Any], Optional[str]]:
    """``(description, spaCy's counterpart)`` of a component's config block, read from the
    description of its factory (:mod:`spacy_dice.pipeline.descriptions`); ``(None, None)`` for a
    factory without a description."""
    from ..pipeline.descriptions import UndescribedComponentError, describe

    factory = section.get("factory")
    try:
        description = describe(factory) if isinstance(factory, str) else None
    except UndescribedComponentError:
        description = None
    return description, None if description is None else description.counterpart_of(section)


def _with_counterparts(span: bool) -> List[str]:
    """The dice factories whose description names a spaCy counterpart (span tasks or the others)."""
    from ..pipeline.descriptions import SPAN_TASKS, descriptions

    return [f for f, d in descriptions().items()
            if d.dice and d.spacy_counterpart is not None and (d.task in SPAN_TASKS) == span]


def spacy_baseline(config: Config, component: str) -> Config:
    """A copy of ``config`` where our component is replaced by spaCy's own equivalent (its
    description's ``spacy_counterpart``).

    Same tok2vec (the listener block is kept), data, steps, optimizer and seed:

    * ``dice_ner`` -> ``ner`` (``spacy.TransitionBasedParser.v2``, spaCy's default sizes);
    * ``dice_tagger`` with ``attr = "tag"`` -> ``tagger`` (``spacy.Tagger.v2``; it predicts
      ``token.tag_`` only);
    * ``dice_tagger`` with ``attr = "pos"`` -> ``morphologizer`` (``spacy.Tagger.v2``): spaCy's
      component that predicts ``token.pos_`` (with no morphological features in the data its
      labels are the UPOS tags); scored by ``pos_acc``;
    * ``dice_seg_tagger`` -> ``tagger`` (``spacy.Tagger.v2``) on the BILU-POS ``token.tag_`` of
      the character docs (``convert conllu --chars``), scored by the seg tagger's metric
      (``pos_f``, ``seg_f``, ``pos_per_type``) with its words read off the tags as they come
      (:data:`BILU_TAG_WORDS_SCORER`: an ill-formed run is no word);
    * ``dice_textcat`` -> ``textcat`` with the same model block (``TextCatEnsemble``);
    * ``dice_spancat`` -> ``spancat``, ``dice_spancat_singlelabel`` -> ``spancat_singlelabel``,
      ``dice_span_finder`` -> ``span_finder``: see :func:`spacy_span_baseline`.

    Raises:
        ValueError: no such component, or a factory this function does not know.
    """
    from ..pipeline.descriptions import SPAN_TASKS, WORDS
    from ..pipeline.seg_tagger_scorer import DEFAULT_WORDS_KEY

    new = Config(config).copy()
    section = _component_section(new, component)
    factory = section.get("factory")
    description, target = _counterpart(section)
    if description is not None and description.dice and description.task in SPAN_TASKS:
        return spacy_span_baseline(config, component)
    if description is None or not description.dice or description.spacy_counterpart is None:
        raise ValueError(
            f"component {component!r} has factory {factory!r}; spacy_baseline knows "
            + ", ".join(_with_counterparts(span=False) + _with_counterparts(span=True))
        )
    if target is None:  # a counterpart by attr, and this attr has none
        attr = description.attr_of(section)
        raise ValueError(
            f"{factory} {description.attr_setting} {attr!r}: expected "
            + " or ".join(repr(a) for a in sorted(description.spacy_counterpart))  # type: ignore[arg-type]
        )
    tok2vec = _listener(section)
    weights = new.setdefault("training", {}).setdefault("score_weights", {})
    if target == "ner":
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
    elif target in ("morphologizer", "tagger"):
        model = {"@architectures": "spacy.Tagger.v2", "nO": None, "normalize": False,
                 "tok2vec": tok2vec}
        if target == "morphologizer":
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
        elif description.task == WORDS:  # dice_seg_tagger: the BILU-POS tags of the characters
            new["components"][component] = {
                "factory": "tagger",
                "neg_prefix": "!",
                "overwrite": False,
                "scorer": {"@scorers": BILU_TAG_WORDS_SCORER,
                           "words_key": section.get("words_key", DEFAULT_WORDS_KEY)},
                "model": model,
            }
            for key in list(weights):
                weights[key] = None
            weights.update(pos_f=1.0, tag_acc=None, pos_acc=None)
        else:
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
    elif target == "textcat":
        new["components"][component] = {
            "factory": "textcat",
            "threshold": 0.0,
            "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
            "model": copy.deepcopy(section["model"]),
        }
    else:
        raise ValueError(
            f"component {component!r}: spacy_baseline cannot write a {target!r} block (the"
            f" spaCy counterpart of {factory!r}); it writes ner, tagger, morphologizer and textcat"
        )
    return new


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

    ``factory`` (default: spaCy's counterpart of the component's factory, its description's
    ``spacy_counterpart``) may be ``spancat``, ``spancat_singlelabel``, ``span_finder`` or one of ours
    (``dice_spancat_singlelabel`` with ``loss``, a preset name in the target's form). The model keeps its tok2vec
    (listener), reducer and sizes; only the output layer follows the factory: spaCy's
    ``spacy.LinearLogistic.v1`` for ``spancat`` / ``span_finder`` (what ``spacy init config``
    writes), ``Softmax.v2`` for the single-label ones. Suggester, ``spans_key``, thresholds and
    the scorer are kept where the target factory has them.

    Raises:
        ValueError: not a span component, or an unknown target factory.
    """
    from ..pipeline.descriptions import SPAN_TASKS

    new = Config(config).copy()
    section = _component_section(new, component)
    old = section.get("factory")
    description, counterpart = _counterpart(section)
    if description is None or not description.dice or description.task not in SPAN_TASKS or counterpart is None:
        raise ValueError(
            f"component {component!r} has factory {old!r}; spacy_span_baseline knows "
            + ", ".join(_with_counterparts(span=True))
        )
    target = factory or counterpart
    described, target_counterpart = _counterpart({"factory": target})
    ours = described is not None and described.dice
    spacy_target = (target_counterpart if ours else None) or target
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
    if ours:
        for key in ("grad_scale", "head_learn_rate_scale"):
            if key in section:
                replaced[key] = section[key]
        replaced["loss"] = loss_block(loss or "ce", factory_activation(target))
    new["components"][component] = replaced
    return new


def load_config(path: str) -> Config:
    """A training config from disk, *not* interpolated (so ``${paths.train}`` stays an override
    point and :func:`with_loss` edits the one loss block)."""
    return Config().from_disk(path, interpolate=False)
