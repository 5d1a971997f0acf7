#!/usr/bin/env python
"""What ``dice_ner``'s entity confidences cost: prediction words/s with ``scores_key = "ents"``
against ``scores_key = null``, in one process, on the same trained pipeline.

    python benchmarks/confidence_speed.py --out benchmarks/results

Data: UNER English-EWT (``<data-dir>/uner_english_ewt``; trains on 80 % of its dev file as
``run_accuracy.py`` does, times on its test file); without it, the shipped ``assets/sample``.
The pipeline is ``configs/ner_cnn.cfg`` (CNN tok2vec + ``dice_ner``, CE) trained ``--steps``
updates (the speed does not depend on accuracy, but a trained model predicts entities, and the
confidences are only computed for docs that have some). Then ``nlp.pipe`` over the test docs
(pre-tokenised, ``--batch-size`` docs per batch) is timed ``--rounds`` times per setting,
interleaved in a shuffled order per round, so a shared machine's load hits both alike, per CPU
second of the process and per wall second. The cost is the median over rounds of
``1 - wps(ents) / wps(null)`` (both settings timed back to back in the round; the ratio of the
medians and of the best rounds are reported too). Less disturbed by the machine's load, two direct
timings on the same predicted scores: ``set_annotations`` with and without the confidences, and
:func:`spacy_dice.pipeline.marginals.entity_marginals` alone.

Writes ``<out>/confidence_speed.json`` and ``<out>/confidence_speed.md``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

import spacy  # noqa: E402
from spacy.tokens import Doc, DocBin  # noqa: E402
from spacy.training import Example  # noqa: E402
from spacy.util import load_model_from_config, minibatch  # noqa: E402
from thinc.api import Config  # noqa: E402

from spacy_dice.formatting import percent  # noqa: E402
from spacy_dice.pipeline.biluo import spans_from_tags  # noqa: E402
from spacy_dice.pipeline.marginals import entity_marginals  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from run_speed import _blank as blank, predict_wps  # noqa: E402

# The budget: computing the confidences may cost at most 15 % of dice_ner's prediction words per
# CPU second (the paired median over rounds, ``cost_cpu_paired``); ``within_budget`` says whether
# the run kept to it.
BUDGET = 0.15


def load_data(data_dir: Path, work: Path) -> Dict[str, Any]:
    """Train and test docs: UNER English-EWT if it is there, else the shipped sample."""
    if (data_dir / "uner_english_ewt" / "en_ewt-ud-test.iob2").exists():
        from run_accuracy import prepare_data

        paths = prepare_data("uner", data_dir, work, 0)
        return {"name": "UNER English-EWT (train: 80% of dev; timed: test)", "train": paths["train"],
                "test": paths["test"]}
    sample = ROOT / "assets" / "sample"
    return {"name": "assets/sample", "train": sample / "train.spacy", "test": sample / "dev.spacy"}


def train(config: Config, train_docs: List[Doc], steps: int, seed: int) -> spacy.Language:
    spacy.util.fix_random_seed(seed)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    examples = [Example(blank(nlp, d), d) for d in train_docs]
    nlp.initialize(lambda: examples)
    optimizer = nlp.create_optimizer()
    rng = random.Random(seed)
    step = 0
    while step < steps:
        rng.shuffle(examples)
        for batch in minibatch(examples, size=64):
            nlp.update(batch, sgd=optimizer, drop=0.1)
            step += 1
            if step >= steps:
                break
    return nlp


def pipe_wps(nlp: spacy.Language, docs: List[Doc], batch_size: int) -> Dict[str, float]:
    """``nlp.pipe`` words/s per wall-clock second and per CPU second of the process (all its
    threads; a shared machine's load disturbs it much less)."""
    words = sum(len(d) for d in docs)
    cpu = time.process_time()
    wall_wps = predict_wps(nlp, docs, batch_size)
    return {"wall": wall_wps, "cpu": words / (time.process_time() - cpu)}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--config", default=str(ROOT / "configs" / "ner_cnn.cfg"))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=1000, help="nlp.pipe batch size (docs)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gpu", type=int, default=-1, help="GPU id (spacy.require_gpu); -1: CPU")
    args = p.parse_args(argv)
    if args.gpu >= 0:
        spacy.require_gpu(args.gpu)
    data = load_data(Path(args.data_dir), Path(args.work_dir))
    vocab = spacy.blank("en").vocab
    train_docs = list(DocBin().from_disk(data["train"]).get_docs(vocab))
    test_docs = list(DocBin().from_disk(data["test"]).get_docs(vocab))
    config = Config().from_disk(args.config)
    t0 = time.perf_counter()
    nlp = train(config, train_docs, args.steps, args.seed)
    train_s = time.perf_counter() - t0
    ner_name = next(name for name, pipe in nlp.pipeline if type(pipe).__name__ == "DiceEntityRecognizer")
    ner = nlp.get_pipe(ner_name)

    def with_key(key: Optional[str]) -> Dict[str, float]:
        ner.cfg["scores_key"] = key
        return pipe_wps(nlp, test_docs, args.batch_size)

    with_key("ents")  # warm up (allocations, caches)
    values: Dict[str, Dict[str, List[float]]] = {k: {"wall": [], "cpu": []} for k in ("ents", "null")}
    rng = random.Random(args.seed)
    for _ in range(args.rounds):
        order = ["ents", "null"]
        rng.shuffle(order)
        for name in order:
            for clock, value in with_key(None if name == "null" else name).items():
                values[name][clock].append(value)
    ner.cfg["scores_key"] = "ents"

    def median(v: List[float]) -> float:
        return sorted(v)[len(v) // 2]

    # set_annotations alone (the decoder, doc.ents, and with "ents" the confidences), on the
    # same predicted scores, interleaved: the cost without the model's noise
    batches = []
    for start in range(0, len(test_docs), args.batch_size):
        batch = list(nlp.pipe([blank(nlp, d) for d in test_docs[start : start + args.batch_size]],
                              disable=[ner_name]))
        batches.append((batch, ner.predict(batch)))
    annotate: Dict[str, List[float]] = {"ents": [], "null": []}
    for _ in range(args.rounds):
        order = ["ents", "null"]
        rng.shuffle(order)
        for name in order:
            ner.cfg["scores_key"] = None if name == "null" else name
            cpu = time.process_time()
            for batch, scores in batches:
                ner.set_annotations(batch, scores)
            annotate[name].append(time.process_time() - cpu)
    ner.cfg["scores_key"] = "ents"

    # the marginals alone, over the same batches
    n_ents = n_with = 0
    marg_s = []
    for _ in range(3):
        total = 0.0
        for batch, scores in batches:
            ents = [spans_from_tags(ids, ner.class_names) for ids in ner.decode(scores)]
            n_ents, n_with = n_ents + sum(map(len, ents)), n_with + sum(1 for e in ents if e)
            cpu = time.process_time()
            entity_marginals(ner.biased_log_probs(scores), ents, ner.class_names)
            total += time.process_time() - cpu
        marg_s.append(total)
    n_ents, n_with = n_ents // 3, n_with // 3
    words = sum(len(d) for d in test_docs)
    result = {
        "data": data["name"],
        "command": "python benchmarks/confidence_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": str(Path(args.config).relative_to(ROOT)) if Path(args.config).is_relative_to(ROOT) else args.config,
        "steps": args.steps,
        "train_seconds": round(train_s, 1),
        "device": "GPU" if args.gpu >= 0 else "CPU",
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "test_docs": len(test_docs),
        "test_words": words,
        "docs_with_entities": n_with,
        "entities": n_ents,
        "wps": {k: {clock: {"median": median(v), "best": max(v), "all": v} for clock, v in by_clock.items()}
                for k, by_clock in values.items()},
        # per round, ents and null ran back to back: the median of the paired ratios follows the
        # machine's load drift less than a ratio of medians
        "cost_cpu_paired": 1.0 - median([a / b for a, b in zip(values["ents"]["cpu"], values["null"]["cpu"])]),
        "cost_wall_paired": 1.0 - median([a / b for a, b in zip(values["ents"]["wall"], values["null"]["wall"])]),
        "cost_cpu_median": 1.0 - median(values["ents"]["cpu"]) / median(values["null"]["cpu"]),
        "cost_cpu_best": 1.0 - max(values["ents"]["cpu"]) / max(values["null"]["cpu"]),
        "cost_wall_median": 1.0 - median(values["ents"]["wall"]) / median(values["null"]["wall"]),
        "cost_wall_best": 1.0 - max(values["ents"]["wall"]) / max(values["null"]["wall"]),
        "set_annotations_cpu_seconds": {k: {"median": median(v), "best": min(v), "all": v} for k, v in annotate.items()},
        "marginals_cpu_seconds_best": min(marg_s),
    }
    null_cpu_s = words / median(values["null"]["cpu"])
    result["marginals_share_of_null_cpu_time"] = min(marg_s) / null_cpu_s
    result["set_annotations_extra_share_of_null_cpu_time"] = (
        median(annotate["ents"]) - median(annotate["null"])
    ) / null_cpu_s
    result["within_budget"] = result["cost_cpu_paired"] <= BUDGET
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "confidence_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Entity confidences: what they cost `dice_ner`'s prediction",
        "",
        f"`{result['command']}`",
        "",
        f"Data: {result['data']}; {len(test_docs)} docs, {words} words timed, {n_with} docs with"
        f" {n_ents} predicted entities. Pipeline: `{result['config']}` trained {args.steps} steps"
        f" ({result['device']}). `nlp.pipe`, batch size {args.batch_size}, {args.rounds} interleaved rounds.",
        "",
        "| scores_key | words/s per CPU second (median) | (best) | words/s per wall second (median) | (best) |",
        "|---|---|---|---|---|",
    ]
    for name, shown in (("null", "`null`"), ("ents", '`"ents"`')):
        cpu, wall = values[name]["cpu"], values[name]["wall"]
        md.append(f"| {shown} | {median(cpu):,.0f} | {max(cpu):,.0f} | {median(wall):,.0f} | {max(wall):,.0f} |")
    md += [
        "",
        f"Cost of the confidences (median over rounds of 1 - wps(ents) / wps(null), both timed back to"
        f" back in each round): {percent(result['cost_cpu_paired'], 1)} % per CPU second,"
        f" {percent(result['cost_wall_paired'], 1)} % per wall second; budget {percent(BUDGET, 0)} %:"
        f" {'within' if result['within_budget'] else 'OVER'}.",
        f"Ratios of the medians: {percent(result['cost_cpu_median'], 1)} % per CPU second (medians;"
        f" {percent(result['cost_cpu_best'], 1)} % best rounds), {percent(result['cost_wall_median'], 1)} % per"
        f" wall second (medians; {percent(result['cost_wall_best'], 1)} % best rounds).",
        f"`set_annotations` alone on the same scores: {median(annotate['null']):.3f} s (null) vs"
        f" {median(annotate['ents']):.3f} s (ents) CPU over the test set, i.e."
        f" {percent(result['set_annotations_extra_share_of_null_cpu_time'], 1)} % of the prediction"
        f" time; the forward-backward alone: {result['marginals_cpu_seconds_best']:.3f} s"
        f" ({percent(result['marginals_share_of_null_cpu_time'], 1)} %).",
        "",
    ]
    (out / "confidence_speed.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
