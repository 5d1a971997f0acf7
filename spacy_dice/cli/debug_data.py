"""``python -m spacy_dice debug-data CONFIG --paths.train T --paths.dev D``: how imbalanced the data is.

``spacy debug data`` keys its NER and span sections on spaCy's factory names, so for ``dice_ner`` or
``dice_spancat`` it prints nothing about their labels. This command reads the config's training
and dev corpora as ``spacy train`` would (spaCy-style overrides such as ``--paths.train``) and
prints, per component (the dice ones and spaCy's own ``ner``, ``spancat``, ``span_finder``,
``textcat`` and ``tagger`` alike): label counts in train and dev, the negatives and their share,
negatives per positive (the paper's Table 1 figure), the rarest labels, labels seen in dev but
not in train, and where the which-loss advice is. The figures: :mod:`spacy_dice.evaluation.imbalance`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import typer
from wasabi import msg

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
        rows.append((label, f"{n:,}", f"{100 * n / train_total:.1f}", f"{stats.dev_counts.get(label, 0):,}",
                     _ratio(stats.per_label_ratio.get(label)) if label in stats.per_label_ratio else "–"))
    return rows


def print_stats(stats: Any) -> None:
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
            f" {stats.positive_name}: {'–' if share is None else f'{100 * share:.1f} %'} negative,"
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


def _read_corpus(what: str, corpus: Any, nlp: Any, path: Any) -> List[Any]:
    try:
        return list(corpus(nlp))
    except (FileNotFoundError, ValueError, OSError) as err:
        msg.fail(f"Cannot read the {what} corpus (paths.{what} = {path})", str(err), exits=1)
    return []


@app.command(
    "debug-data",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def debug_data(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The training config."),
    code_path: Optional[Path] = typer.Option(None, "--code", "-c", help="Python file with registered functions."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the figures as JSON."),
    max_span_docs: int = typer.Option(2000, "--max-span-docs", min=1, help="Train docs the span suggesters run on (a random sample when there are more)."),
) -> None:
    """How imbalanced the training data is for each component: label counts, negatives per
    positive, rarest labels, labels only in dev. Takes spaCy's config overrides (--paths.train X)."""
    from spacy import util
    from spacy.cli._util import import_code, parse_config_overrides, show_validation_error
    from spacy.schemas import ConfigSchemaTraining
    from spacy.util import registry, resolve_dot_names

    from ..evaluation.imbalance import WHICH_LOSS_WHERE, component_stats

    overrides = parse_config_overrides(ctx.args)
    import_code(code_path)
    with show_validation_error(config_path):
        cfg = util.load_config(config_path, overrides=overrides)
        nlp = util.load_model_from_config(cfg)
        config = nlp.config.interpolate()
        T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    paths = config.get("paths", {})
    for what in ("train", "dev"):
        if paths.get(what) in (None, ""):
            msg.fail(f"No {what} data: the config's paths.{what} is empty; give --paths.{what} FILE.spacy", exits=1)
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    train = _read_corpus("train", train_corpus, nlp, paths.get("train"))
    dev = _read_corpus("dev", dev_corpus, nlp, paths.get("dev"))
    if not train:
        msg.fail(f"The train corpus has no documents (paths.train = {paths.get('train')})", exits=1)
    msg.divider("Data")
    msg.text(f"Pipeline: {', '.join(nlp.pipe_names)}")
    msg.text(f"Train: {len(train):,} docs, {sum(len(eg.reference) for eg in train):,} tokens ({paths.get('train')})")
    msg.text(f"Dev: {len(dev):,} docs, {sum(len(eg.reference) for eg in dev):,} tokens ({paths.get('dev')})")
    if not dev:
        msg.warn("The dev corpus has no documents: dev counts are all 0")
    found, other = component_stats(nlp, train, dev, max_span_docs=max_span_docs)
    for stats in found:
        print_stats(stats)
    msg.divider("Summary")
    if other:
        msg.text(f"No label statistics for: {', '.join(other)}")
    if not found:
        msg.warn("No component with labels (ner, spancat, span_finder, textcat, tagger and their dice forms)")
    msg.text(f"The paper's negatives per positive (Table 1): {PAPER_RATIOS}.")
    msg.text(f"Which loss to pick for such data: {WHICH_LOSS_WHERE}.")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        payload: Dict[str, Any] = {
            "config": str(config_path), "train": str(paths.get("train")), "dev": str(paths.get("dev")),
            "n_train_docs": len(train), "n_dev_docs": len(dev),
            "components": [s.to_dict() for s in found], "not_covered": other,
        }
        output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf8")
        msg.good(f"Wrote {output}")
