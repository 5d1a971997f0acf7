"""``python -m spacy_dice evaluate-table METRICS.json --output METRICS.md``: the JSON that
``python -m spacy evaluate`` wrote as a Markdown table with per-label P/R/F1 (for a tagger, whose
spaCy scores have no per-label part, pass ``--model`` and ``--data`` to compute it).

With ``--model`` and ``--data`` it also measures calibration: the expected calibration error (ECE,
15 equal-width bins) of every component that has probabilities
(:mod:`spacy_dice.evaluation.confidences`), written to the Markdown, to
``METRICS.reliability.json`` and as a reliability diagram ``METRICS.reliability.png`` (matplotlib,
the ``plots`` extra; skipped with a message without it). ``--compare-model OTHER`` puts a second
pipeline's ECE on the same data next to it (e.g. ``model-best`` before and ``model-calibrated``
after ``calibrate``).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

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


@dataclass
class CalibrationRun:
    """The confidences of one pipeline on the evaluation data, binned per component."""

    name: str  # how the tables and the plot call the pipeline (its folder name)
    bins: Dict[str, Any]  # set name -> ReliabilityBins
    sets: Dict[str, Any]  # set name -> ConfidenceSet (factory, what, kind)
    skipped: Dict[str, str]


def read_examples(data_path: Path, nlp: Any) -> List[Any]:
    """The gold examples of a ``.spacy`` file, tokenized by ``nlp`` (not yet predicted)."""
    from spacy.training import Corpus

    return list(Corpus(str(data_path))(nlp))


def calibration_run(name: str, nlp: Any, examples: List[Any], n_bins: int) -> CalibrationRun:
    """Predict ``examples`` with ``nlp`` (in place) and bin each component's confidences."""
    from ..evaluation.confidences import collect_confidences
    from ..evaluation.reliability import reliability_bins

    collected = collect_confidences(nlp, examples)
    bins, sets = {}, {}
    for found in collected.sets:
        bins[found.name] = reliability_bins(*found.arrays(), n_bins=n_bins)
        sets[found.name] = found
    return CalibrationRun(name, bins, sets, collected.skipped)


def run_names(model: Path, other: Optional[Path]) -> Tuple[str, Optional[str]]:
    """Short names of two pipelines: their folder names, or parent/name when these are equal."""
    if other is None:
        return model.name or str(model), None
    if model.name != other.name:
        return model.name, other.name
    a, b = f"{model.parent.name}/{model.name}", f"{other.parent.name}/{other.name}"
    if a != b:
        return a, b
    return str(model), f"{other} (compare)"


def calibration_markdown(runs: Sequence[CalibrationRun], data: Path, n_bins: int,
                         plot_note: Optional[str]) -> str:
    """The "Calibration error (ECE)" section: one row per component and kind of decision (and per
    pipeline when there are two, the first with its ECE's difference to the second's)."""
    lines = ["", "## Calibration error (ECE)", ""]
    compare = len(runs) == 2
    lines.append(
        f"_Expected calibration error (ECE, %) over {n_bins} equal-width confidence bins on {data}."
        " top-label: the probability of the predicted class against whether it is right;"
        " binary: each candidate x label (token x start/end) probability against whether its gold"
        " is 1 (accuracy = share of positives). Lower is better; 0 = confidences match accuracy."
        + (f" ECE change: {runs[0].name}'s ECE minus {runs[1].name}'s." if compare else "")
        + "_"
    )
    if plot_note:
        lines += ["", f"_{plot_note}_"]
    lines.append("")
    names: List[str] = []
    for run in runs:
        names.extend(n for n in run.bins if n not in names)
    header = "| component | decision | kind |" + (" pipeline |" if compare else "")
    header += " n | accuracy | mean confidence | ECE |" + (" ECE change |" if compare else "")
    align = "|---|---|---|" + ("---|" if compare else "") + "---:|---:|---:|---:|" + ("---:|" if compare else "")
    lines += [header, align]
    for name in names:
        found = next(run.sets[name] for run in runs if name in run.sets)
        eces = [run.bins[name].ece if name in run.bins else None for run in runs]
        for i, run in enumerate(runs):
            row = f"| {found.component} (`{found.factory}`) | {found.what} | {found.kind} |"
            if compare:
                row += f" {run.name} |"
            bins = run.bins.get(name)
            if bins is None:
                row += " 0 | – | – | – |"
            else:
                row += (f" {bins.n:,} | {_pct(bins.accuracy_overall)} | {_pct(bins.confidence_overall)} |"
                        f" {_pct(bins.ece)} |")
            if compare:
                change = eces[0] - eces[1] if i == 0 and None not in eces else None
                row += f" {100 * change:+.2f} |" if change is not None else " |"
            lines.append(row)
    if not names:
        lines.append("| (no component with probabilities) | | |" + (" |" if compare else "")
                     + " | | | |" + (" |" if compare else ""))
    skipped = {k: v for run in runs for k, v in run.skipped.items()}
    for name, why in skipped.items():
        lines.append(f"\n_{name}: no calibration error ({why})._")
    return "\n".join(lines) + "\n"


def reliability_json(runs: Sequence[CalibrationRun], data: Path, n_bins: int) -> Dict[str, Any]:
    """JSON-ready: per run and component, the bins, ECE and MCE."""
    return {
        "data": str(data),
        "n_bins": n_bins,
        "runs": {
            run.name: {
                "components": {
                    name: {"component": run.sets[name].component, "factory": run.sets[name].factory,
                           "decision": run.sets[name].what, "kind": run.sets[name].kind,
                           **bins.to_dict()}
                    for name, bins in run.bins.items()
                },
                "skipped": dict(run.skipped),
            }
            for run in runs
        },
    }


def write_reliability_png(runs: Sequence[CalibrationRun], path: Path, title: str) -> Optional[str]:
    """Draw the reliability diagram; ``None`` when written, else why not (no matplotlib, no data)."""
    from ..evaluation.plots import PlotsUnavailable
    from ..evaluation.reliability import plot_reliability

    panels: Dict[str, Dict[str, Any]] = {}
    for run in runs:
        for name, bins in run.bins.items():
            panels.setdefault(name, {})[run.name] = bins
    if not panels:
        return "no component with probabilities: no reliability diagram"
    try:
        plot_reliability(panels, path, title=title)
    except PlotsUnavailable as err:
        return f"reliability diagram skipped: {err}"
    return None


@app.command("evaluate-table")
def evaluate_table(
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
    scores = json.loads(metrics_path.read_text(encoding="utf8"))
    per_label: Optional[Dict[str, Dict[str, float]]] = None
    support: Dict[str, int] = {}
    attr: Optional[str] = None
    notes: List[str] = []
    needs_labels = not any(k in scores for k in ("ents_per_type", "cats_f_per_type")) and not any(
        k.startswith("spans_") for k in scores)
    measure = calibration and model is not None and data is not None
    if compare_model is not None and not measure:
        msg.fail("--compare-model needs --model and --data (and calibration on)")
        raise typer.Exit(code=1)
    runs: List[CalibrationRun] = []
    if model is not None and data is not None and (needs_labels or measure):
        import spacy
        from spacy.cli._util import setup_gpu

        setup_gpu(gpu_id)
        nlp = spacy.load(model)
        examples = None
        if measure:
            name, other_name = run_names(model, compare_model)
            examples = read_examples(data, nlp)
            runs.append(calibration_run(name, nlp, examples, n_bins))
            if compare_model is not None:
                other = spacy.load(compare_model)
                runs.append(calibration_run(other_name, other, read_examples(data, other), n_bins))
        if needs_labels:
            attr = tagger_attr(nlp)
            if attr:
                predicted = examples if examples is not None else predict_examples(nlp, data)
                per_label, support = token_attr_prf(predicted, attr)
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
    doc_title = title or f"Evaluation: {metrics_path.stem}"
    text = summary_markdown(summary, doc_title, notes)
    if runs:
        plot = plot or output.with_suffix(".reliability.png")
        why_no_plot = write_reliability_png(runs, plot, f"Reliability: {doc_title}")
        text += calibration_markdown(runs, data, n_bins, why_no_plot or f"reliability diagram: {plot.name}")
        json_path = output.with_suffix(".reliability.json")
        json_path.write_text(json.dumps(reliability_json(runs, data, n_bins), indent=2) + "\n", encoding="utf8")
    output.write_text(text, encoding="utf8")
    print(text)
    msg.good(f"Wrote {output}")
    if runs:
        msg.good(f"Wrote {json_path}")
        if why_no_plot:
            msg.warn(why_no_plot)
        else:
            msg.good(f"Wrote {plot}")
