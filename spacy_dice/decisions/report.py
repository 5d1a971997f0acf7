"""The report of a calibration: per-label rows, the summary, JSON, terminal tables and Markdown.

Computing is :mod:`.calibration`; this module only lays out its :class:`~.calibration.Calibration`.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ..formatting import percent
from .calibration import Calibration, Result
from .search import prf


def _pct(value: Optional[float]) -> Optional[float]:
    """A fraction as a number of percent rounded to 2 decimals (for the JSON); None for None, NaN."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(100 * value, 2)


def label_rows(result: Result) -> List[Dict[str, Any]]:
    """Per label: values before / after, in-sample P/R/F1 before and after, cross-fitted F1."""
    fit = result.fit
    if fit is None:
        return []
    rows = []
    for i, label in enumerate(fit.labels):
        pb, rb, fb = prf(fit.before[i])
        pa, ra, fa = prf(fit.after[i])
        cv = prf(fit.cv_chosen[i])[2] if fit.cv_chosen is not None else None
        rows.append({
            "label": label or "(spans)", "support": int(fit.support[i]) if i < len(fit.support) else None,
            "before": fit.before_values[i], "after": fit.after_values[i],
            "departed": bool(fit.departed[i]), "rule": fit.reasons[i],
            "p_before": _pct(pb), "r_before": _pct(rb), "f_before": _pct(fb),
            "p_after": _pct(pa), "r_after": _pct(ra), "f_after": _pct(fa),
            "f_cross_fitted": _pct(cv),
            "gain_cross_fitted": _pct(fit.gains[i]) if fit.gains[i] is not None else None,
        })
    return rows


def summary(result: Result) -> Dict[str, Any]:
    """One component's scores before, after (in-sample) and cross-fitted, in %."""
    if result.fit is not None:
        fit = result.fit
        return {
            "score_before": _pct(fit.score_before), "score_after_in_sample": _pct(fit.score_after),
            "score_cross_fitted_global": _pct(fit.score_cv_global),
            "score_cross_fitted_chosen": _pct(fit.score_cv_chosen),
            "global_value": fit.global_value, "folds": fit.folds,
        }
    choice = result.choice
    assert choice is not None
    return {
        "score_before": _pct(choice.score_before), "score_after_in_sample": _pct(choice.score_after),
        "score_cross_fitted_chosen": _pct(choice.score_cv), "adopted": choice.adopted,
        "folds": choice.folds,
    }


def to_json(calibration: Calibration, *, model: str = "", dev: str = "", output: str = "",
            seconds: Optional[float] = None) -> Dict[str, Any]:
    """The report's data (``STEM.json``): the options, what was skipped and why, and per
    component its summary, per-label rows, finder rows and the settings stored."""
    return {
        "model": model, "dev": dev, "output": output, "n_docs": calibration.n_docs,
        "options": calibration.options, "seconds": seconds,
        "skipped": calibration.skipped,
        "components": [
            {
                "name": r.name, "factory": r.factory, "setting": r.setting, "objective": r.objective,
                "score_key": r.score_key, "summary": summary(r), "labels": label_rows(r),
                "finder": r.finder_rows, "config": r.config, "unknown_labels": r.unknown_labels,
                "notes": r.notes,
            }
            for r in calibration.results
        ],
    }


def _fmt(value: Any, spec: str = "{:.2f}") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return spec.format(value)
    return str(value)


def tables(calibration: Calibration) -> List[Tuple[str, List[str], List[List[str]], List[str]]]:
    """``(title, header, rows, notes)`` per component, for the terminal and the Markdown report."""
    out = []
    for r in calibration.results:
        s = summary(r)
        if r.fit is not None:
            header = ["label", "support", "before", "after", "P", "R", "F1", "P'", "R'", "F1'",
                      "F1' cross-fitted", "rule"]
            rows = [
                [row["label"], _fmt(row["support"]), _fmt(row["before"], r.value_format),
                 _fmt(row["after"], r.value_format), _fmt(row["p_before"]), _fmt(row["r_before"]),
                 _fmt(row["f_before"]), _fmt(row["p_after"]), _fmt(row["r_after"]),
                 _fmt(row["f_after"]), _fmt(row["f_cross_fitted"]), row["rule"]]
                for row in label_rows(r)
            ]
            title = (
                f"{r.name} ({r.factory}, {r.setting}; {r.objective}): {_fmt(s['score_before'])} before,"
                f" {_fmt(s['score_after_in_sample'])} after in-sample, {_fmt(s['score_cross_fitted_chosen'])}"
                f" cross-fitted ({s['folds']} folds; one global value: {_fmt(s['score_cross_fitted_global'])})"
            )
        else:
            header = ["finder threshold", "candidates", "candidate recall", "best F1 (global threshold)"]
            rows = [
                [_fmt(row["finder_threshold"]) + (" (current)" if row["current"] else ""),
                 str(row["candidates"]), percent(row["candidate_recall"]), percent(row["best_global_f"])]
                for row in r.finder_rows
            ]
            chosen = r.config.get("threshold")
            title = (
                f"{r.name} ({r.factory}, threshold; {r.objective}): {_fmt(s['score_before'])} before,"
                f" {_fmt(s['score_after_in_sample'])} in-sample, {_fmt(s['score_cross_fitted_chosen'])}"
                f" cross-fitted ({s['folds']} folds); threshold "
                + (f"-> {chosen:g}" if chosen is not None else "kept")
            )
        notes = list(r.notes)
        if r.unknown_labels:
            notes.append(
                "dev labels the model does not know (ignored): "
                + ", ".join(f"{k} ({v})" for k, v in sorted(r.unknown_labels.items()))
            )
        if r.config:
            notes.append("stored: " + ", ".join(f"{k} = {v}" for k, v in r.config.items()))
        out.append((title, header, rows, notes))
    return out


def to_markdown(calibration: Calibration, *, model: str = "", output: str = "") -> str:
    """The report as Markdown (``STEM.md``): the options, then :func:`tables` as Markdown tables."""
    lines = [f"# Calibration of {model or 'the pipeline'}", ""]
    o = calibration.options
    lines.append(
        f"{calibration.n_docs} dev docs; metric {o['metric']}"
        + (f" (precision >= {o['min_precision']})" if o["metric"] == "recall" else "")
        + f"; {o['folds']} folds (seed {o['seed']}); min_support {o['min_support']}."
        + (f" Calibrated pipeline: `{output}`." if output else "")
    )
    lines.append("")
    lines.append(
        "P, R, F1: before; P', R', F1': after, in-sample (fitted and scored on all of dev);"
        " F1' cross-fitted: each fold scored by values fitted on the other folds (the honest"
        " estimate). Percentages."
    )
    for title, header, rows, notes in tables(calibration):
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
        if notes:
            lines.append("")
            lines += [f"- {note}" for note in notes]
    if calibration.skipped:
        lines += ["", "Not calibrated: " + "; ".join(f"{k}: {v}" for k, v in calibration.skipped.items())]
    return "\n".join(lines) + "\n"
