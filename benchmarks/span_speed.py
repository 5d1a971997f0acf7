#!/usr/bin/env python
"""Span components: speed against spaCy's, and the negative:positive ratio of the candidates.

    python benchmarks/span_speed.py --out benchmarks/results

* training words/s (``nlp.update``, process CPU time by default) and prediction words/s
  (``nlp.pipe``) of ``dice_spancat`` with several losses against spaCy's ``spancat`` (and
  ``dice_span_finder`` + ``dice_spancat`` against ``span_finder`` + ``spancat``), built from
  ``configs/spancat_cnn.cfg`` / ``configs/spans_cnn.cfg`` on the UNER span data (same tok2vec,
  suggester, batches); timings interleaved in one process (see ``run_speed.py``), best round kept;
* the negative:positive ratio of the n-gram candidates (sizes 1-4) on the UNER and CoNLL-2003
  span data: the paper's Table 1 in span terms (it counts only; no training).

Writes ``<out>/spans_speed.json`` and ``<out>/spans_speed.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

from spacy.util import minibatch  # noqa: E402

from run_accuracy import candidate_ratio, machine, prepare_data, task_config  # noqa: E402
from run_speed import CLOCKS, build, interleaved, predict_wps, read_docs  # noqa: E402
from make_tables import span_speed_tables  # noqa: E402
from spacy_dice.training.config_rewrites import spacy_span_baseline, with_loss  # noqa: E402


def span_config(task: str, row: str):
    config = task_config(task)
    components = ["spancat"] + (["span_finder"] if task == "uner_spanfinder" else [])
    for name in components:
        config = spacy_span_baseline(config, name) if row == "spacy" else with_loss(config, name, row)
    return config


def train_wps(nlp, batches, optimizer, clock: str, annotates: List[str]) -> float:
    """``run_speed.train_wps`` with ``annotates`` (the span finder feeds the spancat)."""
    timer = CLOCKS[clock]
    words = sum(len(eg) for batch in batches for eg in batch)
    start = timer()
    for batch in batches:
        nlp.update(batch, sgd=optimizer, drop=0.1, losses={}, annotates=annotates)
    return words / (timer() - start)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--losses", default="bce,dsc_set,bce_dsc")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--train-docs", type=int, default=400)
    p.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--skip-finder", action="store_true")
    args = p.parse_args(argv)
    data_dir, work, out = Path(args.data_dir), Path(args.work_dir), Path(args.out)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    report: Dict[str, Any] = {
        "command": "python benchmarks/span_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "git_commit": commit, "machine": machine(), "clock": args.clock,
        "candidates": {}, "speed": {},
    }
    for corpus in ("uner_spans", "conll03_spans"):
        paths = prepare_data(corpus, data_dir, work, 10000)
        report["candidates"][corpus] = {split: candidate_ratio(path) for split, path in paths.items()}
    tasks = ["uner_spans"] + ([] if args.skip_finder else ["uner_spanfinder"])
    for task in tasks:
        paths = prepare_data(task, data_dir, work, 10000)
        rows = ["spacy"] + [r for r in args.losses.split(",") if r]
        train_funcs, predict_funcs = {}, {}
        words = 0
        for row in rows:
            config = span_config(task, row)
            import spacy

            vocab_nlp = spacy.blank("en")
            train_docs = read_docs(paths["train"], vocab_nlp)
            test_docs = read_docs(paths["test"], vocab_nlp)
            nlp, examples = build(config, train_docs)
            batches = list(minibatch(examples[: args.train_docs], size=40))
            words = sum(len(eg) for batch in batches for eg in batch)
            optimizer = nlp.create_optimizer()
            annotates = list(config["training"]["annotating_components"])
            train_wps(nlp, batches[:2], optimizer, args.clock, annotates)  # warm-up
            train_funcs[row] = (lambda n=nlp, b=batches, o=optimizer, a=annotates:
                                train_wps(n, b, o, args.clock, a))
            predict_funcs[row] = (lambda n=nlp, d=test_docs: predict_wps(n, d, args.batch_size))
        train = interleaved(train_funcs, args.rounds)
        predict = interleaved(predict_funcs, args.rounds)
        for res in (train, predict):
            for row in res:
                res[row]["ratio_to_spacy"] = res[row]["best"] / res["spacy"]["best"]
        report["speed"][task] = {
            "train": train, "predict": predict,
            "data": f"train: first {args.train_docs} training docs ({words} words), batches of 40;"
                    f" predict: the test docs, batch size {args.batch_size}",
        }
        print(task, {r: (round(train[r]["best"]), round(train[r]["ratio_to_spacy"], 3),
                         round(predict[r]["ratio_to_spacy"], 3)) for r in rows}, flush=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "spans_speed.json").write_text(json.dumps(report, indent=1))
    (out / "spans_speed.json").write_text(json.dumps(report, indent=1))
    (out / "spans_speed.md").write_text(markdown(report))


def markdown(report: Dict[str, Any]) -> str:
    lines = ["### Span components: speed and candidate imbalance", "",
             f"Command: `{report['command']}` (commit {report['git_commit']}; {report['machine']};"
             f" training timed by the {report['clock']} clock, best of interleaved rounds; ratios"
             " to spaCy's row).", ""]
    return "\n".join(lines + span_speed_tables(report)) + "\n"


if __name__ == "__main__":
    main()
