"""Run the README's main command (`python -m spacy project run all`) on a fresh copy of the project
and record what it gives: the numbers quoted in README.md and docs/PROJECT.md come from here.

    python benchmarks/run_main_job.py                       # seed 0, the template's defaults
    python benchmarks/run_main_job.py --vars.loss focal     # any --vars are passed on

Copies project.yml, configs/ and assets/ (without assets/downloads) to --work-dir, runs the
workflow there (offline: the sample ships with the project), and writes
benchmarks/results/main_job.json (or --out): the command, the vars, the git commit, the wall time
and the test-set scores from metrics/<name>.json (uncalibrated) and, when the `calibrate` step ran
(the default; `--vars.calibrate false` turns it off), metrics/<name>-calibrated.json
(calibrated_test_scores) and what it fitted on dev, from metrics/<name>-calibration.json
(dev_calibration: each component's summary and the stored settings).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_versions() -> dict:
    """The versions that decide the numbers: a fixed seed gives other scores with other ones."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": sys.version.split()[0]}
    for name in ("spacy", "thinc", "numpy", "torch"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def copy_project(work: Path) -> None:
    """The project template (project.yml, configs/, assets/ without downloads) into ``work``."""
    shutil.copy(ROOT / "project.yml", work / "project.yml")
    shutil.copytree(ROOT / "configs", work / "configs")
    shutil.copytree(ROOT / "assets", work / "assets", ignore=shutil.ignore_patterns("downloads"))


def project_vars(work: Path, extra: list) -> dict:
    """The project's vars in ``work`` with the ``--vars.X`` overrides of ``extra`` applied."""
    from weasel.util import load_project_config, parse_config_overrides

    # a copy: parse_config_overrides consumes the list it is given
    return load_project_config(work, overrides=parse_config_overrides(list(extra)))["vars"]


def dev_calibration(report: dict) -> list:
    """What the `calibrate` step fitted on dev, from its report (metrics/<name>-calibration.json):
    one entry per component with its summary (dev scores before, after, cross-fitted; without the
    global candidates' details), each label's cross-fitted gain with its interval and the rule
    that kept or moved it, and the settings it stored (``{}``: none changed)."""
    found = []
    for component in report.get("components", []):
        summary = {k: v for k, v in component.get("summary", {}).items() if k != "global"}
        rule = component.get("summary", {}).get("global", {}).get("rule")
        if rule:
            summary["global_rule"] = rule
        labels = {
            row["label"]: {k: row[k] for k in ("support", "before", "after", "gain_cross_fitted",
                                               "gain_interval_95", "rule") if k in row}
            for row in component.get("labels", [])
        }
        found.append({"component": component["name"], "summary": summary, "labels": labels,
                      "stored": {"config": component.get("config", {})}})
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/spacy_dice_main_job"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "main_job.json")
    args, extra = parser.parse_known_args(argv)
    work = args.work_dir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_project(work)
    command = ["python", "-m", "spacy", "project", "run", "all", "."] + extra
    start = time.perf_counter()
    proc = subprocess.run([sys.executable] + command[1:], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - start
    (work / "run.log").write_text(proc.stdout + proc.stderr, encoding="utf8")
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    variables = project_vars(work, extra)
    name = variables["name"]
    metrics = json.loads((work / "metrics" / f"{name}.json").read_text(encoding="utf8"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "spacy_dice", "configs", "project.yml"],
                                cwd=ROOT, capture_output=True, text=True).stdout.strip())
    result = {
        "command": " ".join(command),
        "rerun": " ".join(["python benchmarks/run_main_job.py"] + extra),
        "vars": {k: variables[k] for k in ("dataset", "loss", "backbone", "seed", "max_steps", "eval_frequency")},
        "name": name,
        "git_commit": commit,
        "working_tree_dirty": dirty,
        "machine": "2 shared CPU cores",
        "versions": package_versions(),
        "wall_seconds": round(wall, 1),
        "test_scores": {k: v for k, v in metrics.items() if k.startswith(("ents_", "tag_", "pos_", "cats_"))},
    }
    calibrated = work / "metrics" / f"{name}-calibrated.json"
    if calibrated.exists():  # the `calibrate` step (vars.calibrate); test_scores stay uncalibrated
        scores = json.loads(calibrated.read_text(encoding="utf8"))
        result["calibrated_test_scores"] = {
            k: v for k, v in scores.items() if k.startswith(("ents_", "tag_", "pos_", "cats_"))
        }
    report = work / "metrics" / f"{name}-calibration.json"
    if report.exists():
        result["dev_calibration"] = dev_calibration(json.loads(report.read_text(encoding="utf8")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
