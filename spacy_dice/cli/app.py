"""The ``python -m spacy_dice`` command line: what ``spacy`` itself lacks for this project."""
import typer

app = typer.Typer(
    name="spacy_dice",
    help="spacy-dice: convert corpora, compare losses and sweep loss parameters.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """spacy-dice command line (keeps typer in multi-command mode even with one command)."""
