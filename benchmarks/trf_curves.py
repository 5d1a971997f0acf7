#!/usr/bin/env python
"""Learning curves of the dice components on a transformer (MiniLM) on CPU, with ``spacy train``.

One row = one ``spacy train`` run of a shipped config (``configs/*_trf.cfg``, or ``*_cnn.cfg`` for the
``cnn`` rows) with one loss block (or spaCy's own component), a fixed number of updates, the dev score
every ``--eval-frequency`` updates, then the held-out test set scored with the model after the last
update (``model-last``) and with the one spaCy kept by the dev score (``model-best``).

    python benchmarks/trf_curves.py --task uner --row ce --steps 300 --eval-frequency 50

Rows (``--row``): ``ce`` (the config as shipped), ``dsc`` (the paper's DSC, ``alpha = 0.01``,
``smooth = 1``), ``ce_then_dsc`` (``spacy-dice.ScheduledCombinedLoss.v1``: CE alone, then the DSC
weight ramps in; the ramp is given by ``--ramp BEGIN,END``), ``spacy`` (spaCy's own component on the
same transformer: ``ner``, ``morphologizer`` for UPOS, ``textcat``), ``cnn`` (the CNN config, CE).
``preset`` (any loss preset, ``--preset NAME``). ``--head-lr-scale`` overrides ``head_learn_rate_scale``.

Data (converted once under ``--work-dir``, never into the repository), as in
``benchmarks/run_accuracy.py``:

* ``uner``: train on the first 80% of UNER English-EWT's dev file (1,600 sentences), dev curve on its
  last 20% (401 sentences), test = UNER's test file (2,077 sentences);
* ``ud_upos``: UD English-EWT train / dev / test;
* ``mrpc``: the first 90% of MRPC train / its last 10% / MRPC test.

Each finished row is merged into ``--out`` (JSON: the rows by ``task/row``, each with its command,
seed, steps, git commit, dev curve and test scores), so a later run extends the file rather than repeating rows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

from spacy_dice.training import load_config, spacy_baseline, with_loss  # noqa: E402

TASKS: Dict[str, Dict[str, Any]] = {
    "uner": {"config": "ner_trf.cfg", "cnn": "ner_cnn.cfg", "component": "ner",
             "keys": ["ents_f", "ents_p", "ents_r"], "main": "ents_f"},
    "ud_upos": {"config": "tagger_trf.cfg", "cnn": "tagger_cnn.cfg", "component": "tagger",
                "keys": ["pos_acc"], "main": "pos_acc"},
    "mrpc": {"config": "textcat_trf.cfg", "cnn": "textcat_cnn.cfg", "component": "textcat",
             "keys": ["cats_score", "cats_macro_f"], "main": "cats_score", "positive": "paraphrase"},
}
ROWS = ["ce", "dsc", "ce_then_dsc", "spacy", "cnn", "preset"]
DSC = {"@losses": "spacy-dice.DiceLoss.v1", "smooth": 1.0, "alpha": 0.01,
       "square_denominator": True, "level": "instance", "class_reduction": "mean"}
CE = {"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": None, "label_smoothing": 0.0}


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "spacy_dice", "configs"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + (" (+ uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def row_config(
    task: str, row: str, ramp: List[int], dsc_weight: Optional[float], head_scale: Optional[float],
    ce_weight: Optional[float] = None, preset: Optional[str] = None,
):
    spec = TASKS[task]
    comp = spec["component"]
    config = load_config(str(ROOT / "configs" / (spec["cnn"] if row == "cnn" else spec["config"])))
    if task == "ud_upos":
        config["components"][comp]["attr"] = "pos"
        config["training"]["score_weights"] = {"pos_acc": 1.0, "tag_acc": None}
    if task == "mrpc":
        config["components"][comp]["positive_label"] = spec["positive"]
    if row in ("ce", "cnn"):
        config["components"][comp]["loss"] = dict(CE)
    elif row == "dsc":
        config["components"][comp]["loss"] = dict(DSC)
    elif row == "ce_then_dsc":
        begin, end = ramp
        config = with_loss(config, comp, "ce_then_dsc")
        weights = config["components"][comp]["loss"]["weights"]
        # the preset's weights (CE 1 -> 0.25, DSC 0 -> 4), its ramp moved into the step budget
        weights["ce"].update({"begin_step": begin, "end_step": end})
        weights["dsc"].update({"begin_step": begin, "end_step": end})
        if ce_weight is not None:
            weights["ce"]["stop"] = float(ce_weight)
        if dsc_weight is not None:
            weights["dsc"]["stop"] = float(dsc_weight)
    elif row == "spacy":
        config = spacy_baseline(config, comp)
    elif row == "preset":
        if not preset:
            raise SystemExit("--row preset needs --preset NAME (a spacy_dice.training loss preset)")
        config = with_loss(config, comp, preset)
    else:
        raise SystemExit(f"unknown row {row!r}; use one of {ROWS}")
    if head_scale is not None and row != "spacy":
        config["components"][comp]["head_learn_rate_scale"] = float(head_scale)
    return config


def prepare(task: str, work: Path) -> Dict[str, Path]:
    import run_accuracy

    return run_accuracy.prepare_data(task, Path(os.environ.get("SPACY_DICE_DATA", ROOT.parent / "shared" / "data")), work, 2000)


def parse_curve(log: str, keys: List[str]) -> List[Dict[str, Any]]:
    """The dev scores from spaCy's console table: one dict per evaluation (step, scores)."""
    lines = log.splitlines()
    header = next((i for i, line in enumerate(lines) if line.lstrip().startswith("E ") and "#" in line), None)
    if header is None:
        return []
    names = re.split(r"\s{2,}", lines[header].strip())
    curve = []
    for line in lines[header + 2:]:
        values = line.split()
        if len(values) != len(names) or not all(re.fullmatch(r"-?[\d.]+", v) for v in values):
            continue
        row = dict(zip(names, values))
        point = {"step": int(row["#"])}
        for key in keys:
            column = key.upper()
            if column in row:
                point[key] = round(float(row[column]) / 100.0, 4)
        point["score"] = float(row["SCORE"])
        curve.append(point)
    return curve


def evaluate(model: Path, test: Path, keys: List[str]) -> Dict[str, Any]:
    import spacy

    from spacy_dice.files import read_examples

    nlp = spacy.load(model)
    examples = read_examples(test, nlp)
    t0 = time.perf_counter()
    scores = nlp.evaluate(sorted(examples, key=lambda eg: len(eg.reference)), batch_size=64)
    result = {k: round(float(scores.get(k) or 0.0), 4) for k in keys}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if "ents_per_type" in scores and scores["ents_per_type"]:
        result["ents_per_type"] = {t: round(float(v["f"]), 4) for t, v in scores["ents_per_type"].items()}
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--row", choices=ROWS, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-frequency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ramp", default="100,200", help="ce_then_dsc: BEGIN,END steps of the ramp")
    parser.add_argument("--dsc-weight", type=float, default=None,
                        help="ce_then_dsc: DSC weight after the ramp (default: the preset's)")
    parser.add_argument("--ce-weight", type=float, default=None,
                        help="ce_then_dsc: CE weight after the ramp (default: the preset's)")
    parser.add_argument("--head-lr-scale", type=float, default=None)
    parser.add_argument("--preset", default=None, help="--row preset: the loss preset's name")
    parser.add_argument("--name", default=None, help="row name in the results (default: --row)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/trf"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "trf_curves.json")
    parser.add_argument("--reuse", action="store_true",
                        help="score an existing run in the work dir (train.log + model-last) instead of training")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    name = args.name or args.row
    spec = TASKS[args.task]
    paths = prepare(args.task, args.work_dir)
    run_dir = args.work_dir / "runs" / f"{args.task}_{name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ramp = [int(x) for x in args.ramp.split(",")]
    config = row_config(args.task, args.row, ramp, args.dsc_weight, args.head_lr_scale, args.ce_weight,
                        args.preset)
    if args.task == "uner" and args.row == "ce" and args.head_lr_scale is None:
        config_path = ROOT / "configs" / spec["config"]  # the shipped config, as a user runs it
    else:
        config_path = run_dir / "config.cfg"
        config.to_disk(config_path)
    from spacy_dice.transformers import resolve_model_name

    overrides = [
        "--paths.train", str(paths["train"]), "--paths.dev", str(paths["dev"]),
        "--training.max_steps", str(args.steps), "--training.eval_frequency", str(args.eval_frequency),
        "--system.seed", str(args.seed),
    ]
    if args.row != "cnn":
        overrides += ["--paths.transformer_model", resolve_model_name("minilm")]
    train_cmd = [sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(run_dir)] + overrides
    log_path = run_dir / "train.log"
    t0 = time.perf_counter()
    if not (args.reuse and log_path.exists() and (run_dir / "model-last").exists()):
        with log_path.open("w", encoding="utf8") as log:
            proc = subprocess.run(train_cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            print(log_path.read_text(encoding="utf8")[-3000:], file=sys.stderr)
            return proc.returncode
    train_s = time.perf_counter() - t0
    curve = parse_curve(log_path.read_text(encoding="utf8"), spec["keys"])
    test_last = evaluate(run_dir / "model-last", paths["test"], spec["keys"])
    main = spec["main"]  # the only score weight: finer than the rounded SCORE column
    best_step = max((p.get(main, p["score"]), p["step"]) for p in curve)[1] if curve else None
    # model-best is the model of the best dev score; when that is the last step it is model-last
    same = best_step == max(p["step"] for p in curve) if curve else False
    test_best = dict(test_last) if same else evaluate(run_dir / "model-best", paths["test"], spec["keys"])
    result = {
        "task": args.task,
        "row": name,
        "base_row": args.row,
        "command": "python benchmarks/trf_curves.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "spacy_train": "python -m spacy train " + " ".join(
            shlex.quote(a) for a in [_rel(config_path)] + overrides
        ),
        "config": config.to_str(),
        "seed": args.seed,
        "steps": args.steps,
        "eval_frequency": args.eval_frequency,
        "git_commit": git_commit(),
        "machine": f"{platform.machine()}, CPU only, 1 thread (cpuslot), shared",
        "train_and_dev_seconds": round(train_s, 1),
        "dev_curve": curve,
        "test_last": test_last,
        "test_best": test_best,
        "best_dev_step": best_step,
    }
    results: Dict[str, Any] = {}
    if args.out.exists():
        results = json.loads(args.out.read_text(encoding="utf8"))
    results[f"{args.task}/{name}"] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf8")
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
