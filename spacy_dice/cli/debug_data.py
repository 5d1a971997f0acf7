"""``python -m spacy_dice debug-data CONFIG --paths.train T --paths.dev D``: how imbalanced the data is.

``spacy debug data`` keys its NER and span sections on spaCy's factory names, so for ``dice_ner`` or
``dice_spancat`` it prints nothing about their labels. This command reads the config's training
and dev corpora as ``spacy train`` would (spaCy-style overrides such as ``--paths.train``) and
prints, per component (the dice ones and spaCy's own ``ner``, ``spancat``, ``span_finder``,
``textcat`` and ``tagger`` alike): label counts in train and dev, the negatives and their share,
negatives per positive (the paper's Table 1 figure), the rarest labels, labels seen in dev but
not in train, and where the which-loss advice is. The figures:
:func:`spacy_dice.evaluation.imbalance.debug_data`; this module parses the arguments and prints.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, List, Optional, Sequence

import typer
from wasabi import msg

from ..formatting import percent
from .app import app

PAPER_RATIOS = "CoNLL-2003 NER 4.98, OntoNotes 5 8.18, SQuAD 1.1 55.9, SQuAD 2.0 82.0, QuoRef 169"


def _ratio(value: Optional[float]) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "no positives"
    return f"{value:,.1f}"


def _label_rows(stats: Any) -> List[Sequence[Any]]:
    labels = list(stats.train_counts)
    labels += [label for label in stats.dev_counts if label not in stats.train_counts]
    rows = []
    train_total = sum(stats.train_counts.values()) or 1
    for label in labels:
        n = stats.train_counts.get(label, 0)
        rows.append((label, f"{n:,}", percent(n / train_total, 1), f"{stats.dev_counts.get(label, 0):,}",
                     _ratio(stats.per_label_ratio.get(label)) if label in stats.per_label_ratio else "–"))
    return rows


def print_component_stats(stats: Any) -> None:
    """One section per component: the counts table, the imbalance figures, rarest and dev-only labels."""
    msg.divider(f"{stats.component} ({stats.factory})")
    msg.text(f"Label counts: {stats.unit}")
    if stats.train_counts or stats.dev_counts:
        msg.table(_label_rows(stats), header=("label", "train", "train %", "dev", "neg. per pos."),
                  aligns=("l", "r", "r", "r", "r"), divider=True)
    else:
        msg.warn("no labels in the training data for this component")
    if stats.positives is not None:
        share = stats.negative_share
        msg.info(
            f"Negatives: {stats.negatives:,} {stats.negative_name} against {stats.positives:,}"
            f" {stats.positive_name}: {'–' if share is None else f'{percent(share, 1)} %'} negative,"
            f" {_ratio(stats.negatives_per_positive)} negatives per positive"
        )
    for note in stats.notes:
        msg.text(f"- {note}")
    if stats.rarest:
        msg.text("Rarest labels (train): " + ", ".join(f"{label} ({n:,})" for label, n in stats.rarest))
    if stats.dev_only:
        msg.warn(f"Labels in dev but not in train (never predicted): {', '.join(stats.dev_only)}")
    if stats.train_only:
        msg.text(f"Labels in train but not in dev (not evaluated): {', '.join(stats.train_only)}")
    if stats.which_loss:
        msg.text(f"Which loss: {stats.which_loss}.")


@app.command(
    "debug-data",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def debug_data_cli(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The training config."),
    code_path: Optional[Path] = typer.Option(None, "--code", "-c", help="Python file with registered functions."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the figures as JSON."),
    max_span_docs: int = typer.Option(2000, "--max-span-docs", min=1, help="Train docs the span suggesters run on (a random sample when there are more)."),
) -> None:
    """How imbalanced the training data is for each component: label counts, negatives per
    positive, rarest labels, labels only in dev. Takes spaCy's config overrides (--paths.train X)."""
    from spacy.cli._util import import_code, parse_config_overrides, show_validation_error

    from ..evaluation.imbalance import WHICH_LOSS_WHERE, EmptyCorpus, NoCorpusPath, UnreadableCorpus, debug_data
    from ..files import write_atomic

    overrides = parse_config_overrides(ctx.args)
    import_code(code_path)
    try:
        with show_validation_error(config_path):
            report = debug_data(config_path, overrides=overrides, max_span_docs=max_span_docs)
    except NoCorpusPath as err:
        msg.fail(f"No {err.split} data: the config's paths.{err.split} is empty; give --paths.{err.split} FILE.spacy", exits=1)
    except UnreadableCorpus as err:
        msg.fail(f"Cannot read the {err.split} corpus (paths.{err.split} = {err.path})", err.reason, exits=1)
    except EmptyCorpus as err:
        msg.fail(f"The train corpus has no documents (paths.train = {err.path})", exits=1)
    msg.divider("Data")
    msg.text(f"Pipeline: {', '.join(report.pipe_names)}")
    msg.text(f"Train: {report.n_train_docs:,} docs, {report.n_train_tokens:,} tokens ({report.train_path})")
    msg.text(f"Dev: {report.n_dev_docs:,} docs, {report.n_dev_tokens:,} tokens ({report.dev_path})")
    if not report.n_dev_docs:
        msg.warn("The dev corpus has no documents: dev counts are all 0")
    for stats in report.components:
        print_component_stats(stats)
    msg.divider("Summary")
    if report.not_covered:
        msg.text(f"No label statistics for: {', '.join(report.not_covered)}")
    if not report.components:
        msg.warn("No component with labels (ner, spancat, span_finder, textcat, tagger and their dice forms)")
    msg.text(f"The paper's negatives per positive (Table 1): {PAPER_RATIOS}.")
    msg.text(f"Which loss to pick for such data: {WHICH_LOSS_WHERE}.")
    if output is not None:
        write_atomic(output, json.dumps(report.to_dict(), indent=2) + "\n")
        msg.good(f"Wrote {output}")
