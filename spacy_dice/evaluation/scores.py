"""spaCy's scores summarized per task: headline metrics and per-label P/R/F1.

:func:`summarize_scores` reads the scores that ``spacy evaluate`` writes (or ``nlp.evaluate``
returns) into a :class:`Summary` whatever the task (NER, spans, textcat, tagger);
:func:`token_attr_prf` computes a tagger's per-label scores, which spaCy's own scores lack;
:func:`gold_support` counts the gold of each label in a ``.spacy`` file; :func:`summary_markdown`
lays a summary out as a Markdown table. Used by ``evaluate-table``
(:mod:`.evaluate_table`) and by the ``compare`` / ``sweep`` grids
(:mod:`spacy_dice.training.compare`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ..files import read_examples
from ..formatting import percent

PathLike = Union[str, Path]
MISSING = "–"
"""What the tables print for a score that is missing (an en dash)."""


class UnknownScores(ValueError):
    """Scores of no task :func:`summarize_scores` knows (NER, spans, textcat, tagger)."""


@dataclass
class Summary:
    """The headline numbers of one evaluation, whatever the task."""

    task: str  # "ner", "words", "spans", "tagger" or "textcat"
    metrics: List[Tuple[str, Optional[float]]]  # (name, value in 0..1), e.g. P, R, F1
    main: Tuple[str, Optional[float]]  # the number a table sorts by (F1 or accuracy)
    per_label: Dict[str, Dict[str, float]]  # label -> {"p", "r", "f"} in 0..1
    support: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Summary":
        """The inverse of :func:`dataclasses.asdict` (after a JSON round trip: lists to tuples)."""
        return cls(task=data["task"], metrics=[tuple(m) for m in data["metrics"]],  # type: ignore[misc]
                   main=tuple(data["main"]), per_label=data["per_label"],  # type: ignore[arg-type]
                   support=data.get("support") or {})


def _f(value: Any) -> Optional[float]:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def summarize_scores(scores: Dict[str, Any], per_label: Optional[Dict[str, Dict[str, float]]] = None) -> Summary:
    """The :class:`Summary` of spaCy scores (``spacy evaluate`` JSON or ``nlp.evaluate``):
    headline metrics and per-label P/R/F1 of the first task found (NER, words: ``dice_seg_tagger``'s
    ``pos_f``, spans, textcat, tagger);
    ``per_label`` (e.g. from :func:`token_attr_prf`) fills in where the scores have none (taggers).
    Raises :class:`UnknownScores` (a ``ValueError``) naming the keys found when ``scores`` hold
    none of these tasks."""
    if "ents_f" in scores:
        return Summary(
            "ner",
            [("P", _f(scores.get("ents_p"))), ("R", _f(scores.get("ents_r"))), ("F1", _f(scores.get("ents_f")))],
            ("F1", _f(scores.get("ents_f"))),
            dict(scores.get("ents_per_type") or per_label or {}),
        )
    if scores.get("pos_f") is not None or "pos_per_type" in scores:  # dice_seg_tagger: (word, POS) pairs
        return Summary(
            "words",
            [("P", _f(scores.get("pos_p"))), ("R", _f(scores.get("pos_r"))), ("F1", _f(scores.get("pos_f"))),
             ("segmentation P", _f(scores.get("seg_p"))), ("segmentation R", _f(scores.get("seg_r"))),
             ("segmentation F1", _f(scores.get("seg_f")))],
            ("F1", _f(scores.get("pos_f"))),
            dict(scores.get("pos_per_type") or per_label or {}),
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
    raise UnknownScores(f"no NER, span, tagger or textcat scores among {', '.join(sorted(scores)) or 'none'}")


def token_attr_prf(examples: Iterable[Any], attr: str) -> Tuple[Dict[str, Dict[str, float]], Dict[str, int]]:
    """Per-label P/R/F1 of a token attribute (``pos``/``tag``) over predicted examples.

    Gold values are aligned to the predicted tokens; tokens without a gold value are skipped.
    Returns ``(per_label, gold_support)``, the labels by decreasing support.
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
    """``pos`` or ``tag``: what the pipeline's ``dice_tagger`` (or tagger, morphologizer)
    predicts; ``None`` when it has no tagger."""
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory == "dice_tagger":
            return getattr(nlp.get_pipe(name), "cfg", {}).get("attr") or "tag"
        if factory == "tagger":
            return "tag"
        if factory == "morphologizer":
            return "pos"
    return None


def predict_examples(nlp: Any, data_path: PathLike) -> List[Any]:
    """The examples of the ``.spacy`` file ``data_path``, their predicted docs annotated by ``nlp``."""
    examples = read_examples(data_path, nlp)
    docs = nlp.pipe([eg.predicted for eg in examples], batch_size=256)
    for eg, doc in zip(examples, docs):
        eg.predicted = doc
    return examples


def gold_support(data_path: PathLike, task: str, attr: Optional[str] = None) -> Dict[str, int]:
    """How many gold entities / spans / documents / tokens / words (``task`` ``ner``, ``spans``,
    ``textcat``, ``tagger`` with ``attr``, ``words``: ``doc.spans["words"]``) each label has in the
    ``.spacy`` file ``data_path``."""
    import spacy
    from spacy.tokens import DocBin

    counts: Counter = Counter()
    for doc in DocBin().from_disk(data_path).get_docs(spacy.blank("en").vocab):
        if task == "ner":
            counts.update(ent.label_ for ent in doc.ents)
        elif task == "spans":
            counts.update(span.label_ for group in doc.spans.values() for span in group)
        elif task == "words":
            counts.update(span.label_ for span in doc.spans.get("words", []))
        elif task == "textcat":
            counts.update(k for k, v in doc.cats.items() if v >= 0.5)
        elif attr:
            counts.update(getattr(t, f"{attr}_") for t in doc if getattr(t, f"{attr}_"))
    return dict(counts)


def summary_markdown(summary: Summary, title: str, notes: Iterable[str] = ()) -> str:
    """A Markdown report of ``summary``: the title, the notes in italics, the headline metrics,
    then one row per label (P, R, F1 and, when known, the gold support; by decreasing support)."""
    notes = list(notes)
    lines = [f"# {title}", ""]
    lines += [f"_{note}_" for note in notes]
    if notes:
        lines.append("")
    lines += ["| metric | value |", "|---|---:|"]
    lines += [f"| {name} | {percent(value, missing=MISSING)} |" for name, value in summary.metrics]
    if summary.per_label:
        has_support = bool(summary.support)
        lines += ["", "## Per label", ""]
        header = "| label | P | R | F1 |" + (" support |" if has_support else "")
        lines += [header, "|---|---:|---:|---:|" + ("---:|" if has_support else "")]
        items = list(summary.per_label.items())
        if has_support:
            items.sort(key=lambda kv: -summary.support.get(kv[0], 0))
        for label, prf in items:
            row = (f"| {label} | {percent(prf.get('p'), missing=MISSING)} |"
                   f" {percent(prf.get('r'), missing=MISSING)} | {percent(prf.get('f'), missing=MISSING)} |")
            if has_support:
                row += f" {summary.support.get(label, 0):,} |"
            lines.append(row)
    return "\n".join(lines) + "\n"
