"""``evaluate-table`` as a library: spaCy's evaluation JSON as a Markdown table with per-label
P/R/F1 and, given the pipeline and its data, the reliability of its confidences.

:func:`evaluate_table` computes (it writes nothing): the :class:`~.scores.Summary` of the scores
(for a tagger, whose spaCy scores have no per-label part, computed from ``model`` on ``data``),
the gold support per label, and with ``model`` and ``data`` the expected calibration error (ECE,
``n_bins`` equal-width bins) of every component that has probabilities
(:mod:`.confidences`, :mod:`.reliability`), for ``model`` and optionally ``compare_model`` on the
same data (e.g. ``model-best`` before and ``model-calibrated`` after ``calibrate``).
:func:`write_evaluation_table` writes what it found: ``OUTPUT.md``, ``OUTPUT.reliability.json``
(the bins, ECE and MCE per component) and the reliability diagram ``OUTPUT.reliability.png``
(matplotlib, the ``plots`` extra; without it the Markdown says why there is none).

>>> table = evaluate_table("metrics/test.json", model="training/model-best", data="corpus/test.spacy")
>>> written = write_evaluation_table(table, "metrics/test.md")
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..files import read_examples, write_atomic
from ..formatting import percent
from .scores import (
    MISSING,
    Summary,
    gold_support,
    predict_examples,
    summarize_scores,
    summary_markdown,
    tagger_attr,
    token_attr_prf,
)

PathLike = Union[str, Path]
N_BINS = 15
"""Equal-width confidence bins of the ECE (Guo et al. 2017)."""


@dataclass
class ReliabilityRun:
    """The confidences of one pipeline on the evaluation data, binned per component."""

    name: str  # how the tables and the plot call the pipeline (its folder name)
    bins: Dict[str, Any]  # set name -> ReliabilityBins
    sets: Dict[str, Any]  # set name -> ConfidenceSet (factory, what, kind)
    skipped: Dict[str, str]


def reliability_run(name: str, nlp: Any, examples: List[Any], n_bins: int = N_BINS) -> ReliabilityRun:
    """Predict ``examples`` with ``nlp`` (in place) and bin each component's confidences into
    ``n_bins`` bins; the :class:`ReliabilityRun` is called ``name`` in the tables and the plot."""
    from .confidences import collect_confidences
    from .reliability import reliability_bins

    collected = collect_confidences(nlp, examples)
    bins, sets = {}, {}
    for found in collected.sets:
        bins[found.name] = reliability_bins(*found.arrays(), n_bins=n_bins)
        sets[found.name] = found
    return ReliabilityRun(name, bins, sets, collected.skipped)


def run_names(model: PathLike, other: Optional[PathLike]) -> Tuple[str, Optional[str]]:
    """Short names of two pipelines: their folder names, or parent/name when these are equal."""
    model = Path(model)
    if other is None:
        return model.name or str(model), None
    other = Path(other)
    if model.name != other.name:
        return model.name, other.name
    a, b = f"{model.parent.name}/{model.name}", f"{other.parent.name}/{other.name}"
    if a != b:
        return a, b
    return str(model), f"{other} (compare)"


def _pct(value: Optional[float]) -> str:
    return percent(value, missing=MISSING)


def reliability_markdown(runs: Sequence[ReliabilityRun], data: PathLike, n_bins: int,
                         plot_note: Optional[str]) -> str:
    """The "Calibration error (ECE)" section of the Markdown: one row per component and kind of
    decision (and per pipeline when there are two, the first with its ECE's difference to the
    second's); ``plot_note`` (e.g. the diagram's file name) goes under the explanation."""
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


def reliability_json(runs: Sequence[ReliabilityRun], data: PathLike, n_bins: int) -> Dict[str, Any]:
    """JSON-ready: per run and component, the bins, ECE and MCE (and the components skipped)."""
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


def write_reliability_png(runs: Sequence[ReliabilityRun], path: PathLike, title: str) -> Optional[str]:
    """Draw the reliability diagram at ``path``; ``None`` when written, else why not (no
    matplotlib, no component with probabilities)."""
    from .plots import PlotsUnavailable
    from .reliability import plot_reliability

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


@dataclass
class EvaluationTable:
    """What :func:`evaluate_table` found: the summary (with the gold support when the data was
    given), the title and notes of the Markdown, the reliability runs (empty without
    ``model`` and ``data``, or with ``reliability=False``), and whether ``model`` was loaded (a
    tagger's per-label scores or the reliability needed it)."""

    summary: Summary
    title: str
    notes: List[str] = field(default_factory=list)
    runs: List[ReliabilityRun] = field(default_factory=list)
    data: Optional[Path] = None
    n_bins: int = N_BINS
    model_loaded: bool = False

    def markdown(self, plot_note: Optional[str] = None) -> str:
        """The Markdown report: the scores table and, with reliability runs, the ECE section."""
        text = summary_markdown(self.summary, self.title, self.notes)
        if self.runs:
            text += reliability_markdown(self.runs, self.data or "", self.n_bins, plot_note)
        return text

    def reliability(self) -> Dict[str, Any]:
        """The reliability runs as JSON-ready data (:func:`reliability_json`)."""
        return reliability_json(self.runs, self.data or "", self.n_bins)


def evaluate_table(
    scores: Union[PathLike, Mapping[str, Any]],
    *,
    model: Optional[PathLike] = None,
    data: Optional[PathLike] = None,
    compare_model: Optional[PathLike] = None,
    gpu_id: int = -1,
    title: Optional[str] = None,
    reliability: bool = True,
    n_bins: int = N_BINS,
) -> EvaluationTable:
    """Summarize spaCy's evaluation ``scores`` (the JSON file ``spacy evaluate --output`` wrote,
    or its dict) and, with ``model`` (the evaluated pipeline) and ``data`` (the evaluated
    ``.spacy`` file), a tagger's per-label scores, the gold support per label and, with
    ``reliability``, the ECE per component of ``model`` (and of ``compare_model``) on ``data``.
    Writes nothing; returns an :class:`EvaluationTable` (see :func:`write_evaluation_table`).

    Raises ``ValueError`` when ``compare_model`` is given without ``model``, ``data`` and
    ``reliability``, and :class:`~.scores.UnknownScores` when ``scores`` hold no NER, span,
    tagger or textcat scores; ``title`` defaults to ``Evaluation: STEM`` of the scores file.
    """
    if isinstance(scores, Mapping):
        found = dict(scores)
        default_title = "Evaluation"
    else:
        found = json.loads(Path(scores).read_text(encoding="utf8"))
        default_title = f"Evaluation: {Path(scores).stem}"
    data = Path(data) if data is not None else None
    per_label: Optional[Dict[str, Dict[str, float]]] = None
    support: Dict[str, int] = {}
    attr: Optional[str] = None
    notes: List[str] = []
    needs_labels = not any(k in found for k in ("ents_per_type", "cats_f_per_type", "pos_per_type")) and not any(
        k.startswith("spans_") for k in found)
    measure = reliability and model is not None and data is not None
    if compare_model is not None and not measure:
        raise ValueError("compare_model needs model and data (and reliability=True): the second"
                         " pipeline's ECE is measured on the same data as the first's")
    runs: List[ReliabilityRun] = []
    model_loaded = model is not None and data is not None and (needs_labels or measure)
    if model_loaded:
        import spacy

        if gpu_id >= 0:
            spacy.require_gpu(gpu_id)
        nlp = spacy.load(model)
        examples = None
        if measure:
            name, other_name = run_names(model, compare_model)
            examples = read_examples(data, nlp)
            runs.append(reliability_run(name, nlp, examples, n_bins))
            if compare_model is not None:
                other = spacy.load(compare_model)
                runs.append(reliability_run(str(other_name), other, read_examples(data, other), n_bins))
        if needs_labels:
            attr = tagger_attr(nlp)
            if attr:
                predicted = examples if examples is not None else predict_examples(nlp, data)
                per_label, support = token_attr_prf(predicted, attr)
                notes.append(f"per-label scores of token.{attr}_ computed from {model} on {data}")
    summary = summarize_scores(found, per_label)
    if data is not None and not support:
        if summary.task == "tagger" and attr is None:
            attr = "pos" if "pos_acc" in found else "tag"
        support = gold_support(data, summary.task, attr)
    summary.support = support
    if "speed" in found:
        notes.append(f"prediction speed {float(found['speed']):,.0f} words/s")
    return EvaluationTable(summary, title or default_title, notes, runs, data, n_bins, bool(model_loaded))


@dataclass
class WrittenTable:
    """The files :func:`write_evaluation_table` wrote, the Markdown text, and why there is no
    reliability diagram (``None`` when there is one, or when nothing was measured)."""

    markdown: Path
    text: str
    reliability_json: Optional[Path] = None
    plot: Optional[Path] = None
    why_no_plot: Optional[str] = None


def write_evaluation_table(table: EvaluationTable, output: PathLike,
                           plot: Optional[PathLike] = None) -> WrittenTable:
    """Write ``table`` to ``output`` (Markdown) and, when it has reliability runs, the bins to
    ``OUTPUT.reliability.json`` and the diagram to ``plot`` (default ``OUTPUT.reliability.png``);
    each text file atomically. Returns a :class:`WrittenTable`."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not table.runs:
        text = table.markdown()
        write_atomic(output, text)
        return WrittenTable(output, text)
    plot_path = Path(plot) if plot is not None else output.with_suffix(".reliability.png")
    why_no_plot = write_reliability_png(table.runs, plot_path, f"Reliability: {table.title}")
    text = table.markdown(why_no_plot or f"reliability diagram: {plot_path.name}")
    json_path = output.with_suffix(".reliability.json")
    write_atomic(json_path, json.dumps(table.reliability(), indent=2) + "\n")
    write_atomic(output, text)
    return WrittenTable(output, text, json_path, None if why_no_plot else plot_path, why_no_plot)
