"""``python -m spacy_dice calibrate MODEL DEV.spacy --output OUT``: fit a trained pipeline's
decision settings (per-label thresholds, label biases) on a dev set and save the calibrated
pipeline (:mod:`spacy_dice.decisions`; docs/CALIBRATION.md).

``project-calibrate`` is the project's ``calibrate`` step: the same, behind the ``calibrate``
variable (``false``: nothing happens), followed by ``spacy evaluate`` of the calibrated pipeline
on the test set and the test scores before and after in the report.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

import typer
from wasabi import msg

from .app import app

FALSE = ("false", "0", "no", "off", "")


def run_calibration(
    model: Path, dev: Path, output: Path, *, overwrite: bool = False, metric: str = "f1",
    min_precision: Union[float, str] = 0.0, folds: int = 5, min_support: int = 20, seed: int = 0,
    components: str = "", report: Optional[Path] = None, gpu_id: int = -1,
) -> Dict[str, Any]:
    """Calibrate, print the tables, write the pipeline (atomically) and the report; returns the
    report's data. Bad input ends the command with exit code 1 and the reason."""
    import spacy

    from ..decisions import (
        CalibrationError, calibrate_pipeline, parse_min_precision, read_dev, tables, to_json, to_markdown,
    )
    from ..decisions.write import check_output, write_pipeline

    start = time.perf_counter()
    if metric not in ("f1", "recall"):
        msg.fail(f"--metric {metric!r}: use f1 or recall", exits=1)
    try:
        min_precision = parse_min_precision(min_precision)
    except CalibrationError as err:
        msg.fail(str(err), exits=1)
    if not Path(model).is_dir():
        msg.fail(f"MODEL {model} is not a pipeline folder", exits=1)
    try:
        check_output(model, output, overwrite)
    except CalibrationError as err:
        msg.fail(str(err), exits=1)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    names = [c.strip() for c in components.split(",") if c.strip()] or None
    try:
        examples = read_dev(nlp, dev)
        calibration = calibrate_pipeline(
            nlp, examples, metric=metric, min_precision=min_precision, folds=folds, seed=seed,
            min_support=min_support, components=names,
        )
    except ValueError as err:  # CalibrationError, or no gold for a component (NoGoldError)
        msg.fail(str(err), exits=1)
    for title, header, rows, notes in tables(calibration):
        msg.divider(title)
        msg.table(rows, header=header, divider=True)
        for note in notes:
            msg.text(f"- {note}")
    for name, why in calibration.skipped.items():
        msg.info(f"not calibrated: {name}: {why}")
    changes = {r.name: r.config for r in calibration.results if r.config}
    write_pipeline(nlp, output, changes, overwrite=overwrite)
    seconds = round(time.perf_counter() - start, 1)
    stem = report_stem(output, report)
    data = to_json(calibration, model=str(model), dev=str(dev), output=str(output), seconds=seconds)
    write_report(stem, data, to_markdown(calibration, model=str(model), output=str(output)))
    msg.good(
        f"Calibrated pipeline: {output} ({seconds:g} s); report: {stem}.json, {stem}.md"
        + ("" if changes else " (no decision changed)")
    )
    return data


def report_stem(output: Path, report: Optional[Path]) -> Path:
    stem = Path(report) if report is not None else Path(output).parent / f"{Path(output).name}-calibration"
    return stem.with_suffix("") if stem.suffix in (".json", ".md") else stem


def write_report(stem: Path, data: Dict[str, Any], markdown: str) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    _write_text(stem.with_name(stem.name + ".json"), json.dumps(data, indent=2) + "\n")
    _write_text(stem.with_name(stem.name + ".md"), markdown)


@app.command("calibrate")
def calibrate_command(
    model: Path = typer.Argument(..., help="Trained pipeline folder (e.g. training/NAME/model-best)"),
    dev: Path = typer.Argument(..., help="Dev set (.spacy) with the gold annotation of the components"),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the calibrated pipeline"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --output if it exists (also when it is MODEL)"),
    metric: str = typer.Option("f1", "--metric", help="f1 (the pipeline's score) or recall (with --min-precision)"),
    min_precision: str = typer.Option("0.0", "--min-precision", help="With --metric recall: the precision to keep (micro for the global value, per label for departures), or 'current': each label keeps its precision on dev as it is now"),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-fitting folds of dev docs"),
    min_support: int = typer.Option(20, "--min-support", min=0, help="Dev positives a label needs to depart from the global value"),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment"),
    components: str = typer.Option("", "--components", help="Comma-separated component names (default: every calibratable one)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Report path stem: writes STEM.json and STEM.md (default: OUT-calibration.json/.md next to OUT)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU id, -1 for CPU"),
) -> None:
    """Calibrate the decisions of a trained pipeline on a dev set and save it as a new pipeline.

    One global threshold / bias per component first; a label departs from it only when its
    cross-fitted gain on dev is positive and it has --min-support dev positives.
    """
    run_calibration(model, dev, output, overwrite=overwrite, metric=metric, min_precision=min_precision,
                    folds=folds, min_support=min_support, seed=seed, components=components,
                    report=report, gpu_id=gpu_id)


@app.command("project-calibrate")
def project_calibrate_command(
    enabled: str = typer.Option("true", "--enabled", help="The project's calibrate variable (false: do nothing)"),
    model: Path = typer.Option(..., "--model", help="model-best"),
    dev: Path = typer.Option(..., "--dev", help="Dev set the decisions are fitted on"),
    test: Path = typer.Option(..., "--test", help="Test set both pipelines are scored on"),
    output: Path = typer.Option(..., "--output", "-o", help="Calibrated pipeline folder (replaced when it exists)"),
    metrics: Path = typer.Option(..., "--metrics", help="Stem of the calibrated test scores: STEM.json (spacy evaluate) and STEM.md"),
    before: Optional[Path] = typer.Option(None, "--before", help="spacy evaluate JSON of MODEL on the test set (for the before/after lines)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Report stem (default: OUT-calibration)"),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
) -> None:
    """The project's calibrate step: calibrate MODEL on dev into OUTPUT, evaluate it on test."""
    if str(enabled).strip().lower() in FALSE:
        msg.info(f"calibrate = {enabled}: calibration is off, nothing to do")
        return
    from spacy.cli.evaluate import evaluate

    data = run_calibration(model, dev, output, overwrite=True, report=report, gpu_id=gpu_id)
    metrics = metrics.with_suffix("") if metrics.suffix in (".json", ".md") else metrics
    metrics.parent.mkdir(parents=True, exist_ok=True)
    json_path = metrics.with_name(metrics.name + ".json")
    after = evaluate(str(output), test, output=json_path, use_gpu=gpu_id, silent=True)
    command = [sys.executable, "-m", "spacy_dice", "evaluate-table", str(json_path),
               "--output", str(metrics.with_name(metrics.name + ".md")), "--model", str(output),
               "--data", str(test), "--gpu-id", str(gpu_id)]
    if _takes_option("evaluate-table", "--compare-model"):  # the ECE of model-best next to it
        command += ["--compare-model", str(model)]
    table = subprocess.run(command, capture_output=True, text=True)
    if table.returncode != 0:
        msg.warn(f"evaluate-table failed: {(table.stderr or table.stdout)[-500:]}")
    test_scores = {"after": _headline(after)}
    if before is not None and Path(before).exists():
        test_scores["before"] = _headline(json.loads(Path(before).read_text(encoding="utf8")))
    data["test"] = {"data": str(test), "metrics": str(json_path), **test_scores}
    stem = report_stem(output, report)
    md = stem.with_name(stem.name + ".md").read_text(encoding="utf8")
    lines = ["", "## Test set", ""]
    for key in sorted(test_scores["after"]):
        b = test_scores.get("before", {}).get(key)
        a = test_scores["after"][key]
        lines.append(f"- {key}: " + (f"{_pc(b)} before, " if b is not None else "") + f"{_pc(a)} after calibration")
    write_report(stem, data, md + "\n".join(lines) + "\n")
    for line in lines[3:]:
        msg.text(line)


def _takes_option(command: str, option: str) -> bool:
    import typer.main

    group = typer.main.get_command(app)
    sub = group.commands.get(command) if hasattr(group, "commands") else None  # type: ignore[attr-defined]
    return sub is not None and any(option in p.opts for p in sub.params)


def _headline(scores: Dict[str, Any]) -> Dict[str, float]:
    keys = ("ents_p", "ents_r", "ents_f", "cats_score", "tag_acc", "pos_acc")
    out = {k: float(v) for k, v in scores.items()
           if v is not None and isinstance(v, (int, float))
           and (k in keys or (k.startswith("spans_") and k[-2:] in ("_p", "_r", "_f")))}
    return out


def _pc(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf8")
    os.replace(tmp, path)
