"""Fixed-seed scores of the project's workflow, to show that a refactor changes no score.

    python benchmarks/fixed_seed_check.py --out benchmarks/results/fixed_seed.json   # record
    python benchmarks/fixed_seed_check.py --check benchmarks/results/fixed_seed.json # compare

Runs ``python -m spacy project run all .`` on a fresh copy of the project (the shipped sample,
offline, CPU, seed 0) for each of the settings in :data:`RUNS`: the main job as the README runs it
(``dice_ner`` with DSC, 1,000 steps), ``dice_ner`` with weighted CE, ``dice_spancat`` with BCE and
the span finder pipeline with set-level DSC (300 steps each). It records every test-set score of
each run; ``--check`` reruns them and exits 1 when any score differs from the recorded one by more
than ``--tolerance`` (default 0: identical), naming the run and the score.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from run_main_job import copy_project, package_versions, project_vars  # a sibling script

ROOT = Path(__file__).resolve().parent.parent

RUNS: Dict[str, List[str]] = {
    "main_job": [],
    "ner_wce": ["--vars.loss", "wce", "--vars.max_steps", "300"],
    "spancat_bce": ["--vars.task", "spans", "--vars.loss", "ce", "--vars.max_steps", "300"],
    "span_finder_dsc": ["--vars.task", "spans_finder", "--vars.loss", "dsc", "--vars.max_steps", "300"],
}


def run_project(extra: List[str], work: Path) -> Dict[str, Any]:
    """The test-set metrics of ``spacy project run all . EXTRA`` in a fresh copy at ``work``."""
    copy_project(work)
    command = [sys.executable, "-m", "spacy", "project", "run", "all", "."] + extra
    proc = subprocess.run(command, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    name = project_vars(work, extra)["name"]
    metrics = work / "metrics" / f"{name}.json"  # the uncalibrated test scores
    if not metrics.exists():
        raise RuntimeError(f"{' '.join(command[1:])} wrote no {metrics}")
    return json.loads(metrics.read_text(encoding="utf8"))


def flatten(value: Any, prefix: str = "") -> Dict[str, float]:
    """``{"ents_per_type.LOC.f": 0.35, ...}``: every number of a nested metrics dict."""
    if isinstance(value, dict):
        out: Dict[str, float] = {}
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: float(value)}
    return {}


def score_runs(names: List[str]) -> Dict[str, Dict[str, float]]:
    scores = {}
    for name in names:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            metrics = run_project(RUNS[name], Path(tmp))
        scores[name] = {k: v for k, v in flatten(metrics).items() if not k.endswith(("_per_sec", "speed"))}
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return scores


def differences(recorded: Dict[str, Dict[str, float]], found: Dict[str, Dict[str, float]], tolerance: float) -> List[str]:
    """One line per score that differs (or is missing) beyond ``tolerance``."""
    problems = []
    for run, scores in recorded.items():
        for key, value in scores.items():
            other = found.get(run, {}).get(key)
            if other is None or abs(other - value) > tolerance:
                problems.append(f"{run}: {key} was {value!r}, now {other!r}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the scores (and the commit) here")
    parser.add_argument("--check", type=Path, help="compare with the scores recorded in this file")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}")
    parser.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args(argv)
    names = [name for name in args.runs.split(",") if name]
    unknown = [name for name in names if name not in RUNS]
    if unknown or not (args.out or args.check):
        parser.error(f"unknown runs {unknown}; known: {', '.join(RUNS)}" if unknown else "give --out or --check")
    found = score_runs(names)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if args.out:
        record = {
            "versions": package_versions(),
            "rerun": "python benchmarks/fixed_seed_check.py --check benchmarks/results/fixed_seed.json",
            "git_commit": commit,
            "runs": {name: " ".join(["python -m spacy project run all ."] + RUNS[name]) for name in names},
            "scores": found,
        }
        args.out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf8")
    if args.check:
        recorded = json.loads(args.check.read_text(encoding="utf8"))["scores"]
        problems = differences({k: v for k, v in recorded.items() if k in names}, found, args.tolerance)
        for line in problems:
            print(line)
        print(f"{len(problems)} scores differ from {args.check} (commit {commit})")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
