#!/usr/bin/env python
"""Joint word segmentation + POS speed: ``dice_seg_tagger`` against spaCy's ``tagger`` on the
same characters, and its training speed with each loss against CE.

    python benchmarks/seg_speed.py --out benchmarks/results
    python benchmarks/seg_speed.py --runs-dir /tmp/spacy_dice_bench/runs/ud_zh --seed 0  # trained models

Everything runs in one process; timings are interleaved (A, B, A, B, ...) and the best round is
kept (``run_speed.py``'s helpers: ``build``, ``predict_wps``, ``train_wps``, ``interleaved``):

* prediction: ``nlp.pipe`` over the test docs of the task (``ud_zh``: UD Chinese-GSD r1.4 test as
  character docs; pre-tokenised, one token per character), batch size ``--batch-size``:
  ``dice_seg_tagger`` (constrained decoding over the BILU-POS lattice, each word merged into one
  token with its POS) against spaCy's ``tagger`` on the BILU-POS tags (one tag per character, no
  decoding, no merge). Both pipelines come from ``configs/seg_tagger_cnn.cfg`` (the same tok2vec:
  ``spacy_baseline`` only swaps the component). By default they are freshly initialised on the
  training docs; with ``--runs-dir`` (a ``benchmarks/run_accuracy.py`` runs folder) the trained
  ``model-best`` of its ``ce`` and ``spacy`` rows for ``--seed``, so that the number of words
  merged is a trained model's;
* training: ``nlp.update`` on the same batches of training docs, ``dice_seg_tagger`` with each
  loss preset of ``--losses`` and spaCy's ``tagger``, relative to CE (``--clock cpu``: per CPU
  second of the process, which a shared machine disturbs less than the elapsed time).

Speeds are reported per character (the tokens the pipelines see) and per gold word of the same
docs (characters/s times words per character: the ratios are the same). Writes
``<out>/seg_speed.json`` and ``<out>/seg_speed.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

import spacy  # noqa: E402
from spacy.util import minibatch  # noqa: E402

from run_accuracy import TASKS, machine, prepare_data, task_config  # noqa: E402
from make_tables import seg_speed_markdown  # noqa: E402
from run_speed import CLOCKS, build, interleaved, predict_wps, read_docs, train_wps  # noqa: E402
from spacy_dice.files import write_atomic  # noqa: E402
from spacy_dice.training import spacy_baseline, with_loss  # noqa: E402

SEG_TASKS = [task for task, spec in TASKS.items() if spec["kind"] == "words"]
DEFAULT_LOSSES = "ce,focal,dl,dsc,ce_then_dsc"
WORDS_KEY = "words"


def gold_words(docs: List[Any]) -> int:
    """The number of gold words (``doc.spans["words"]``) of character docs."""
    return sum(len(doc.spans.get(WORDS_KEY, [])) for doc in docs)


def trained_model(runs_dir: Path, row: str, seed: int) -> Path:
    """``model-best`` of the run ``<row>-s<seed>-*`` in ``runs_dir`` (a run_accuracy runs folder).

    Raises:
        FileNotFoundError: no such run, or more than one (the message lists them).
    """
    found = sorted(p for p in runs_dir.glob(f"{row}-s{seed}-*") if (p / "model-best").is_dir())
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one run {row}-s{seed}-* with a model-best in {runs_dir}, found"
            f" {[p.name for p in found] or 'none'}; pass the runs folder of one budget"
            " (benchmarks/run_accuracy.py --work-dir W: W/runs/<task>)")
    return found[0] / "model-best"


def prediction(args: argparse.Namespace, train_docs: List[Any], test_docs: List[Any],
               component: str) -> Dict[str, Any]:
    """Interleaved ``nlp.pipe`` words/s of ``dice_seg_tagger`` and spaCy's ``tagger``."""
    config = task_config(args.task)
    if args.runs_dir:
        runs = Path(args.runs_dir)
        paths = {"ce": trained_model(runs, "ce", args.seed), "spacy": trained_model(runs, "spacy", args.seed)}
        ours, theirs = spacy.load(paths["ce"]), spacy.load(paths["spacy"])
        source = f"trained model-best of {paths['ce'].parent.name} and {paths['spacy'].parent.name}"
    else:
        ours, _ = build(with_loss(config, component, "ce"), train_docs)
        theirs, _ = build(spacy_baseline(config, component), train_docs)
        source = f"untrained, initialised on {len(train_docs)} training docs"
    names = {"ours": f"dice_seg_tagger (attr={config['components'][component]['attr']})",
             "theirs": "spacy tagger (BILU-POS tags)"}
    res = interleaved({
        names["ours"]: lambda: predict_wps(ours, test_docs, args.batch_size),
        names["theirs"]: lambda: predict_wps(theirs, test_docs, args.batch_size),
    }, args.rounds)
    chars = sum(len(doc) for doc in test_docs)
    words = gold_words(test_docs)
    for name in res:
        res[name]["best_words_per_s"] = res[name]["best"] * words / chars
        res[name]["ratio_to_spacy"] = res[name]["best"] / res[names["theirs"]]["best"]
    return {"data": f"{args.task} test ({len(test_docs)} docs)", "characters": chars, "words": words,
            "models": source, "results": res}


def training(args: argparse.Namespace, train_docs: List[Any], component: str) -> Dict[str, Any]:
    """Interleaved ``nlp.update`` words/s of each loss and of spaCy's tagger, relative to CE."""
    config = task_config(args.task)
    rows = [r for r in args.losses.split(",") if r]
    if "ce" not in rows:
        rows = ["ce"] + rows
    funcs = {}
    words = chars = 0
    for row in rows + ["spacy"]:
        cfg = spacy_baseline(config, component) if row == "spacy" else with_loss(config, component, row)
        nlp, examples = build(cfg, train_docs)
        examples = examples[: args.train_docs]
        batches = list(minibatch(examples, size=args.batch_docs))
        optimizer = nlp.create_optimizer()
        if row != "spacy":
            nlp.get_pipe(component).cfg["update_step"] = args.start_step
        train_wps(nlp, batches[:2], optimizer)  # warm-up
        chars = sum(len(eg) for batch in batches for eg in batch)
        words = gold_words([eg.reference for batch in batches for eg in batch])
        funcs[row] = (lambda n=nlp, b=batches, o=optimizer: train_wps(n, b, o, args.clock))
    res = interleaved(funcs, args.rounds)
    for row in res:
        res[row]["ratio_to_ce"] = res[row]["best"] / res["ce"]["best"]
        res[row]["best_words_per_s"] = res[row]["best"] * words / chars
    return {"data": f"first {min(args.train_docs, len(train_docs))} {args.task} training docs ({chars:,}"
                    f" characters, {words:,} words), batches of {args.batch_docs} docs",
            "clock": args.clock, "start_step": args.start_step, "results": res}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="ud_zh", choices=SEG_TASKS)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--limit", type=int, default=0,
                   help="only the first N sentences of each split (a smoke test; run_accuracy --limit)")
    p.add_argument("--batch-size", type=int, default=1000, help="nlp.pipe batch size (docs)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--init-docs", type=int, default=0,
                   help="training docs the fresh pipelines are initialised on (0: all)")
    p.add_argument("--test-docs", type=int, default=0, help="test docs timed (0: all)")
    p.add_argument("--train-docs", type=int, default=600, help="training docs per timed training pass")
    p.add_argument("--batch-docs", type=int, default=25,
                   help="docs per training batch (UD Chinese-GSD: about 39 characters a sentence)")
    p.add_argument("--losses", default=DEFAULT_LOSSES, help="comma-separated presets (CE always runs)")
    p.add_argument("--start-step", type=int, default=0,
                   help="training: start the update counter here (a scheduled loss, ce_then_dsc, is"
                        " timed in the phase of that step; 1000: DSC fully ramped in)")
    p.add_argument("--runs-dir", default="",
                   help="prediction: time the trained model-best of the ce and spacy rows in this"
                        " run_accuracy runs folder (W/runs/<task>) instead of fresh pipelines")
    p.add_argument("--seed", type=int, default=0, help="--runs-dir: the seed of the runs")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: predict,train")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="training speed per CPU second of the process (default) or per wall second")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    component = TASKS[args.task]["component"]
    report: Dict[str, Any] = {
        "task": args.task, "machine": machine(), "batch_size": args.batch_size, "rounds": args.rounds,
        "command": "python benchmarks/seg_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    paths = prepare_data(args.task, Path(args.data_dir), Path(args.work_dir), 0, limit=args.limit)
    vocab_nlp = spacy.blank("zh")
    train_docs = read_docs(paths["train"], vocab_nlp)
    init_docs = train_docs[: args.init_docs] if args.init_docs else train_docs
    test_docs = read_docs(paths["test"], vocab_nlp)
    test_docs = test_docs[: args.test_docs] if args.test_docs else test_docs

    def save() -> None:
        write_atomic(out / "seg_speed.json", json.dumps(report, indent=1))
        write_atomic(out / "seg_speed.md", seg_speed_markdown(report))

    if "predict" not in skip:
        report["predict"] = prediction(args, init_docs, test_docs, component)
        print("predict", {k: round(v["best"]) for k, v in report["predict"]["results"].items()}, flush=True)
        save()
    if "train" not in skip:
        report["train"] = training(args, init_docs, component)
        print("train", {k: (round(v["best"]), round(v["ratio_to_ce"], 3))
                        for k, v in report["train"]["results"].items()}, flush=True)
        save()
    save()


if __name__ == "__main__":
    main()
