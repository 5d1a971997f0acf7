"""``python -m spacy_dice evaluate-table METRICS.json --output METRICS.md``: the JSON that
``python -m spacy evaluate`` wrote as a Markdown table with per-label P/R/F1 (for a tagger, whose
spaCy scores have no per-label part, pass ``--model`` and ``--data`` to compute it).

With ``--model`` and ``--data`` it also measures the reliability of the confidences: the expected
calibration error (ECE, 15 equal-width bins) of every component that has probabilities, written to
the Markdown, to ``METRICS.reliability.json`` and as a reliability diagram
``METRICS.reliability.png`` (matplotlib, the ``plots`` extra; skipped with a message without it).
``--compare-model OTHER`` puts a second pipeline's ECE on the same data next to it (e.g.
``model-best`` before and ``model-calibrated`` after ``calibrate``).

The work is :func:`spacy_dice.evaluation.evaluate_table.evaluate_table` and
:func:`~spacy_dice.evaluation.evaluate_table.write_evaluation_table`; this module parses the
options and prints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from .app import app


@app.command("evaluate-table")
def evaluate_table_command(
    metrics_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON written by `spacy evaluate --output`."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Markdown file (default: the JSON's path with .md)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The evaluated pipeline (a tagger's per-label scores; calibration)."),
    data: Optional[Path] = typer.Option(None, "--data", help="The evaluated .spacy file (per-label support; tagger scores; calibration)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU for --model predictions (-1: CPU)."),
    title: Optional[str] = typer.Option(None, "--title"),
    calibration: bool = typer.Option(True, "--calibration/--no-calibration", help="With --model and --data: the expected calibration error per component, a .reliability.json with the bins and a reliability diagram .reliability.png."),
    compare_model: Optional[Path] = typer.Option(None, "--compare-model", exists=True, file_okay=False, help="A second pipeline (e.g. model-best before `calibrate`) whose ECE on --data goes next to --model's, in the table and the PNG."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="The reliability diagram PNG (default: OUTPUT with .reliability.png)."),
    n_bins: int = typer.Option(15, "--bins", min=1, help="Equal-width confidence bins of the ECE."),
) -> None:
    """Write spaCy's evaluation JSON as a Markdown table with per-label P/R/F1; with --model and
    --data also the expected calibration error per component and a reliability diagram."""
    from ..evaluation.evaluate_table import evaluate_table, write_evaluation_table
    from ..evaluation.scores import UnknownScores

    if compare_model is not None and not (calibration and model is not None and data is not None):
        msg.fail("--compare-model needs --model and --data (and calibration on)")
        raise typer.Exit(code=1)
    try:
        table = evaluate_table(metrics_path, model=model, data=data, compare_model=compare_model,
                               gpu_id=gpu_id, title=title, reliability=calibration, n_bins=n_bins)
    except UnknownScores as err:
        msg.fail(f"Cannot read {metrics_path}", str(err))
        raise typer.Exit(code=1)
    if table.model_loaded:
        from spacy.cli._util import setup_gpu

        setup_gpu(gpu_id)  # says "Using CPU" / "Using GPU: N", as spaCy's commands do
    written = write_evaluation_table(table, output or metrics_path.with_suffix(".md"), plot)
    print(written.text)
    msg.good(f"Wrote {written.markdown}")
    if written.reliability_json is not None:
        msg.good(f"Wrote {written.reliability_json}")
        if written.why_no_plot:
            msg.warn(written.why_no_plot)
        else:
            msg.good(f"Wrote {written.plot}")
