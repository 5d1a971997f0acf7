"""Write a calibrated pipeline atomically: into a temporary folder next to the output, then
``os.replace``; after an error or Ctrl-C no half-written folder is left, and an existing output
(with ``overwrite``) is replaced only once the new one is complete. And the report files
(``STEM.json``, ``STEM.md``), each written atomically."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

from thinc.api import Config

from ..files import write_atomic

PathLike = Union[str, Path]


def check_output(model: Path, output: Path, overwrite: bool) -> None:
    """Refuse to write over ``model`` or over an existing ``output`` without ``overwrite``
    (:class:`~.calibration.CalibrationError` naming the parameters)."""
    from .calibration import CalibrationError

    model, output = Path(model), Path(output)
    if output.exists() and output.resolve() == model.resolve() and not overwrite:
        raise CalibrationError(
            f"output={output} is the model folder itself; pass overwrite=True to replace the model"
            " with its calibrated version, or choose another output=FOLDER"
        )
    if output.exists() and not overwrite:
        raise CalibrationError(f"output={output} exists; pass overwrite=True to replace it, or choose"
                               " another output=FOLDER")
    if output.exists() and not output.is_dir():
        raise CalibrationError(f"output={output} exists and is not a folder")


def patch_config(path: Path, changes: Dict[str, Dict[str, Any]]) -> None:
    """Set ``[components.NAME] key = value`` in the ``config.cfg`` at ``path`` (not interpolated,
    so variables stay variables)."""
    config = Config().from_disk(path, interpolate=False)
    for name, keys in changes.items():
        block = config["components"][name]
        for key, value in keys.items():
            block[key] = dict(value) if isinstance(value, dict) else value
    config.to_disk(path)


def write_pipeline(
    nlp: Any,
    output: Path,
    changes: Dict[str, Dict[str, Any]],
    *,
    overwrite: bool = False,
    extra: Optional[Callable[[Path], None]] = None,
) -> Path:
    """``nlp.to_disk`` into a temporary sibling of ``output``, patch its ``config.cfg`` with
    ``changes``, call ``extra(tmp)`` (more files), then move it into place."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would make the saved pipeline readable by its owner only
    old: Optional[Path] = None
    try:
        nlp.to_disk(tmp)
        patch_config(tmp / "config.cfg", changes)
        if extra is not None:
            extra(tmp)
        if output.exists():
            if not overwrite:  # appeared while we worked
                raise FileExistsError(f"{output} exists")
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
            os.rmdir(old)
            os.replace(output, old)
        try:
            os.replace(tmp, output)
        except BaseException:
            if old is not None:
                os.replace(old, output)
                old = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return output


def report_stem(output: PathLike, report: Optional[PathLike] = None) -> Path:
    """The path stem of a calibration's report: ``report`` without a ``.json`` / ``.md``
    suffix, by default ``OUTPUT-calibration`` next to the calibrated pipeline ``output``."""
    stem = Path(report) if report is not None else Path(output).parent / f"{Path(output).name}-calibration"
    return stem.with_suffix("") if stem.suffix in (".json", ".md") else stem


def write_report(stem: PathLike, data: Dict[str, Any], markdown: str) -> Path:
    """``STEM.json`` (``data``) and ``STEM.md`` (``markdown``), each written atomically; returns
    ``stem``."""
    stem = Path(stem)
    write_atomic(stem.with_name(stem.name + ".json"), json.dumps(data, indent=2) + "\n")
    write_atomic(stem.with_name(stem.name + ".md"), markdown)
    return stem
