"""``python -m spacy_dice init-config OUTPUT.cfg --pipeline ner --loss dsc``: a training config.

The config is :func:`spacy_dice.init_config.generate_config`'s text; this module writes or prints it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from wasabi import msg

from ..files import write_atomic
from ..init_config import COMPONENTS, generate_config
from ..init_config.backbones import backbones
from .app import app


@app.command("init-config")
def init_config_cli(
    output: Path = typer.Argument(..., help="The config file to write ('-' for stdout)."),
    pipeline: str = typer.Option("ner", "--pipeline", "-p", help="Comma-separated components: " + ", ".join(COMPONENTS) + "."),
    loss: str = typer.Option(
        "default", "--loss", "-l",
        help="A loss preset for every component (e.g. dsc), COMPONENT=PRESET pairs (ner=dsc,textcat=ce),"
        " or default (each component's own default).",
    ),
    backbone: str = typer.Option("cnn", "--backbone", "-b", help="Shared embedding: cnn (CPU) or trf (a transformer)."),
    lang: str = typer.Option(
        "en", "--lang", help="Language code of the blank pipeline (zh: spaCy's char segmenter and a"
        " character n-gram CNN; e.g. --pipeline seg_tagger --lang zh).",
    ),
    force: bool = typer.Option(False, "--force", "-F", help="Overwrite OUTPUT if it exists."),
) -> None:
    """Write a complete, commented training config for spacy-dice components.

    spaCy's `init config` builds only spaCy's own components; this builds dice_ner,
    dice_tagger, dice_textcat (and the span components) on one shared cnn or trf backbone,
    with a loss preset by name. Train it with
    `python -m spacy train OUTPUT.cfg --paths.train train.spacy --paths.dev dev.spacy`.
    """
    names = [name.strip() for name in pipeline.split(",") if name.strip()]
    if backbone not in backbones():
        raise typer.BadParameter(f"{backbone!r}: expected one of {', '.join(backbones())}", param_hint="--backbone")
    try:
        text = generate_config(names, loss=loss, backbone=backbone, lang=lang)
    except ValueError as err:
        msg.fail("Cannot write the config", str(err))
        raise typer.Exit(code=1)
    if str(output) == "-":
        sys.stdout.write(text)
        return
    if output.exists() and not force:
        msg.fail(f"{output} exists", "Give --force to overwrite it.")
        raise typer.Exit(code=1)
    write_atomic(output, text)
    msg.good(f"Wrote {output}", f"components: {', '.join(names)}; backbone: {backbone}; loss: {loss}")
    msg.text(f"Train: python -m spacy train {output} --output training --paths.train train.spacy --paths.dev dev.spacy")
