#!/usr/bin/env python
"""Grid speed: the trial executor's engines on one grid, and ASHA's savings on a sweep.

On the shipped sample (assets/sample, converted under ``--work-dir``), the project's NER config:

* ``grid``: ``python -m spacy_dice compare`` with 2 losses x 2 seeds, run three ways (local 1
  worker = sequential, local 2 workers, Ray 2 workers); wall time of each command, and whether
  the three give the same scores (test scores, per-type F1, dev curves).
* ``asha``: ``python -m spacy_dice sweep`` of 6 focal-loss gammas (Tversky does not leave the
  all-``O`` plateau in a few hundred steps on the sample: every alpha scores 0, nothing to pick),
  once in full with 2 seeds (the best value and its seed spread) and once with ``--early-stop``
  (ASHA, seed 0): training steps
  run (up to each trial's last evaluation) against the full sweep, and the value each picks
  (best dev score; the full sweep by its mean over seeds).

    python benchmarks/grid_speed.py --part all --wait-quiet 1800

Timings need the cores free: ``--wait-quiet S`` waits up to S seconds for a 1-minute load
average below 0.5 before the grid part (the load is recorded either way). Writes
``benchmarks/results/grid_speed.json`` and ``.md``; docs/BENCHMARKS.md's table is generated from
it (``python benchmarks/make_tables.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy_dice.files import write_atomic
from spacy_dice.formatting import percent

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LOSSES = "ce,dsc"
SEEDS = "0,1"
GRID_STEPS, GRID_EVAL = 150, 50
SWEEP_LOSS, SWEEP_PARAM, SWEEP_VALUES = "focal", "gamma", "0,0.5,1,2,3,5"
SWEEP_STEPS, SWEEP_EVAL = 400, 50
ENGINES = [("local", 1), ("local", 2), ("ray", 2)]


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_quiet(limit_s: float, threshold: float = 0.5) -> Dict[str, Any]:
    """Poll the 1-minute load average until it is below ``threshold`` (at most ``limit_s``)."""
    start = time.time()
    while load() >= threshold and time.time() - start < limit_s:
        time.sleep(15)
    return {"waited_s": round(time.time() - start), "load_1min": load(), "quiet": load() < threshold}


def prepare(work: Path) -> Dict[str, str]:
    corpus = work / "corpus"
    config = work / "config.cfg"
    if not (corpus / "test.spacy").exists():
        subprocess.run([sys.executable, "-m", "spacy_dice", "project-convert", "sample", "--sample-dir",
                        str(ROOT / "assets" / "sample"), "--output", str(corpus)], check=True)
    if not config.exists():
        subprocess.run([sys.executable, "-m", "spacy_dice", "project-config", "sample", "--configs-dir",
                        str(ROOT / "configs"), "--output", str(config)], check=True)
    return {"config": str(config), **{s: str(corpus / f"{s}.spacy") for s in ("train", "dev", "test")}}


def data_args(paths: Dict[str, str]) -> List[str]:
    return [paths["config"], "--train", paths["train"], "--dev", paths["dev"], "--test", paths["test"]]


def run(args: List[str]) -> float:
    """Run ``python -m spacy_dice ARGS``; its wall time in seconds."""
    cmd = [sys.executable, "-m", "spacy_dice", *args]
    print("$", " ".join(shlex.quote(a) for a in cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def shown(args: List[str], work: Path) -> str:
    """The command as the docs show it (the work dir as WORK)."""
    return "python -m spacy_dice " + " ".join(shlex.quote(a) for a in args).replace(str(work), "WORK")


def scores_of(path: Path) -> Dict[str, Any]:
    data = json.loads(path.read_text())
    return {f"{r['name']}/{r['seed']}": {"scores": r["scores"], "per_type": r["per_type"],
                                         "dev_curve": r["dev_curve"], "best_dev": r["best_dev_score"]}
            for r in data["runs"]}


def grid_part(paths: Dict[str, str], work: Path, wait_s: float) -> Dict[str, Any]:
    quiet = wait_quiet(wait_s)
    rows = []
    scores = {}
    for engine, workers in ENGINES:
        tag = f"{engine}{workers}"
        args = ["compare", *data_args(paths), "--losses", LOSSES, "--seeds", SEEDS,
                "--max-steps", str(GRID_STEPS), "--eval-frequency", str(GRID_EVAL), "--quiet",
                "--engine", engine, "--workers", str(workers),
                "--runs-dir", str(work / "runs" / tag), "--output", str(work / "metrics" / tag)]
        before = load()
        wall = run(args)
        rows.append({"engine": engine, "workers": workers, "wall_s": round(wall, 1),
                     "load_before": before, "load_after": load(), "command": shown(args, work)})
        scores[tag] = scores_of(work / "metrics" / f"{tag}.json")
    base = rows[0]["wall_s"]
    for row in rows:
        row["vs_sequential"] = round(row["wall_s"] / base, 3)
    same = all(scores[t] == scores["local1"] for t in scores)
    return {"rows": rows, "same_scores": same, "quiet_wait": quiet,
            "ray_overhead": round(rows[2]["wall_s"] / rows[1]["wall_s"] - 1, 3),
            "grid": f"{LOSSES} x seeds {SEEDS}, {GRID_STEPS} steps, eval every {GRID_EVAL}"}


def asha_part(paths: Dict[str, str], work: Path, graces: List[int]) -> Dict[str, Any]:
    """The full sweep (2 seeds; ``--resume`` reuses a finished one) and one ASHA sweep (seed 0)
    per grace period in ``graces``."""
    common = [*data_args(paths), "--loss", SWEEP_LOSS, "--param", SWEEP_PARAM, "--values", SWEEP_VALUES,
              "--max-steps", str(SWEEP_STEPS), "--eval-frequency", str(SWEEP_EVAL), "--quiet",
              "--workers", "2"]
    full_args = ["sweep", *common, "--seeds", SEEDS, "--runs-dir", str(work / "runs" / "sweep_full"),
                 "--output", str(work / "metrics" / "sweep_full")]
    full_wall = run(full_args + ["--resume"])
    full = json.loads((work / "metrics" / "sweep_full.json").read_text())
    dev = {row["name"]: row["best_dev"] for row in full["rows"]}
    best = max(dev, key=lambda n: dev[n]["mean"])
    seed0 = {r["name"]: r["best_dev_score"] for r in full["runs"] if r["seed"] == 0}
    walls = [r.get("wall_seconds") or 0.0 for r in full["runs"]]
    result: Dict[str, Any] = {
        "sweep": f"{SWEEP_LOSS} {SWEEP_PARAM} over {SWEEP_VALUES}, {SWEEP_STEPS} steps, eval every {SWEEP_EVAL}",
        "full": {"command": shown(full_args, work), "best": best,
                 "wall_s": round(full_wall, 1), "trial_wall_s_sum": round(sum(walls), 1),
                 "best_seed0": max(seed0, key=lambda n: seed0[n]),
                 "dev": {n: {"mean": v["mean"], "std": v["std"]} for n, v in dev.items()}},
        "runs": [],
    }
    for grace in graces:
        name = f"sweep_asha_g{grace}"
        asha_args = ["sweep", *common, "--seeds", "0", "--early-stop", "--grace-steps", str(grace),
                     "--reduction-factor", "3", "--runs-dir", str(work / "runs" / name),
                     "--output", str(work / "metrics" / name)]
        wall = run(asha_args)
        saved = json.loads((work / "metrics" / f"{name}.json").read_text())["early_stop"]
        picked = saved["picked"]
        gap = dev[best]["mean"] - dev[picked]["mean"]
        spread = max(dev[best]["std"] or 0.0, dev[picked]["std"] or 0.0)
        result["runs"].append({
            "command": shown(asha_args, work), "wall_s": round(wall, 1), "picked": picked,
            "steps_run": saved["steps_run"], "steps_full": saved["steps_full"],
            "saved_fraction": round(saved["saved_fraction"], 3), "stopped": saved["stopped"],
            "grace_steps": saved["grace_steps"], "reduction_factor": saved["reduction_factor"],
            "same_pick": picked == best, "within_seed_spread": gap <= spread, "gap": gap,
            "spread": spread})
    return result


def markdown(data: Dict[str, Any]) -> str:
    lines = ["# Grid speed", "", f"Machine: {data['meta']['machine']}.", ""]
    grid = data.get("grid")
    if grid:
        lines += [f"Grid: {grid['grid']}; same scores under every engine: {grid['same_scores']}.", "",
                  "| engine | workers | wall s | vs sequential | load before | command |", "|---|---:|---:|---:|---:|---|"]
        for r in grid["rows"]:
            lines.append(f"| {r['engine']} | {r['workers']} | {r['wall_s']:.1f} | {r['vs_sequential']:.2f}x |"
                         f" {r['load_before']:.2f} | `{r['command']}` |")
    asha = data.get("asha")
    if asha:
        f = asha["full"]
        lines += ["", f"ASHA: {asha['sweep']}; full sweep's best {f['best']}.", "", f"    {f['command']}"]
        for a in asha["runs"]:
            lines += ["", f"grace {a['grace_steps']}: {a['steps_run']:,} of {a['steps_full']:,} steps"
                      f" ({percent(a['saved_fraction'], 0)}% saved); picked {a['picked']} (same:"
                      f" {a['same_pick']}, within seed spread: {a['within_seed_spread']}).", "",
                      f"    {a['command']}"]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["grid", "asha", "all"], default="all")
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench/grid_speed")
    p.add_argument("--wait-quiet", type=float, default=0.0,
                   help="seconds to wait for a 1-minute load below 0.5 before timing the grid")
    p.add_argument("--graces", default="100,200",
                   help="ASHA grace periods (steps), one early-stopping sweep each")
    p.add_argument("--out", default=str(RESULTS / "grid_speed.json"))
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {}
    data["meta"] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs)",
                    "python": platform.python_version(),
                    "command": "python benchmarks/grid_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    try:
        import ray

        data["meta"]["ray"] = ray.__version__
    except ImportError:
        pass
    paths = prepare(work)
    if args.part in ("asha", "all"):
        data["asha"] = asha_part(paths, work, [int(g) for g in args.graces.split(",")])
        write_atomic(out, json.dumps(data, indent=1))
    if args.part in ("grid", "all"):
        data["grid"] = grid_part(paths, work, args.wait_quiet)
        write_atomic(out, json.dumps(data, indent=1))
    write_atomic(out.with_suffix(".md"), markdown(data))
    print(markdown(data))


if __name__ == "__main__":
    main()
