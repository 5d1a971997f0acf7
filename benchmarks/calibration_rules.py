"""Which decision rule to fit on a small dev set, judged on held-out dev docs only (never test).

For every ``model-best`` of a ``run_accuracy`` results file (``benchmarks/results/STEM.json``), the
dev docs are split into ``--folds`` outer folds (seeded, apart from ``calibrate``'s own inner
folds). On each outer fold every rule is fitted on the other folds and scored on that fold; the
held-out counts are pooled, so each rule gets the F1 it would have on dev docs it never saw:

* ``as_trained``: nothing fitted;
* ``find_threshold``: spaCy's ``find-threshold`` search (one global threshold, ``--trials`` values;
  span tasks only);
* ``global_only``: ``calibrate --global-confidence 0.95`` with ``--min-support`` above every
  label's dev support, so no label departs from the one global value;
* ``calibrate@C`` for each ``--confidences`` value C: ``calibrate --confidence C
  --global-confidence C`` (one bar for the global value and the departures; cross-fitted
  per-label departures, each adopted only when its gain is beyond the noise at C; ``calibrate@0``
  is the rule before the noise check). This is where ``calibrate``'s default confidence is chosen;
* ``calibrate@C/global@G`` for each ``--pairs`` value ``C:G``: ``calibrate --confidence C
  --global-confidence G`` (a separate bar for the one global value).

``--dev-limit N`` keeps the first N dev docs (what a small dev set costs). The paired bootstrap
(:mod:`benchmarks.bootstrap`) over the held-out dev docs gives the intervals. Results:
``benchmarks/results/STEM_rules.json`` and ``STEM_rules_counts.npz`` (``--name`` to change)::

    python -m benchmarks.calibration_rules --results uner_spans_calib
    python -m benchmarks.calibration_rules --results uner_calib --dev-limit 300 --name uner_calib_dev300
    python -m benchmarks.calibration_rules --results uner_spans_calib --confidences 0.95 --pairs 0.95:0,0.95:0.5
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy

from benchmarks.bootstrap import RESAMPLES, seed_intervals
from benchmarks.calibrated_accuracy import (
    RESULTS,
    find_global_threshold,
    model_labels,
    save_results,
    scored_component,
    summarize,
    test_counts,
)
from benchmarks.run_accuracy import git_commit, machine
from spacy_dice.decisions.calibration import CalibrationError
from spacy_dice.decisions.search import make_folds
from spacy_dice.formatting import percent

OUTER_SEED = 1234
NO_DEPARTURE = 10 ** 9


def _to_file(examples: Sequence[Any], path: Path) -> Path:
    from spacy.tokens import DocBin

    DocBin(docs=[eg.reference for eg in examples]).to_disk(path)
    return path


DEFAULT_CONFIDENCES = (0.0, 0.95)


def confidence_rule(confidence: float) -> str:
    """The rule name of ``calibrate --confidence confidence``: ``calibrate@0.95``."""
    return f"calibrate@{confidence:g}"


def pair_rule(confidence: float, global_confidence: float) -> str:
    """The rule name of ``calibrate --confidence C --global-confidence G``: ``calibrate@0.95/global@0``."""
    return f"{confidence_rule(confidence)}/global@{global_confidence:g}"


def parse_pairs(text: str) -> List[Tuple[float, float]]:
    """``"0.95:0,0.99:0.5"`` -> ``[(0.95, 0.0), (0.99, 0.5)]``; ``ValueError`` for anything else."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            confidence, global_confidence = (float(x) for x in item.split(":"))
        except ValueError:
            raise ValueError(f"--pairs {text!r}: each item is CONFIDENCE:GLOBAL_CONFIDENCE, not {item!r}") from None
        if not (0 <= confidence < 1 and 0 <= global_confidence < 1):
            raise ValueError(f"--pairs {text!r}: both values of {item!r} must be in [0, 1)")
        pairs.append((confidence, global_confidence))
    return pairs


def held_out_counts(model: Path, task: str, dev: Path, folds: int, trials: int,
                    confidences: Sequence[float] = DEFAULT_CONFIDENCES,
                    dev_limit: Optional[int] = None,
                    pairs: Sequence[Tuple[float, float]] = ()) -> Dict[str, Any]:
    """Per rule, the ``(n_dev_docs, n_labels, 3)`` counts of each dev doc when it was held out
    (the first ``dev_limit`` dev docs when given)."""
    import spacy

    from spacy_dice.decisions import calibrate, read_dev

    pipe_name, what = scored_component(task)
    as_trained = spacy.load(model)
    examples = read_dev(as_trained, dev)[:dev_limit]
    labels = model_labels(as_trained, pipe_name, examples, what)
    # calibrate@C: one bar C for the global value and the departures (the rule of the studies
    # before calibrate's global value got its own bar); global_only: the global value at 0.95
    by_rule = {confidence_rule(c): {"confidence": c, "global_confidence": c} for c in confidences}
    by_rule.update({pair_rule(c, g): {"confidence": c, "global_confidence": g} for c, g in pairs})
    by_rule["global_only"] = {"min_support": NO_DEPARTURE, "global_confidence": 0.95}
    rules = ["as_trained"] + (["find_threshold"] if what == "spans" else []) + ["global_only"] \
        + [confidence_rule(c) for c in confidences] + [pair_rule(c, g) for c, g in pairs]
    counts = {rule: numpy.zeros((len(examples), len(labels), 3), dtype="int32") for rule in rules}
    chosen: Dict[str, List[Any]] = {rule: [] for rule in rules}
    for held in make_folds(len(examples), folds, OUTER_SEED):
        fit_on = [examples[i] for i in numpy.setdiff1d(numpy.arange(len(examples)), held)]
        scored = [examples[i] for i in held]
        for rule in rules:
            nlp = as_trained if rule == "as_trained" else spacy.load(model)  # fitted rules change it
            if rule == "find_threshold":
                with tempfile.TemporaryDirectory() as tmp:
                    found = find_global_threshold(nlp, _to_file(fit_on, Path(tmp) / "fit.spacy"), pipe_name, trials)
                nlp.get_pipe(pipe_name).cfg["threshold"] = found["threshold"]
                chosen[rule].append(found["threshold"])
            elif rule != "as_trained":
                options = by_rule[rule]
                with contextlib.redirect_stdout(io.StringIO()):
                    calibration = calibrate(nlp, fit_on, **options)
                chosen[rule].append({r.name: r.config for r in calibration.results})
            counts[rule][held] = test_counts(nlp, scored, what, labels)
    return {"labels": labels, "counts": counts, "chosen": chosen, "n_docs": len(examples)}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", required=True, help="stem of a run_accuracy results file")
    p.add_argument("--folds", type=int, default=5, help="outer folds of the dev docs")
    p.add_argument("--trials", type=int, default=21, help="spaCy find-threshold trials (values 0..1)")
    p.add_argument("--confidences", default=",".join(f"{c:g}" for c in DEFAULT_CONFIDENCES),
                   help="comma-separated calibrate --confidence values, one rule each")
    p.add_argument("--pairs", default="", help="comma-separated CONFIDENCE:GLOBAL_CONFIDENCE, one rule each"
                   " (calibrate --confidence C --global-confidence G)")
    p.add_argument("--dev-limit", type=int, default=None, help="keep the first N dev docs (a small dev set)")
    p.add_argument("--name", default="", help="output stem (default: RESULTS_rules)")
    p.add_argument("--rows", default="", help="comma-separated rows (default: every row; a row whose"
                   " component calibrate cannot tune, e.g. spaCy's ner, is skipped and said so)")
    p.add_argument("--resamples", type=int, default=RESAMPLES)
    p.add_argument("--results-dir", default=str(RESULTS))
    args = p.parse_args(argv)
    confidences = [float(c) for c in args.confidences.split(",") if c.strip()]
    if not confidences or any(not 0 <= c < 1 for c in confidences):
        p.error(f"--confidences {args.confidences!r}: each value must be in [0, 1)")
    try:
        pairs = parse_pairs(args.pairs)
    except ValueError as err:
        p.error(str(err))

    out = Path(args.results_dir)
    source = json.loads((out / f"{args.results}.json").read_text())
    task = source["meta"]["task"]
    dev = Path(source["meta"]["data"]["dev"])
    records: List[Dict[str, Any]] = []
    arrays: Dict[str, numpy.ndarray] = {}
    wanted = [r for r in args.rows.split(",") if r]
    for run in source["runs"]:
        if wanted and run["name"] not in wanted:
            continue
        started = time.perf_counter()
        try:
            found = held_out_counts(Path(run["paths"]["model_best"]), task, dev, args.folds, args.trials,
                                    confidences, args.dev_limit, pairs)
        except CalibrationError as err:  # e.g. nothing calibrate can tune in this pipeline
            print(f"=== {run['name']} seed {run['seed']}: skipped, {' '.join(str(err).split())[:300]}", flush=True)
            continue
        rules = {rule: summarize(c, found["labels"]) for rule, c in found["counts"].items()}
        for rule, array in found["counts"].items():
            arrays[f"{run['name']}/{rule}/s{run['seed']}"] = array
        records.append({"name": run["name"], "seed": run["seed"], "labels": found["labels"],
                        "dev_docs": found["n_docs"], "rules": rules, "chosen": found["chosen"],
                        "seconds": round(time.perf_counter() - started, 1)})
        line = ", ".join(f"{rule} {percent(r['f'])}" for rule, r in rules.items())
        print(f"=== {run['name']} seed {run['seed']} (held-out dev): {line}", flush=True)
    comparisons = []
    rules = list(records[0]["rules"])
    calibrate_rules = [confidence_rule(c) for c in confidences] + [pair_rule(c, g) for c, g in pairs]
    pairs = [("as_trained", rule) for rule in rules[1:]]
    pairs += [(rule, b) for rule in ("find_threshold", "global_only") if rule in rules for b in calibrate_rules]
    pairs += [(calibrate_rules[0], b) for b in calibrate_rules[1:]]
    for row in dict.fromkeys(r["name"] for r in records):
        seeds = [r["seed"] for r in records if r["name"] == row]
        for a, b in pairs:
            found = seed_intervals(arrays, f"{row}/{a}", f"{row}/{b}", seeds, resamples=args.resamples)
            comparisons.append({"a": f"{row}/{a}", "b": f"{row}/{b}", "seeds": seeds,
                                **{k: v.to_json() for k, v in found.items()}})
            print(f"{row}/{b} - {row}/{a}: {found['pooled']}")
    command = "python -m benchmarks.calibration_rules " + " ".join(argv if argv is not None else sys.argv[1:])
    data = {"meta": {"task": task, "source": args.results, "dev": str(dev), "folds": args.folds,
                     "confidences": confidences, "pairs": pairs, "dev_limit": args.dev_limit,
                     "outer_seed": OUTER_SEED, "trials": args.trials, "resamples": args.resamples,
                     "commands": [command], "train_rerun": source["meta"].get("commands", []),
                     "machine": machine(), "git_commit": git_commit()},
            "runs": records, "comparisons": comparisons}
    stem = args.name or f"{args.results}_rules"
    save_results(out / f"{stem}.json", out / f"{stem}_counts.npz", data, arrays)


if __name__ == "__main__":
    main()
