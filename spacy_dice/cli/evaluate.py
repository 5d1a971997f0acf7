"""``python -m spacy_dice evaluate-table METRICS.json --output METRICS.md``: the JSON that
``python -m spacy evaluate`` wrote as a Markdown table with per-label P/R/F1 (for a tagger, whose
spaCy scores have no per-label part, pass ``--model`` and ``--data`` to compute it).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import typer
from wasabi import msg

from .app import app

@dataclass
class Summary:
    """The headline numbers of one evaluation, whatever the task."""

    task: str  # "ner", "tagger" or "textcat"
    metrics: List[Tuple[str, Optional[float]]]  # (name, value in 0..1), e.g. P, R, F1
    main: Tuple[str, Optional[float]]  # the number a table sorts by (F1 or accuracy)
    per_label: Dict[str, Dict[str, float]]  # label -> {"p", "r", "f"} in 0..1
    support: Dict[str, int] = field(default_factory=dict)


def _f(value: Any) -> Optional[float]:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def summarize(scores: Dict[str, Any], per_label: Optional[Dict[str, Dict[str, float]]] = None) -> Summary:
    """Headline metrics and per-label P/R/F1 from spaCy scores (``spacy evaluate`` JSON or
    ``nlp.evaluate``); ``per_label`` (e.g. from :func:`token_attr_prf`) fills in for taggers."""
    if "ents_f" in scores:
        return Summary(
            "ner",
            [("P", _f(scores.get("ents_p"))), ("R", _f(scores.get("ents_r"))), ("F1", _f(scores.get("ents_f")))],
            ("F1", _f(scores.get("ents_f"))),
            dict(scores.get("ents_per_type") or per_label or {}),
        )
    spans_f = sorted(k for k in scores if k.startswith("spans_") and k.endswith("_f")
                     and scores[k] is not None)
    if spans_f:  # spancat / span_finder: spans_<key>_p/r/f (the first key with a score)
        stem = spans_f[0][: -len("_f")]
        return Summary(
            "spans",
            [("P", _f(scores.get(f"{stem}_p"))), ("R", _f(scores.get(f"{stem}_r"))),
             ("F1", _f(scores.get(f"{stem}_f")))],
            ("F1", _f(scores.get(f"{stem}_f"))),
            dict(scores.get(f"{stem}_per_type") or per_label or {}),
        )
    if "cats_score" in scores:
        metrics = [
            ("P (micro)", _f(scores.get("cats_micro_p"))),
            ("R (micro)", _f(scores.get("cats_micro_r"))),
            ("F1 (micro)", _f(scores.get("cats_micro_f"))),
            ("F1 (macro)", _f(scores.get("cats_macro_f"))),
            ("AUC (macro)", _f(scores.get("cats_macro_auc"))),
            ("cats_score", _f(scores.get("cats_score"))),
        ]
        desc = str(scores.get("cats_score_desc") or "cats_score")
        return Summary("textcat", metrics, (desc, _f(scores.get("cats_score"))),
                       dict(scores.get("cats_f_per_type") or per_label or {}))
    for attr in ("pos", "tag"):
        key = f"{attr}_acc"
        if key in scores:
            labels = dict(per_label or {})
            metrics = [(f"{attr.upper()} accuracy", _f(scores.get(key)))]
            if labels:
                for name, k in (("P (macro)", "p"), ("R (macro)", "r"), ("F1 (macro)", "f")):
                    metrics.append((name, sum(v[k] for v in labels.values()) / len(labels)))
            return Summary("tagger", metrics, (f"{attr.upper()} acc", _f(scores.get(key))), labels)
    raise ValueError(f"no NER, span, tagger or textcat scores among {', '.join(sorted(scores)) or 'none'}")


def token_attr_prf(examples: Iterable[Any], attr: str) -> Tuple[Dict[str, Dict[str, float]], Dict[str, int]]:
    """Per-label P/R/F1 of a token attribute (``pos``/``tag``) over predicted examples.

    Gold values are aligned to the predicted tokens; tokens without a gold value are skipped.
    Returns ``(per_label, gold_support)``.
    """
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for eg in examples:
        gold = eg.get_aligned(attr.upper(), as_string=True)
        for token, g in zip(eg.predicted, gold):
            if not g:
                continue
            p = getattr(token, f"{attr}_")
            if p == g:
                tp[g] += 1
            else:
                fn[g] += 1
                if p:
                    fp[p] += 1
    out: Dict[str, Dict[str, float]] = {}
    for label in sorted(set(tp) | set(fn) | set(fp), key=lambda k: -(tp[k] + fn[k])):
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = {"p": p, "r": r, "f": f}
    return out, {k: tp[k] + fn[k] for k in out}


def tagger_attr(nlp: Any) -> Optional[str]:
    """``pos`` or ``tag``: what the pipeline's ``dice_tagger`` (or tagger) predicts, if it has one."""
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory == "dice_tagger":
            return getattr(nlp.get_pipe(name), "cfg", {}).get("attr") or "tag"
        if factory == "tagger":
            return "tag"
        if factory == "morphologizer":
            return "pos"
    return None


def predict_examples(nlp: Any, data_path: Path) -> List[Any]:
    """The examples of a ``.spacy`` file with ``nlp``'s predictions."""
    from spacy.training import Corpus

    examples = list(Corpus(str(data_path))(nlp))
    docs = nlp.pipe([eg.predicted for eg in examples], batch_size=256)
    for eg, doc in zip(examples, docs):
        eg.predicted = doc
    return examples


def gold_support(data_path: Path, task: str, attr: Optional[str] = None) -> Dict[str, int]:
    """How many gold entities / tokens / documents each label has in a ``.spacy`` file."""
    import spacy
    from spacy.tokens import DocBin

    counts: Counter = Counter()
    for doc in DocBin().from_disk(data_path).get_docs(spacy.blank("en").vocab):
        if task == "ner":
            counts.update(ent.label_ for ent in doc.ents)
        elif task == "spans":
            counts.update(span.label_ for group in doc.spans.values() for span in group)
        elif task == "textcat":
            counts.update(k for k, v in doc.cats.items() if v >= 0.5)
        elif attr:
            counts.update(getattr(t, f"{attr}_") for t in doc if getattr(t, f"{attr}_"))
    return dict(counts)


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def summary_markdown(summary: Summary, title: str, notes: Iterable[str] = ()) -> str:
    """A Markdown report: headline metrics, then one row per label (P, R, F1, support)."""
    lines = [f"# {title}", ""]
    lines += [f"_{note}_" for note in notes]
    if notes:
        lines.append("")
    lines += ["| metric | value |", "|---|---:|"]
    lines += [f"| {name} | {_pct(value)} |" for name, value in summary.metrics]
    if summary.per_label:
        has_support = bool(summary.support)
        lines += ["", "## Per label", ""]
        header = "| label | P | R | F1 |" + (" support |" if has_support else "")
        lines += [header, "|---|---:|---:|---:|" + ("---:|" if has_support else "")]
        items = list(summary.per_label.items())
        if has_support:
            items.sort(key=lambda kv: -summary.support.get(kv[0], 0))
        for label, prf in items:
            row = f"| {label} | {_pct(prf.get('p'))} | {_pct(prf.get('r'))} | {_pct(prf.get('f'))} |"
            if has_support:
                row += f" {summary.support.get(label, 0):,} |"
            lines.append(row)
    return "\n".join(lines) + "\n"


@app.command("evaluate-table")
def evaluate_table(
    metrics_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON written by `spacy evaluate --output`."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Markdown file (default: the JSON's path with .md)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The evaluated pipeline (for a tagger's per-label scores)."),
    data: Optional[Path] = typer.Option(None, "--data", help="The evaluated .spacy file (per-label support; tagger scores)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU for --model predictions (-1: CPU)."),
    title: Optional[str] = typer.Option(None, "--title"),
) -> None:
    """Write spaCy's evaluation JSON as a Markdown table with per-label P/R/F1."""
    scores = json.loads(metrics_path.read_text(encoding="utf8"))
    per_label: Optional[Dict[str, Dict[str, float]]] = None
    support: Dict[str, int] = {}
    attr: Optional[str] = None
    notes: List[str] = []
    needs_labels = not any(k in scores for k in ("ents_per_type", "cats_f_per_type")) and not any(
        k.startswith("spans_") for k in scores)
    if model is not None and data is not None and needs_labels:
        import spacy
        from spacy.cli._util import setup_gpu

        setup_gpu(gpu_id)
        nlp = spacy.load(model)
        attr = tagger_attr(nlp)
        if attr:
            per_label, support = token_attr_prf(predict_examples(nlp, data), attr)
            notes.append(f"per-label scores of token.{attr}_ computed from {model} on {data}")
    try:
        summary = summarize(scores, per_label)
    except ValueError as err:
        msg.fail(f"Cannot read {metrics_path}", str(err))
        raise typer.Exit(code=1)
    if data is not None and not support:
        if summary.task == "tagger" and attr is None:
            attr = "pos" if "pos_acc" in scores else "tag"
        support = gold_support(data, summary.task, attr)
    summary.support = support
    if "speed" in scores:
        notes.append(f"prediction speed {float(scores['speed']):,.0f} words/s")
    output = output or metrics_path.with_suffix(".md")
    output.parent.mkdir(parents=True, exist_ok=True)
    text = summary_markdown(summary, title or f"Evaluation: {metrics_path.stem}", notes)
    output.write_text(text, encoding="utf8")
    print(text)
    msg.good(f"Wrote {output}")
