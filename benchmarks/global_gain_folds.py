"""How far ``calibrate``'s decision on the one global value depends on how dev is folded.

``calibrate`` adopts the global value (a threshold or bias for every label) when its cross-fitted
gain over the current setting is positive (``--global-confidence 0``, the default):

    gain = F1(held-out counts, each fold at the value fitted on the other folds) - F1(current setting)

With a small dev set that estimate moves with the folds. For every ``model-best`` of a
``run_accuracy`` results file, this refits ``calibrate`` (its defaults otherwise) on all of dev
with ``--folds K`` for each ``K`` of ``--folds`` and ``--fold-seeds`` fold seeds each, and keeps per
component the global gain, whether it was adopted and the value fitted on all of dev. ``loo``
among the ``--folds`` is one fold per dev unit (leave one source document out; the seed does not
matter, so it runs once). Nothing is scored on test. Results:
``benchmarks/results/STEM_global_folds.json``::

    python -m benchmarks.global_gain_folds --results uner_spans_calib --folds 5,10,20,loo --fold-seeds 20
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.calibrated_accuracy import RESULTS
from benchmarks.calibration_rules import EVERY_UNIT, LOO, fold_count, fold_name
from benchmarks.run_accuracy import git_commit, machine
from spacy_dice.files import write_atomic


def parse_folds(text: str) -> List[int]:
    """``"5,10,loo"`` -> ``[5, 10, EVERY_UNIT]``; ``ValueError`` naming ``--folds`` for a fold count
    below 2, a word other than ``loo`` or nothing at all."""
    try:
        out = [fold_count(item) for item in filter(None, (part.strip() for part in text.split(",")))]
    except ValueError as err:
        raise ValueError(f"--folds {text!r}: {err}") from None
    if not out:
        raise ValueError(f"--folds {text!r}: give at least one fold count")
    return out


def global_decisions(model: Path, dev: Path, folds: Sequence[int], fold_seeds: int) -> Dict[str, Any]:
    """Per component with a global value (``calibrate``'s :class:`~spacy_dice.decisions.search.Fit`):
    per fold count (by :func:`fold_name`), one entry per fold seed (one for :data:`EVERY_UNIT`):
    ``seed``, ``folds`` used, ``gain`` in F1 points, ``adopted``, the ``value`` fitted on all of dev
    and its ``candidate`` grid."""
    import spacy

    from spacy_dice.decisions import calibrate, read_dev

    examples = read_dev(spacy.load(model), dev)
    out: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for k in folds:
        setting = fold_name(k)
        for seed in range(1 if k == EVERY_UNIT else fold_seeds):
            with contextlib.redirect_stdout(io.StringIO()):
                calibration = calibrate(spacy.load(model), examples, folds=k, seed=seed)
            for result in calibration.results:
                fit = result.fit
                if fit is None or fit.global_gain is None:
                    continue
                value = next(c["value"] for c in fit.global_candidates if c["name"] == fit.global_candidate)
                out.setdefault(result.name, {}).setdefault(setting, []).append({
                    "seed": seed, "folds": fit.folds, "gain": round(100 * fit.global_gain.value, 2),
                    "adopted": fit.global_value is not None, "value": value,
                    "candidate": fit.global_candidate,
                })
    return out


def summary(entries: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Mean, lowest and highest gain over the fold seeds and the share adopted."""
    gains = [e["gain"] for e in entries]
    return {"folds": entries[0]["folds"], "fold_seeds": len(entries), "mean_gain": round(statistics.fmean(gains), 2),
            "min_gain": min(gains), "max_gain": max(gains),
            "adopted": sum(e["adopted"] for e in entries), "values": sorted({e["value"] for e in entries})}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", required=True, help="stem of a run_accuracy results file")
    p.add_argument("--folds", default="5,10,20,loo", help=f"comma-separated fold counts (>= 2) or {LOO!r}")
    p.add_argument("--fold-seeds", type=int, default=20, help="fold seeds per fold count (loo: one)")
    p.add_argument("--rows", default="", help="comma-separated rows (default: every row)")
    p.add_argument("--results-dir", default=str(RESULTS))
    args = p.parse_args(argv)
    try:
        folds = parse_folds(args.folds)
    except ValueError as err:
        p.error(str(err))
    if args.fold_seeds < 1:
        p.error(f"--fold-seeds {args.fold_seeds}: give at least 1")
    out = Path(args.results_dir)
    source = json.loads((out / f"{args.results}.json").read_text())
    dev = Path(source["meta"]["data"]["dev"])
    wanted = [r for r in args.rows.split(",") if r]
    records = []
    for run in source["runs"]:
        if wanted and run["name"] not in wanted:
            continue
        found = global_decisions(Path(run["paths"]["model_best"]), dev, folds, args.fold_seeds)
        for component, by_setting in found.items():
            summaries = {setting: summary(entries) for setting, entries in by_setting.items()}
            records.append({"name": run["name"], "seed": run["seed"], "component": component,
                            "summary": summaries, "entries": by_setting})
            line = "; ".join(f"{s} ({v['folds']} folds): mean {v['mean_gain']:+.2f} [{v['min_gain']:+.2f},"
                             f" {v['max_gain']:+.2f}], adopted {v['adopted']}/{v['fold_seeds']}"
                             for s, v in summaries.items())
            print(f"=== {run['name']} seed {run['seed']} {component}: {line}", flush=True)
    command = "python -m benchmarks.global_gain_folds " + " ".join(argv if argv is not None else sys.argv[1:])
    data = {"meta": {"source": args.results, "dev": str(dev), "folds": [fold_name(k) for k in folds],
                     "fold_seeds": args.fold_seeds,
                     "command": command, "train_rerun": source["meta"].get("commands", []),
                     "machine": machine(), "git_commit": git_commit()},
            "runs": records}
    write_atomic(out / f"{args.results}_global_folds.json", json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
