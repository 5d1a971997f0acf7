"""The training config of one run of the ``spacy project`` template.

:func:`project_config` takes ``configs/<task>_<backbone>.cfg`` for a data set of
:data:`~spacy_dice.project.datasets.DATASETS`, puts the loss preset on its component(s) and sets
the seed, step budget and transformer model; ``python -m spacy_dice project-config``
(:mod:`spacy_dice.cli.project`) is that call, a write and a line of output.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .datasets import SPAN_TASKS, check_task, get_dataset


def template_path(
    dataset: str,
    backbone: str,
    *,
    configs_dir: Path = Path("configs"),
    custom_format: str = "iob",
    task: str = "auto",
) -> Path:
    """The repository config a run starts from: ``configs_dir/<stem>_<backbone>.cfg``, the stem
    being the data set's config (``Dataset.config_stem``: its task, ``ner``, ``tagger``,
    ``seg_tagger``, ``textcat``, or its own, ``ner_zh`` for Chinese NER over characters) or the
    span task's config (``spancat``, ``spans``). The file need not exist.

    Raises:
        DatasetError: an unknown data set, format or task, or a span task on non-NER data.
    """
    ds = get_dataset(dataset, custom_format)
    check_task(task, ds)
    stem = SPAN_TASKS[task][0] if task in SPAN_TASKS else ds.config_stem
    return Path(configs_dir) / f"{stem}_{backbone}.cfg"


def project_config(
    dataset: str,
    backbone: str,
    loss: str,
    *,
    configs_dir: Path = Path("configs"),
    seed: int = 0,
    max_steps: Optional[int] = None,
    eval_frequency: Optional[int] = None,
    loss_params: Optional[Dict[str, Any]] = None,
    transformer_model: Optional[str] = None,
    custom_format: str = "iob",
    task: str = "auto",
) -> Tuple[Any, str]:
    """``configs/<stem>_<backbone>.cfg`` (:func:`template_path`) with the ``loss`` preset and the
    data set's settings (the tagger's or seg tagger's ``attr``, the textcat's ``positive_label``).
    The component is the one named by the data set's task (``ner``, ``tagger``, ``seg_tagger``,
    ``textcat``).

    ``task``: ``auto`` or a span task (:data:`~spacy_dice.project.datasets.SPAN_TASKS`:
    ``configs/spancat_<backbone>.cfg`` or ``configs/spans_<backbone>.cfg``, the loss given to every
    span component). The preset takes the form of each component's factory (``with_loss``; one
    table, :mod:`spacy_dice.losses.presets`): ``dsc`` is set-level sigmoid DSC on
    ``dice_spancat``, as ``init-config`` writes it. ``seed``, ``max_steps``, ``eval_frequency``
    and ``transformer_model``: see :func:`set_run_settings`.

    Returns:
        ``(config, component_name)``; the config is not interpolated (it keeps ``${...}``).

    Raises:
        DatasetError: an unknown data set, format or task, or a span task on non-NER data.
        FileNotFoundError: no config for the task and ``backbone``.
        ValueError: an unknown preset, or one without a form for the component (``bce`` on NER).
        TransformerModelNotFound: ``transformer_model`` names no model that can be found.
    """
    from thinc.api import Config

    from ..training.config_rewrites import with_loss

    ds = get_dataset(dataset, custom_format)
    path = template_path(dataset, backbone, configs_dir=configs_dir, custom_format=custom_format,
                         task=task)
    if not path.exists():
        raise FileNotFoundError(
            f"no config {path} for data set {ds.name!r} (task {ds.task!r}) and backbone {backbone!r}"
        )
    config = Config().from_disk(path, interpolate=False)
    span_components = SPAN_TASKS[task][1] if task in SPAN_TASKS else ()
    if span_components:
        for name in span_components:
            config = with_loss(config, name, loss, **(loss_params or {}))
        set_run_settings(config, seed=seed, max_steps=max_steps, eval_frequency=eval_frequency,
                         transformer_model=transformer_model)
        return config, "spancat"
    config = with_loss(config, ds.task, loss, **(loss_params or {}))
    component = config["components"][ds.task]
    if ds.attr is not None:
        component["attr"] = ds.attr
    if ds.positive_label is not None:
        component["positive_label"] = ds.positive_label
    set_run_settings(config, seed=seed, max_steps=max_steps, eval_frequency=eval_frequency,
                     transformer_model=transformer_model)
    return config, ds.task


def set_run_settings(config: Any, *, seed: int, max_steps: Optional[int] = None,
                     eval_frequency: Optional[int] = None,
                     transformer_model: Optional[str] = None) -> None:
    """Set ``config``'s ``[system] seed`` and, where given, ``[training] max_steps`` (0: no
    limit), ``eval_frequency`` and, for a config with ``[paths] transformer_model``, the model
    (resolved by :func:`spacy_dice.transformers.resolve_model_name`: ``minilm``, a Hugging Face
    name or a local folder). Changes ``config`` in place; returns nothing.

    Raises:
        TransformerModelNotFound: ``transformer_model`` names no model that can be found.
    """
    config["system"]["seed"] = seed
    if max_steps is not None:
        config["training"]["max_steps"] = max_steps
    if eval_frequency is not None:
        config["training"]["eval_frequency"] = eval_frequency
    if transformer_model and "transformer_model" in config.get("paths", {}):
        from ..transformers import resolve_model_name

        config["paths"]["transformer_model"] = resolve_model_name(transformer_model)
