"""The commands the ``spacy project`` template (``project.yml``) calls to prepare one run.

* ``python -m spacy_dice project-convert DATASET --data-dir DIR --output corpus/DATASET``:
  the data set's train/dev/test files to ``train.spacy``, ``dev.spacy``, ``test.spacy``
  (:func:`spacy_dice.project.datasets.convert_dataset`; the data sets: its ``DATASETS``).
* ``python -m spacy_dice project-config DATASET --backbone cnn --loss dsc --output CFG``:
  ``configs/<task>_<backbone>.cfg`` with the chosen loss preset, seed and step budget
  (:func:`spacy_dice.project.configs.project_config`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..project.datasets import CUSTOM_TASKS, DATASETS, SAMPLE_DIR, SPLITS
from .app import app
from .flags import flag_message

FLAGS = {"dataset": "DATASET", "custom_format": "--custom-format", "task": "--task"}
"""The argument or flag of each parameter the library's errors name."""


@app.command("project-convert")
def project_convert_cli(
    dataset: str = typer.Argument(..., help="Data set: " + ", ".join(DATASETS)),
    data_dir: Path = typer.Option(
        Path("assets/data"), "--data-dir", help="Folder holding the corpora (ignored for sample)."
    ),
    output_dir: Path = typer.Option(
        ..., "--output", "-o", help="Folder for train.spacy, dev.spacy, test.spacy."
    ),
    sample_dir: Path = typer.Option(SAMPLE_DIR, "--sample-dir", help="Where the sample lives."),
    limit: Optional[int] = typer.Option(
        None, "--limit", min=1, help="Keep the first N sentences/pairs of each split."
    ),
    train_file: str = typer.Option("", "--train-file", help="custom only: the training file."),
    dev_file: str = typer.Option("", "--dev-file", help="custom only: the dev file (empty: every 10th training doc)."),
    test_file: str = typer.Option("", "--test-file", help="custom only: the test file."),
    custom_format: str = typer.Option(
        "iob", "--custom-format", help="custom only: " + ", ".join(CUSTOM_TASKS) + " (see `convert --help`)."
    ),
    task: str = typer.Option(
        "auto", "--task", help="auto (the data set's task) or spans / spans_finder: NER data also"
        " written as doc.spans[\"sc\"] for span categorization."
    ),
) -> None:
    """Convert a data set's train/dev/test files to .spacy files (for project.yml)."""
    from ..corpus.errors import CorpusFormatError
    from ..project.datasets import DatasetError, MissingCustomFile, convert_dataset

    files = {"train": train_file, "dev": dev_file, "test": test_file}
    try:
        converted = convert_dataset(dataset, data_dir, output_dir, sample_dir=sample_dir, limit=limit,
                                    custom_files=files, custom_format=custom_format, task=task)
    except MissingCustomFile as err:
        raise typer.BadParameter(
            f"the custom data set needs a {err.split} file: --vars.{err.split}_file PATH"
            f" (--{err.split}-file for project-convert)",
            param_hint=f"--{err.split}-file",
        ) from None
    except DatasetError as err:
        raise typer.BadParameter(flag_message(str(err), FLAGS)) from None
    except (FileNotFoundError, CorpusFormatError) as err:
        msg.fail(f"Cannot convert {dataset}", str(err))
        raise typer.Exit(code=1)
    for note in converted.notes:
        msg.info(note)
    ds, rows = converted.dataset, []
    for split in SPLITS:
        s = converted.stats.get(split, {})
        labels = s.get("entities") or s.get("cats") or s.get("word_labels") or s.get(ds.attr or "", {}) or {}
        rows.append((split, f"{s.get('documents', 0):,}", f"{s.get('tokens', 0):,}" if "tokens" in s else "",
                     ", ".join(f"{k} {v}" for k, v in list(labels.items())[:6])))
    msg.good(f"{ds.description} -> {output_dir}")
    msg.table(rows, header=("split", "docs", "tokens", "labels"), divider=True)


@app.command("project-config")
def project_config_cli(
    dataset: str = typer.Argument(..., help="Data set: " + ", ".join(DATASETS)),
    output: Path = typer.Option(..., "--output", "-o", help="The training config to write."),
    backbone: str = typer.Option("cnn", "--backbone", help="cnn or trf (configs/<task>_<backbone>.cfg)."),
    loss: str = typer.Option("dsc", "--loss", help="Loss preset, in the component's form: ce, wce, focal, dl, dsc, tversky, combined, ce_then_dsc, logdice (more: docs/LOSSES.md, \"Preset names\")."),
    seed: int = typer.Option(0, "--seed"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0, help="0: no step limit."),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    configs_dir: Path = typer.Option(Path("configs"), "--configs-dir"),
    transformer_model: Optional[str] = typer.Option(
        None, "--transformer-model",
        help="trf only: a Hugging Face name, a local folder or 'minilm' (see `model-path`).",
    ),
    custom_format: str = typer.Option(
        "iob", "--custom-format", help="custom only: the files' format, which sets the task."
    ),
    task: str = typer.Option(
        "auto", "--task", help="auto (the data set's task) or spans (dice_spancat,"
        " configs/spancat_<backbone>.cfg) / spans_finder (dice_span_finder + dice_spancat,"
        " configs/spans_<backbone>.cfg); the loss preset takes its sigmoid form (dsc: set-level DSC)."
    ),
) -> None:
    """Write the training config for a data set, backbone and loss preset (for project.yml)."""
    from ..files import write_atomic
    from ..project.configs import project_config, template_path
    from ..training.config_rewrites import component_activation

    try:
        config, component = project_config(
            dataset, backbone, loss, configs_dir=configs_dir, seed=seed,
            max_steps=max_steps, eval_frequency=eval_frequency,
            transformer_model=transformer_model, custom_format=custom_format, task=task,
        )
    except (FileNotFoundError, ValueError) as err:  # ValueError: DatasetError, TransformerModelNotFound, presets
        msg.fail("Cannot write the config", flag_message(str(err), FLAGS))
        raise typer.Exit(code=1)
    write_atomic(output, config.to_str())
    template = template_path(dataset, backbone, configs_dir=configs_dir, custom_format=custom_format, task=task)
    form = component_activation(config, component)
    msg.good(
        f"Wrote {output}: {template}, "
        f"[components.{component}.loss] = {loss} ({form} form),"
        f" seed {seed}, max_steps {config['training']['max_steps']}"
    )
