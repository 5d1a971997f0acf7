"""The report of a calibration: per-label rows, the summary, JSON, terminal tables and Markdown.

Computing is :mod:`.calibration`; this module only lays out its :class:`~.calibration.Calibration`.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ..formatting import percent
from .calibration import Calibration, Result
from .search import COARSE, FP, HOLM, TP, Fit, Gain, percent_label, prf


def _pct(value: Optional[float]) -> Optional[float]:
    """A fraction as a number of percent rounded to 2 decimals (for the JSON); None for None, NaN."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(100 * value, 2)


def _gain_json(gain: Optional[Gain]) -> Dict[str, Any]:
    if gain is None:
        return {"gain_lower_bound": None, "gain_lower_bound_is": None, "gain_interval_95": None}
    data = gain.to_json()
    return {"gain_lower_bound": data["lower_bound"], "gain_lower_bound_is": data["lower_bound_is"],
            "gain_interval_95": data["interval_95"]}


def _grid_text(grid: Any, value_format: str) -> str:
    spec = "{:+g}" if "+" in value_format else "{:g}"
    return f"{spec.format(min(grid))}..{spec.format(max(grid))}"


def edge_note(value: float, grid: Any, value_format: str = "{:.2f}", coarse: bool = False) -> Optional[str]:
    """``at the edge of the grid (searched -4..+4)`` when ``value`` is the first or last value of
    ``grid`` (the search could not go further), ``None`` otherwise."""
    if not len(grid) or not (abs(value - min(grid)) < 1e-9 or abs(value - max(grid)) < 1e-9):
        return None
    which = "spaCy's find-threshold grid" if coarse else "the grid"
    return f"at the edge of {which} (searched {_grid_text(grid, value_format)})"


def label_flags(fit: Fit, i: int, value_format: str = "{:.2f}") -> List[str]:
    """What the chosen setting does to label ``i``, on dev: ``switched off`` (no prediction of it
    left, while it had some before), ``at the edge of the grid`` (a value the calibration set at the
    first or last value of its grid), ``nothing to fit`` (F1 0 before and after)."""
    flags = []
    predicted_before = int(fit.before[i][TP] + fit.before[i][FP])
    predicted_after = int(fit.after[i][TP] + fit.after[i][FP])
    if predicted_before > 0 and predicted_after == 0:
        flags.append(f"switched off: no prediction of it left on dev ({predicted_before} before)")
    value = fit.after_values[i]
    if value != fit.before_values[i]:
        coarse = not fit.departed[i] and fit.global_candidate == COARSE
        grid = fit.grid if fit.departed[i] else (fit.global_grid or fit.grid)
        note = edge_note(value, grid, value_format, coarse=coarse)
        if note:
            flags.append(note)
    if prf(fit.before[i])[2] == 0 and prf(fit.after[i])[2] == 0:
        where = "its own value" if fit.departed[i] else ("the global value" if fit.global_value is not None
                                                         else "the current value")
        flags.append(f"F1 0 before and after: nothing to fit (keeps {where})")
    return flags


def label_rows(result: Result) -> List[Dict[str, Any]]:
    """Per label: values before / after, in-sample P/R/F1 before and after, cross-fitted F1, the
    cross-fitted gain of departing with its bootstrap bounds, and the flags of
    :func:`label_flags`."""
    fit = result.fit
    if fit is None:
        return []
    rows = []
    for i, label in enumerate(fit.labels):
        pb, rb, fb = prf(fit.before[i])
        pa, ra, fa = prf(fit.after[i])
        cv = prf(fit.cv_chosen[i])[2] if fit.cv_chosen is not None else None
        flags = label_flags(fit, i, result.value_format)
        gain = fit.label_gains[i] if i < len(fit.label_gains) else None
        rows.append({
            "label": label or "(spans)", "support": int(fit.support[i]) if i < len(fit.support) else None,
            "before": fit.before_values[i], "after": fit.after_values[i],
            "departed": bool(fit.departed[i]), "rule": fit.reasons[i],
            "p_before": _pct(pb), "r_before": _pct(rb), "f_before": _pct(fb),
            "p_after": _pct(pa), "r_after": _pct(ra), "f_after": _pct(fa),
            "f_cross_fitted": _pct(cv),
            "gain_cross_fitted": _pct(fit.gains[i]) if fit.gains[i] is not None else None,
            **_gain_json(gain),
            "flags": flags,
            "switched_off": any(f.startswith("switched off") for f in flags),
            "at_grid_edge": any(f.startswith("at the edge") for f in flags),
            "nothing_to_fit": any(f.startswith("F1 0 before and after") for f in flags),
        })
    return rows


def _candidates_json(candidates: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{"name": c["name"], "grid": c.get("grid"), "option": c.get("option"), "value": c["value"],
             "score_cross_fitted": _pct(c["score_cv"])} for c in candidates]


def global_summary(result: Result) -> Dict[str, Any]:
    """The global value (or the finder's choice): the candidates (the fine grid; for threshold
    settings spaCy's find-threshold grid too) with their cross-fitted scores, the one compared
    with the current setting, its gain with the bootstrap bounds, the rule that kept or moved it,
    and whether its value is at the edge of its grid."""
    if result.fit is not None:
        fit = result.fit
        edge = None
        if fit.global_value is not None:
            edge = edge_note(fit.global_value, fit.global_grid or fit.grid, result.value_format,
                             coarse=fit.global_candidate == COARSE)
        return {"candidate": fit.global_candidate, "candidates": _candidates_json(fit.global_candidates),
                "value": fit.global_value, "rule": fit.global_rule,
                "gain": fit.global_gain.to_json() if fit.global_gain is not None else None, "edge": edge}
    choice = result.choice
    assert choice is not None
    return {"candidate": choice.candidate, "candidates": _candidates_json(choice.candidates),
            "value": choice.value, "rule": choice.rule,
            "gain": choice.gain.to_json() if choice.gain is not None else None, "edge": None}


def summary(result: Result) -> Dict[str, Any]:
    """One component's scores before, after (in-sample) and cross-fitted, in %."""
    if result.fit is not None:
        fit = result.fit
        return {
            "score_before": _pct(fit.score_before), "score_after_in_sample": _pct(fit.score_after),
            "score_cross_fitted_global": _pct(fit.score_cv_global),
            "score_cross_fitted_chosen": _pct(fit.score_cv_chosen),
            "global_value": fit.global_value, "folds": fit.folds, "confidence": fit.confidence,
            "global_confidence": fit.global_confidence, "correction": fit.correction,
            "global": global_summary(result),
        }
    choice = result.choice
    assert choice is not None
    return {
        "score_before": _pct(choice.score_before), "score_after_in_sample": _pct(choice.score_after),
        "score_cross_fitted_chosen": _pct(choice.score_cv), "adopted": choice.adopted,
        "folds": choice.folds, "confidence": choice.confidence, "global": global_summary(result),
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


def _gain_cell(gain: Optional[float], interval: Optional[List[float]]) -> str:
    if gain is None:
        return "-"
    if interval is None:
        return f"{gain:+.2f}"
    return f"{gain:+.2f} [{interval[0]:+.2f}, {interval[1]:+.2f}]"


def _global_note(result: Result, s: Dict[str, Any]) -> Optional[str]:
    """One line on the global value: the candidates, the one chosen, the rule, the edge."""
    g = s.get("global")
    if not g or not g["candidates"]:
        return None
    parts = []
    for c in g["candidates"]:
        if result.fit is not None:
            value = result.value_format.format(c["value"])
        else:  # a span finder's choice: its threshold and the categorizer's global threshold
            finder = result.finder_rows[c["option"]]["finder_threshold"] if result.finder_rows else c["option"]
            value = f"finder {finder:g} with global threshold {c['value']:g}"
        better = c["name"] == g["candidate"] and len(g["candidates"]) > 1
        chosen = " <- the better one, compared with the current setting" if better else ""
        parts.append(f"{c['name']} {value}, cross-fitted {_fmt(c['score_cross_fitted'])}{chosen}")
    text = f"global value ({'; '.join(parts)}): {g['rule']}"
    if g["gain"] is not None:
        lo, hi = g["gain"]["interval_95"]
        text += f"; two-sided 95% interval [{lo:+.2f}, {hi:+.2f}]"
    if g.get("edge"):
        text += f"; {g['edge']}"
    return text


def tables(calibration: Calibration) -> List[Tuple[str, List[str], List[List[str]], List[str]]]:
    """``(title, header, rows, notes)`` per component, for the terminal and the Markdown report."""
    out = []
    confidence = calibration.options.get("confidence")
    for r in calibration.results:
        s = summary(r)
        if r.fit is not None:
            header = ["label", "support", "before", "after", "P", "R", "F1", "P'", "R'", "F1'",
                      "F1' cross-fitted", "gain [95% interval]", "rule", "flags"]
            rows = [
                [row["label"], _fmt(row["support"]), _fmt(row["before"], r.value_format),
                 _fmt(row["after"], r.value_format), _fmt(row["p_before"]), _fmt(row["r_before"]),
                 _fmt(row["f_before"]), _fmt(row["p_after"]), _fmt(row["r_after"]),
                 _fmt(row["f_after"]), _fmt(row["f_cross_fitted"]),
                 _gain_cell(row["gain_cross_fitted"], row["gain_interval_95"]), row["rule"],
                 "; ".join(row["flags"])]
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
        global_note = _global_note(r, s)
        if global_note:
            notes.insert(0, global_note)
        if r.fit is not None and r.fit.folds and any(g is not None for g in r.fit.label_gains):
            notes.append(
                "gain: the cross-fitted gain of the label's own value over its base (points), with the"
                " two-sided 95% interval of a paired bootstrap over the dev "
                + ("source documents" if calibration.options.get("source_docs") else "docs")
                + f" ({r.fit.global_gain.resamples if r.fit.global_gain else ''} resamples);"
                + ((f" a change is adopted when its one-sided {percent_label(confidence)} lower bound"
                    " (in rule) is > 0" + ("; with Holm's correction each label's own bar is in its rule"
                                           if r.fit.correction == HOLM else ""))
                   if confidence else " confidence 0: any positive gain is adopted")
            )
        if r.unknown_labels:
            notes.append(
                "dev labels the model does not know (ignored): "
                + ", ".join(f"{k} ({v})" for k, v in sorted(r.unknown_labels.items()))
            )
        if r.config:
            notes.append("stored: " + ", ".join(f"{k} = {v}" for k, v in r.config.items()))
        out.append((title, header, rows, notes))
    return out


def _global_bar(options: Dict[str, Any]) -> str:
    """``; the global value's bar: ...`` where ``global_confidence`` differs from ``confidence``."""
    value = options.get("global_confidence")
    if value is None or value == options.get("confidence"):
        return ""
    if value == 0:
        return "; the global value's bar: confidence 0 (adopted when its cross-fitted gain is positive)"
    return f"; the global value's bar: confidence {value:g} (one-sided {percent_label(value)} lower bound > 0)"


def _correction(options: Dict[str, Any]) -> str:
    """``; departures: ...`` with Holm's correction (at a confidence above 0)."""
    if options.get("correction") != HOLM or not options.get("confidence"):
        return ""
    return ("; the departures of a component's labels are one family (Holm's step-down: the k-th"
            " of m labels tested, ranked by bootstrap p-value, must pass 1 - (1 - confidence) / (m - k))")


def to_markdown(calibration: Calibration, *, model: str = "", output: str = "") -> str:
    """The report as Markdown (``STEM.md``): the options, then :func:`tables` as Markdown tables."""
    lines = [f"# Calibration of {model or 'the pipeline'}", ""]
    o = calibration.options
    lines.append(
        f"{calibration.n_docs} dev docs"
        + (f" from {o['source_docs']} source documents (the folds and the bootstrap take whole source"
           " documents)" if o.get("source_docs") else "")
        + f"; metric {o['metric']}"
        + (f" (precision >= {o['min_precision']})" if o["metric"] == "recall" else "")
        + f"; {o['folds']} folds (seed {o['seed']}); min_support {o['min_support']}"
        + (f"; confidence {o['confidence']:g} (a change is adopted when the one-sided"
           f" {percent_label(o['confidence'])} lower bound of its cross-fitted gain, paired bootstrap"
           " over the dev docs, is > 0)" if o.get("confidence") else
           ("; confidence 0 (any positive cross-fitted gain is adopted)" if "confidence" in o else ""))
        + _global_bar(o)
        + _correction(o)
        + "."
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
