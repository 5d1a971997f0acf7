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
  --global-confidence G`` (a separate bar for the one global value);
* ``calibrate@C/global@G/holm`` for each ``--pairs`` value ``C:G:holm``: the same with
  ``--correction holm`` (a component's departures one family under Holm's step-down),
  ``.../source`` for ``C:G:holm:source`` (``--unit source``: calibrate's folds and bootstrap take
  whole source documents), and ``.../folds@K`` for ``C:G:holm:source:K`` (``--folds K``, its
  cross-fitting folds; ``loo``: one fold per dev unit). Every other ``calibrate`` rule runs with
  ``--correction none --unit doc --folds 5``, so a rule's name keeps its meaning.

The outer folds take whole source documents when the dev docs name theirs
(``doc.user_data["source_doc"]``, written by ``convert``), so no held-out doc shares a source with
the docs its rules were fitted on (each run's ``outer_unit``: ``source`` or ``doc``).

``--dev-limit N`` keeps the first N dev docs (what a small dev set costs). The paired bootstrap
(:mod:`benchmarks.bootstrap`) over the held-out dev docs gives the intervals of each rule against
the model as trained, of each ``calibrate`` rule against ``find_threshold``, ``global_only`` and
the first ``calibrate`` rule, and of the first ``--pairs`` rule against the other ones. Results:
``benchmarks/results/STEM_rules.json`` and ``STEM_rules_counts.npz`` (``--name`` to change);
``--extend`` keeps the rules already in that file (their saved counts) and fits only the new ones::

    python -m benchmarks.calibration_rules --results uner_spans_calib
    python -m benchmarks.calibration_rules --results uner_calib --dev-limit 300 --name uner_calib_dev300
    python -m benchmarks.calibration_rules --results uner_spans_calib --confidences 0.95 --pairs 0.95:0,0.95:0.5
    python -m benchmarks.calibration_rules --results uner_spans_calib --pairs 0.95:0,0.95:0:holm
    python -m benchmarks.calibration_rules --results uner_spans_calib --pairs 0.95:0:holm --name uner_spans_calib_split_rules --extend
    python -m benchmarks.calibration_rules --results uner_spans_calib --confidences 0 --pairs 0.95:0:holm:source,0.95:0:holm:source:10,0.95:0:holm:source:loo --name uner_spans_calib_folds_rules
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
from spacy_dice.decisions.calibration import DOC, SOURCE, UNITS, CalibrationError, dev_units
from spacy_dice.decisions.search import NO_CORRECTION, check_correction, make_folds
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


INNER_FOLDS = 5  # calibrate's --folds default
LOO = "loo"
EVERY_UNIT = 10 ** 9  # calibrate caps its folds at the number of dev units: one fold per unit


def fold_count(text: str) -> int:
    """``"10"`` -> 10, ``"loo"`` -> :data:`EVERY_UNIT` (one fold per dev unit); ``ValueError`` for
    anything else (a whole number below 2 included)."""
    if text == LOO:
        return EVERY_UNIT
    if not (text.isdigit() and int(text) >= 2):
        raise ValueError(f"{text!r} is not a whole number >= 2 or {LOO!r}")
    return int(text)


def fold_name(folds: int) -> str:
    """How a fold count reads in a rule name and a table: ``10``, or ``loo`` for one fold per unit."""
    return LOO if folds == EVERY_UNIT else str(folds)


def pair_rule(confidence: float, global_confidence: float, correction: str = NO_CORRECTION,
              unit: str = DOC, folds: int = INNER_FOLDS) -> str:
    """The rule name of ``calibrate --confidence C --global-confidence G [--correction holm] [--unit
    source] [--folds K]``: ``calibrate@0.95/global@0`` (``/holm`` appended with Holm's correction,
    ``/source`` with source-document units, ``/folds@K`` with other than 5 folds, ``/folds@loo``
    with one fold per unit)."""
    name = f"{confidence_rule(confidence)}/global@{global_confidence:g}"
    name = name if correction == NO_CORRECTION else f"{name}/{correction}"
    name = name if unit == DOC else f"{name}/{unit}"
    return name if folds == INNER_FOLDS else f"{name}/folds@{fold_name(folds)}"


Pair = Tuple[float, float, str, str, int]


def parse_pairs(text: str) -> List[Pair]:
    """``"0.95:0,0.99:0.5:holm,0.95:0:holm:source:loo"`` -> ``[(0.95, 0.0, "none", "doc", 5), (0.99,
    0.5, "holm", "doc", 5), (0.95, 0.0, "holm", "source", EVERY_UNIT)]``; ``ValueError`` for anything
    else."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":")
        try:
            if not 2 <= len(parts) <= 5:
                raise ValueError(item)
            confidence, global_confidence = (float(x) for x in parts[:2])
            correction = check_correction(parts[2] if len(parts) > 2 else NO_CORRECTION)
            unit = parts[3] if len(parts) > 3 else DOC
            if unit not in UNITS:
                raise ValueError(unit)
            folds = fold_count(parts[4]) if len(parts) > 4 else INNER_FOLDS
        except ValueError:
            raise ValueError(f"--pairs {text!r}: each item is CONFIDENCE:GLOBAL_CONFIDENCE[:holm|none[:source|doc"
                             f"[:FOLDS|loo]]], not {item!r}") from None
        if not (0 <= confidence < 1 and 0 <= global_confidence < 1):
            raise ValueError(f"--pairs {text!r}: both values of {item!r} must be in [0, 1)")
        pairs.append((confidence, global_confidence, correction, unit, folds))
    return pairs


def held_out_counts(model: Path, task: str, dev: Path, folds: int, trials: int,
                    confidences: Sequence[float] = DEFAULT_CONFIDENCES,
                    dev_limit: Optional[int] = None,
                    pairs: Sequence[Pair] = (), saved: Optional[Dict[str, Any]] = None,
                    saved_unit: str = DOC) -> Dict[str, Any]:
    """Per rule, the ``(n_dev_docs, n_labels, 3)`` counts of each dev doc when it was held out
    (the first ``dev_limit`` dev docs when given). ``saved``: rule -> ``(counts, chosen)`` of rules
    already counted (the same folds, taken by ``saved_unit``), kept as they are and not fitted again."""
    import spacy

    from spacy_dice.decisions import calibrate, read_dev

    pipe_name, what = scored_component(task)
    as_trained = spacy.load(model)
    examples = read_dev(as_trained, dev)[:dev_limit]
    labels = model_labels(as_trained, pipe_name, examples, what)
    # calibrate@C: one bar C for the global value and the departures (the rule of the studies
    # before calibrate's global value got its own bar); global_only: the global value at 0.95
    by_rule = {confidence_rule(c): {"confidence": c, "global_confidence": c, "correction": NO_CORRECTION,
                                     "unit": DOC} for c in confidences}
    by_rule.update({pair_rule(c, g, k, u, f): {"confidence": c, "global_confidence": g, "correction": k, "unit": u,
                                               "folds": f} for c, g, k, u, f in pairs})
    by_rule["global_only"] = {"min_support": NO_DEPARTURE, "global_confidence": 0.95, "unit": DOC}
    rules = ["as_trained"] + (["find_threshold"] if what == "spans" else []) + ["global_only"] \
        + [confidence_rule(c) for c in confidences] + [pair_rule(*pair) for pair in pairs]
    saved = saved or {}
    rules = list(saved) + [rule for rule in rules if rule not in saved]
    counts = {rule: numpy.zeros((len(examples), len(labels), 3), dtype="int32") for rule in rules}
    chosen: Dict[str, List[Any]] = {rule: [] for rule in rules}
    for rule, (kept, kept_chosen) in saved.items():
        if rule in counts:
            if kept.shape != counts[rule].shape:
                raise ValueError(f"--extend: the saved counts of {rule} have shape {kept.shape}, the dev set"
                                 f" gives {counts[rule].shape}; run without --extend")
            counts[rule], chosen[rule] = kept, kept_chosen
    units = dev_units(examples)
    outer = units if units is not None else numpy.arange(len(examples))
    if saved and saved_unit != (DOC if units is None else SOURCE):
        raise ValueError(f"--extend: the saved rules' outer folds took whole {saved_unit}s, these dev docs"
                         " give other folds; use a new --name")
    for held_units in make_folds(int(outer.max()) + 1, folds, OUTER_SEED):
        held = numpy.flatnonzero(numpy.isin(outer, held_units))
        fit_on = [examples[i] for i in numpy.setdiff1d(numpy.arange(len(examples)), held)]
        scored = [examples[i] for i in held]
        for rule in rules:
            if rule in saved:
                continue
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
    return {"labels": labels, "counts": counts, "chosen": chosen, "n_docs": len(examples),
            "outer_unit": DOC if units is None else SOURCE, "n_units": int(outer.max()) + 1}


def previous_study(out: Path, stem: str, args: argparse.Namespace
                   ) -> Tuple[Dict[Tuple[str, int], Dict[str, Any]], Dict[str, numpy.ndarray], Dict[str, Any]]:
    """``--extend``: the records (by row and seed), counts and meta of ``STEM.json`` /
    ``STEM_counts.npz``; ``ValueError`` when they are missing or were counted on other folds."""
    json_path, npz_path = out / f"{stem}.json", out / f"{stem}_counts.npz"
    if not json_path.exists() or not npz_path.exists():
        raise ValueError(f"--extend: {json_path.name} / {npz_path.name} not found in {out}; run without --extend")
    data = json.loads(json_path.read_text())
    meta = dict(data["meta"])
    for key in ("folds", "trials", "dev_limit"):
        if meta.get(key) != getattr(args, key):
            raise ValueError(f"--extend: {json_path.name} was counted with {key} = {meta.get(key)!r}, not"
                             f" {getattr(args, key)!r}; run without --extend (or with the same value)")
    if "calibrate_rules" not in meta:  # files written before the rule list was kept
        names = list(data["runs"][0]["rules"]) if data["runs"] else []
        meta["calibrate_rules"] = [r for r in names if r.startswith("calibrate@")]
    records = {(r["name"], r["seed"]): r for r in data["runs"]}
    return records, dict(numpy.load(npz_path)), meta


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", required=True, help="stem of a run_accuracy results file")
    p.add_argument("--folds", type=int, default=5, help="outer folds of the dev docs")
    p.add_argument("--trials", type=int, default=21, help="spaCy find-threshold trials (values 0..1)")
    p.add_argument("--confidences", default=",".join(f"{c:g}" for c in DEFAULT_CONFIDENCES),
                   help="comma-separated calibrate --confidence values, one rule each")
    p.add_argument("--pairs", default="", help="comma-separated CONFIDENCE:GLOBAL_CONFIDENCE[:holm[:source[:FOLDS|loo]]],"
                   " one rule each (calibrate --confidence C --global-confidence G [--correction holm] [--unit source]"
                   " [--folds FOLDS])")
    p.add_argument("--dev-limit", type=int, default=None, help="keep the first N dev docs (a small dev set)")
    p.add_argument("--name", default="", help="output stem (default: RESULTS_rules)")
    p.add_argument("--rows", default="", help="comma-separated rows (default: every row; a row whose"
                   " component calibrate cannot tune, e.g. spaCy's ner, is skipped and said so)")
    p.add_argument("--resamples", type=int, default=RESAMPLES)
    p.add_argument("--results-dir", default=str(RESULTS))
    p.add_argument("--extend", action="store_true", help="keep the rules already in the output file (same"
                   " folds, trials and dev limit) and fit only the rules it lacks")
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
    stem = args.name or f"{args.results}_rules"
    records: List[Dict[str, Any]] = []
    arrays: Dict[str, numpy.ndarray] = {}
    old_records: Dict[Tuple[str, int], Dict[str, Any]] = {}
    old_meta: Dict[str, Any] = {}
    if args.extend:
        try:
            old_records, arrays, old_meta = previous_study(out, stem, args)
        except ValueError as err:
            p.error(str(err))
    calibrate_rules = [r for r in old_meta.get("calibrate_rules", []) if r]
    calibrate_rules += [r for r in [confidence_rule(c) for c in confidences] + [pair_rule(*pair) for pair in pairs]
                        if r not in calibrate_rules]
    wanted = [r for r in args.rows.split(",") if r]
    for run in source["runs"]:
        if wanted and run["name"] not in wanted:
            continue
        started = time.perf_counter()
        old = old_records.get((run["name"], run["seed"]))
        saved = {rule: (arrays[f"{run['name']}/{rule}/s{run['seed']}"], old["chosen"].get(rule, []))
                 for rule in (old or {}).get("rules", {})}
        try:
            found = held_out_counts(Path(run["paths"]["model_best"]), task, dev, args.folds, args.trials,
                                    confidences, args.dev_limit, pairs, saved=saved,
                                    saved_unit=(old or {}).get("outer_unit", DOC))
        except CalibrationError as err:  # e.g. nothing calibrate can tune in this pipeline
            print(f"=== {run['name']} seed {run['seed']}: skipped, {' '.join(str(err).split())[:300]}", flush=True)
            continue
        rules = {rule: summarize(c, found["labels"]) for rule, c in found["counts"].items()}
        for rule, array in found["counts"].items():
            arrays[f"{run['name']}/{rule}/s{run['seed']}"] = array
        records.append({"name": run["name"], "seed": run["seed"], "labels": found["labels"],
                        "dev_docs": found["n_docs"], "outer_unit": found["outer_unit"],
                        "outer_units": found["n_units"], "rules": rules, "chosen": found["chosen"],
                        "seconds": round(time.perf_counter() - started, 1)
                        + (old.get("seconds", 0.0) if old else 0.0)})
        line = ", ".join(f"{rule} {percent(r['f'])}" for rule, r in rules.items())
        print(f"=== {run['name']} seed {run['seed']} (held-out dev): {line}", flush=True)
    comparisons = []
    rules = list(records[0]["rules"])
    compared = [("as_trained", rule) for rule in rules[1:]]
    compared += [(rule, b) for rule in ("find_threshold", "global_only") if rule in rules for b in calibrate_rules]
    compared += [(calibrate_rules[0], b) for b in calibrate_rules[1:]]
    paired = [pair_rule(*pair) for pair in pairs]  # the first --pairs rule against the others given with it
    compared += [(paired[0], b) for b in paired[1:] if (paired[0], b) not in compared]
    for row in dict.fromkeys(r["name"] for r in records):
        seeds = [r["seed"] for r in records if r["name"] == row]
        for a, b in compared:
            found = seed_intervals(arrays, f"{row}/{a}", f"{row}/{b}", seeds, resamples=args.resamples)
            comparisons.append({"a": f"{row}/{a}", "b": f"{row}/{b}", "seeds": seeds,
                                **{k: v.to_json() for k, v in found.items()}})
            print(f"{row}/{b} - {row}/{a}: {found['pooled']}")
    command = "python -m benchmarks.calibration_rules " + " ".join(argv if argv is not None else sys.argv[1:])
    data = {"meta": {"task": task, "source": args.results, "dev": str(dev), "folds": args.folds,
                     "calibrate_rules": calibrate_rules, "pairs": compared, "dev_limit": args.dev_limit,
                     "outer_seed": OUTER_SEED, "trials": args.trials, "resamples": args.resamples,
                     "commands": old_meta.get("commands", []) + [command],
                     "train_rerun": source["meta"].get("commands", []),
                     "machine": machine(), "git_commit": git_commit()},
            "runs": records, "comparisons": comparisons}
    save_results(out / f"{stem}.json", out / f"{stem}_counts.npz", data, arrays)


if __name__ == "__main__":
    main()
