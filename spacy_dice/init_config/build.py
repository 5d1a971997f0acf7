"""Assemble a complete, commented training config for spacy-dice components.

``generate_config(["ner", "textcat"], loss="dsc", backbone="cnn")`` returns the text of a
``config.cfg`` that ``spacy train`` runs as it is (given ``--paths.train`` / ``--paths.dev``):
one shared backbone component (:mod:`.backbones`) and, for every ``--pipeline`` name, the entry's
factory (:mod:`.components`) with the factory's own defaults, a listener instead of its own
embedding, and the loss preset asked for (``spacy_dice.losses.presets.loss_block``, in the form of
the factory's activation: ``--pipeline spancat --loss dsc`` is set-level sigmoid DSC, as
``project-config`` writes it) or the factory's default loss.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from thinc.api import Config

from .backbones import Backbone, get_backbone
from .components import ComponentEntry, get_entry

LossSpec = Union[None, str, Mapping[str, str]]


def parse_loss_spec(spec: LossSpec, names: Sequence[str]) -> Dict[str, Optional[str]]:
    """Preset name per component from ``None`` (each factory's default), ``"dsc"`` (all) or
    ``"ner=dsc,textcat=ce"`` / a mapping (the named ones; the others keep their default)."""
    from ..losses.presets import PRESETS

    chosen: Dict[str, Optional[str]] = {name: None for name in names}
    if spec is None or spec == "" or spec == "default":
        return chosen
    if isinstance(spec, str) and "=" not in spec:
        pairs = {name: spec for name in names}
    elif isinstance(spec, str):
        pairs = {}
        for part in spec.split(","):
            name, eq, preset = part.partition("=")
            if not eq or not name.strip() or not preset.strip():
                raise ValueError(
                    f"--loss {spec!r}: expected a preset name (e.g. dsc) or COMPONENT=PRESET pairs"
                    " separated by commas (e.g. ner=dsc,textcat=ce)"
                )
            pairs[name.strip()] = preset.strip()
    else:
        pairs = dict(spec)
    for name, preset in pairs.items():
        if name not in chosen:
            raise ValueError(f"--loss names {name!r}, which is not in --pipeline ({', '.join(names)})")
        if preset != "default" and preset not in PRESETS:
            raise ValueError(
                f"--loss {preset!r} for {name}: unknown loss preset; expected one of"
                f" {', '.join(PRESETS)} (or default: the component's own default)"
            )
        chosen[name] = None if preset == "default" else preset
    return chosen


def loss_for(entry: ComponentEntry, preset: Optional[str]) -> Dict[str, Any]:
    """The loss block of ``entry``: the preset in the factory's form, or the factory's default.

    Raises:
        ValueError: the preset has no form for the factory's activation (``bce`` on ``ner``).
    """
    from spacy.language import Language

    from ..training.config_rewrites import factory_activation
    from ..losses.presets import loss_block

    if preset is None:
        return copy.deepcopy(Language.get_factory_meta(entry.factory).default_config["loss"])
    try:
        return loss_block(preset, factory_activation(entry.factory))
    except ValueError as err:
        raise ValueError(f"--loss {preset!r} for {entry.name}: {err}") from None


def component_block(entry: ComponentEntry, backbone: Backbone, preset: Optional[str]) -> Dict[str, Any]:
    """``[components.<name>]``: the factory's defaults, the entry's settings, a listener, the loss."""
    from spacy.language import Language

    meta = Language.get_factory_meta(entry.factory)
    block: Dict[str, Any] = {"factory": entry.factory}
    for key, value in meta.default_config.items():
        block[key] = copy.deepcopy(value)
    block.update(copy.deepcopy(entry.settings))
    block.update(copy.deepcopy(backbone.component_settings))
    model = block["model"]
    if "tok2vec" not in model:
        raise ValueError(
            f"{entry.factory}'s default model {model.get('@architectures')!r} has no tok2vec"
            " sub-block to replace with a listener; add the model block to its init-config entry"
        )
    model["tok2vec"] = copy.deepcopy(backbone.listener)
    block["loss"] = loss_for(entry, preset)
    return block


def score_weights(entries: Sequence[ComponentEntry]) -> Dict[str, Optional[float]]:
    """spaCy's combination of the components' score weights (each component's weights sum to 1)."""
    from spacy.language import Language
    from spacy.util import combine_score_weights

    weights = []
    for entry in entries:
        own = dict(Language.get_factory_meta(entry.factory).default_score_weights)
        if entry.score_weights is not None:
            own = {**{k: None for k in own}, **entry.score_weights}
        weights.append(own)
    # a key one component scores (tagger: tag_acc) and another leaves out (pos: tag_acc = null)
    # keeps its weight: drop the null
    scored = {k for own in weights for k, v in own.items() if v is not None}
    weights = [{k: v for k, v in own.items() if v is not None or k not in scored} for own in weights]
    return combine_score_weights(weights)


def language_tokenizer(lang: str) -> Dict[str, Any]:
    """The ``[nlp.tokenizer]`` block of ``spacy.blank(lang)``: ``spacy.Tokenizer.v1`` for most
    languages, ``spacy.zh.ChineseTokenizer`` with the ``char`` segmenter for ``zh`` (one token per
    character, no pkuseg / jieba download)."""
    from spacy.util import get_lang_class

    return copy.deepcopy(dict(get_lang_class(lang).default_config["nlp"]["tokenizer"]))


def build_config(
    pipeline: Sequence[str], *, loss: LossSpec = None, backbone: str = "cnn", lang: str = "en"
) -> Config:
    """The config as a :class:`thinc.api.Config` (uninterpolated; see :func:`generate_config`)."""
    names = list(pipeline)
    if not names:
        raise ValueError("--pipeline is empty: name at least one component")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"--pipeline names {duplicates[0]!r} twice")
    entries = [get_entry(name) for name in names]
    presets = parse_loss_spec(loss, names)
    bb = get_backbone(backbone, lang)
    components: Dict[str, Any] = {bb.component: copy.deepcopy(bb.block)}
    for entry in entries:
        components[entry.name] = component_block(entry, bb, presets[entry.name])
    annotating = _link_span_finder(names, components)
    if annotating:  # the span finder listens to the backbone, whose doc tensors it predicts from
        annotating = [bb.component] + annotating
    corpus = {
        "@readers": "spacy.Corpus.v1", "max_length": 0, "gold_preproc": False, "limit": 0,
        "augmenter": None,
    }
    config = {
        "paths": {"train": None, "dev": None, "vectors": None, "init_tok2vec": None, **bb.paths},
        "system": {**bb.system, "seed": 0},
        "nlp": {
            "lang": lang,
            "pipeline": [bb.component] + names,
            "batch_size": bb.nlp_batch_size,
            "disabled": [],
            "before_creation": None,
            "after_creation": None,
            "after_pipeline_creation": None,
            "tokenizer": language_tokenizer(lang),
            "vectors": {"@vectors": "spacy.Vectors.v1"},
        },
        "components": components,
        "corpora": {
            "train": {**corpus, "path": "${paths.train}"},
            "dev": {**corpus, "path": "${paths.dev}"},
        },
        "training": {
            "dev_corpus": "corpora.dev",
            "train_corpus": "corpora.train",
            "seed": "${system.seed}",
            "gpu_allocator": "${system.gpu_allocator}",
            "dropout": 0.1,
            "accumulate_gradient": 1,
            "patience": 1600,
            "max_epochs": 0,
            "max_steps": 20000,
            "eval_frequency": 200,
            "frozen_components": [],
            "annotating_components": annotating,
            "before_to_disk": None,
            "before_update": None,
            "batcher": copy.deepcopy(bb.batcher),
            "logger": {"@loggers": "spacy.ConsoleLogger.v1", "progress_bar": False},
            "optimizer": {
                "@optimizers": "Adam.v1", "beta1": 0.9, "beta2": 0.999, "L2_is_weight_decay": True,
                "L2": 0.01, "grad_clip": 1.0, "use_averages": bb.use_averages, "eps": 1e-8,
                "learn_rate": copy.deepcopy(bb.learn_rate),
            },
            "score_weights": score_weights(entries),
        },
        "pretraining": {},
        "initialize": {
            "vectors": "${paths.vectors}",
            "init_tok2vec": "${paths.init_tok2vec}",
            "vocab_data": None,
            "lookups": None,
            "before_init": None,
            "after_init": None,
            "components": {},
            "tokenizer": {},
        },
    }
    return Config(config)


def fill(config: Config) -> Config:
    """``config`` with every default spaCy would add (what ``spacy init fill-config`` does): the
    pipeline is built once, so an invalid setting fails here, with spaCy's message."""
    from spacy.util import load_model_from_config

    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    return nlp.config


ROOT_ORDER = ("paths", "system", "nlp", "components", "corpora", "training", "pretraining", "initialize")


def _depth_first(text: str) -> str:
    """thinc writes sections breadth first; reorder them depth first (each block followed by its
    sub-blocks), top-level sections in spaCy's usual order."""
    sections: Dict[str, List[str]] = {}
    current: Optional[str] = None
    for line in text.splitlines():
        header = re.match(r"^\[([^\]]+)\]$", line)
        if header:
            current = header.group(1)
            sections[current] = [line]
        elif current is not None:
            sections[current].append(line)
    children: Dict[str, List[str]] = {}
    roots: List[str] = []
    for name in sections:
        parent = name.rpartition(".")[0]
        if parent and parent in sections:
            children.setdefault(parent, []).append(name)
        else:
            roots.append(name)
    roots.sort(key=lambda n: ROOT_ORDER.index(n) if n in ROOT_ORDER else len(ROOT_ORDER))
    out: List[str] = []

    def visit(name: str) -> None:
        body = sections[name]
        while len(body) > 1 and not body[-1].strip():
            body = body[:-1]
        out.extend(body + [""])
        for child in children.get(name, []):
            visit(child)

    for root in roots:
        visit(root)
    return "\n".join(out).rstrip("\n") + "\n"


SPANCATS = ("spancat", "spancat_singlelabel")


def _link_span_finder(names: Sequence[str], components: Dict[str, Any]) -> List[str]:
    """``span_finder`` with a spancat: the spancat labels the span finder's candidates.

    As in ``configs/spans_cnn.cfg``: the spancat's suggester becomes
    ``spacy.preset_spans_suggester.v1`` on the span finder's ``spans_key``, and the span finder is
    an annotating component (its candidates exist during training). Returns
    ``[training] annotating_components``.
    """
    spancats = [n for n in names if n in SPANCATS]
    if "span_finder" not in names or not spancats:
        return []
    if any(names.index(n) < names.index("span_finder") for n in spancats):
        raise ValueError(
            "--pipeline: list span_finder before the spancat that labels its candidates,"
            f" e.g. {','.join(['span_finder'] + spancats)}"
        )
    key = components["span_finder"].get("spans_key", "sc")
    for name in spancats:
        components[name]["suggester"] = {"@misc": "spacy.preset_spans_suggester.v1", "spans_key": key}
    return ["span_finder"]


_QUOTED_VARIABLE = re.compile(r'"(\$\{[A-Za-z0-9_.]+\})"')


def _comments(entries: Sequence[ComponentEntry], bb: Backbone, presets: Dict[str, Optional[str]]) -> Dict[str, List[str]]:
    from ..training.config_rewrites import factory_activation
    from ..losses.presets import preset_names

    comments: Dict[str, List[str]] = {k: list(v) for k, v in bb.comments.items()}
    for entry in entries:
        preset = presets[entry.name]
        comments[f"components.{entry.name}"] = [
            f"{entry.factory}: predicts {entry.predicts};",
            f"trains on {entry.gold}.",
            "grad_scale \"labelled\": the loss gradient times the number of labelled rows (spaCy's",
            "per-token sum convention); head_learn_rate_scale multiplies the optimizer's learn_rate",
            "for this component's own layers.",
        ]
        activation = factory_activation(entry.factory)
        sigmoid = activation == "sigmoid"
        comments[f"components.{entry.name}.model"] = [
            "The factory's default model; its tok2vec listens to the shared "
            f"'{bb.component}' component.",
            ("The model must end in a sigmoid output (as here) with nO = null: the component sets"
             if sigmoid else
             "The model must end in Softmax/Softmax_v2 (as here) with nO = null: the component sets"),
            "the output width from its labels. spaCy's TransitionBasedParser.v2 is refused.",
        ]
        what = f"the '{preset}' preset" if preset else "the component's default"
        comments[f"components.{entry.name}.loss"] = [
            f"The loss: {what}. Replace this block to switch the loss (README, \"Switching the",
            f"loss\"); presets by name, in their {activation} form: {', '.join(preset_names(general=True))}",
            "(all names: docs/LOSSES.md, \"Preset names\").",
        ]
    for name in (n for n in presets if n in SPANCATS and "span_finder" in presets):
        comments[f"components.{name}.suggester"] = [
            "The candidates are the spans span_finder wrote (an annotating component, [training])."
        ]
    comments["training.score_weights"] = [
        "spaCy keeps model-best by this weighted dev score (the factories' defaults, combined).",
    ]
    return comments


def generate_config(
    pipeline: Sequence[str], *, loss: LossSpec = None, backbone: str = "cnn", lang: str = "en"
) -> str:
    """The text of a complete, commented ``config.cfg``; see the module docstring.

    Raises:
        ValueError: an unknown component, loss preset or backbone (the message lists the known
            ones), a component named twice, or a ``--loss`` pair for a component not in
            ``pipeline``.
    """
    config = fill(build_config(pipeline, loss=loss, backbone=backbone, lang=lang))
    names = list(pipeline)
    entries = [get_entry(name) for name in names]
    bb = get_backbone(backbone, lang)
    presets = parse_loss_spec(loss, names)
    text = _depth_first(_QUOTED_VARIABLE.sub(r"\1", config.to_str(interpolate=False)))
    comments = _comments(entries, bb, presets)
    out: List[str] = []
    loss_names = ", ".join(f"{n}: {presets[n] or 'default'}" for n in names)
    out += [
        f"# Generated by: python -m spacy_dice init-config --pipeline {','.join(names)}"
        f" --backbone {backbone}" + (f" --loss {loss}" if isinstance(loss, str) and loss else ""),
        f"# Components: {', '.join(f'{e.name} ({e.factory})' for e in entries)}; losses: {loss_names}.",
        "# Train (train.spacy / dev.spacy from `python -m spacy_dice convert` or your own DocBins):",
        "#   python -m spacy train config.cfg --output training --paths.train train.spacy"
        " --paths.dev dev.spacy" + bb.train_hint,
        "# Check it: python -m spacy debug config config.cfg --paths.train train.spacy --paths.dev dev.spacy",
    ]
    for line in text.splitlines():
        header = re.match(r"^\[([^\]]+)\]$", line)
        if header and header.group(1) in comments:
            out += [f"# {c}" for c in comments[header.group(1)]]
        out.append(line)
    return "\n".join(out) + "\n"
