#!/usr/bin/env python
"""Component speed: our components against spaCy's, and each loss's training speed against CE.

    python benchmarks/run_speed.py --out benchmarks/results

Everything runs in one process on pipelines built from the repository's CPU configs and
initialised on the task's training data (same tok2vec, same labels); timings are interleaved
(A, B, A, B, ...) so a shared machine's load hits every row alike, and the best round is kept.

* prediction: ``nlp.pipe`` over the test docs (pre-tokenised), batch size ``--batch-size``:
  ``dice_ner`` vs spaCy ``ner`` (UNER test), ``dice_tagger`` (``attr="tag"``) vs spaCy
  ``tagger`` and ``dice_tagger`` (``attr="pos"``) vs ``morphologizer`` (UD EWT test);
* training: ``nlp.update`` words/s of ``dice_ner`` with each loss preset on the same batches
  of UNER training docs (and of spaCy's ``ner``), relative to CE.

``--profile`` also writes cProfile stats of ``dice_ner`` prediction and of a DSC training
loop (``<work-dir>/profile_*.prof``) and prints the share of time spent in ``spacy_dice``.
Writes ``<out>/speed.json`` and ``<out>/speed.md``.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

import spacy  # noqa: E402
from spacy.tokens import Doc, DocBin  # noqa: E402
from spacy.training import Example  # noqa: E402
from spacy.util import load_model_from_config, minibatch  # noqa: E402

from spacy_dice.formatting import percent  # noqa: E402
from spacy_dice.training import LOSS_PRESETS, spacy_baseline, with_loss  # noqa: E402
from run_accuracy import machine, prepare_data, task_config  # noqa: E402


def read_docs(path: Path, nlp) -> List[Doc]:
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def build(config, train_docs: List[Doc], seed: int = 0):
    spacy.util.fix_random_seed(seed)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    examples = [Example(_blank(nlp, d), d) for d in train_docs]
    nlp.initialize(lambda: examples)
    return nlp, examples


def _blank(nlp, doc: Doc) -> Doc:
    return Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])


def predict_wps(nlp, gold: List[Doc], batch_size: int) -> float:
    docs = [_blank(nlp, d) for d in gold]
    words = sum(len(d) for d in docs)
    start = time.perf_counter()
    for _ in nlp.pipe(docs, batch_size=batch_size):
        pass
    return words / (time.perf_counter() - start)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def train_wps(nlp, batches: List[List[Example]], optimizer, clock: str = "wall") -> float:
    """Training words/s; ``clock="cpu"`` divides by the process's CPU time (all threads), which
    a shared machine's load disturbs much less than the elapsed time."""
    timer = CLOCKS[clock]
    words = sum(len(eg) for batch in batches for eg in batch)
    start = timer()
    for batch in batches:
        nlp.update(batch, sgd=optimizer, drop=0.1, losses={})
    return words / (timer() - start)


def interleaved(funcs: Dict[str, Callable[[], float]], rounds: int) -> Dict[str, Dict[str, Any]]:
    """Run each function once per round in a shuffled order; keep best and all values."""
    values: Dict[str, List[float]] = {name: [] for name in funcs}
    rng = random.Random(0)
    for _ in range(rounds):
        order = list(funcs)
        rng.shuffle(order)
        for name in order:
            values[name].append(funcs[name]())
    return {name: {"best": max(v), "median": sorted(v)[len(v) // 2], "all": v}
            for name, v in values.items()}


def _short_path(file: str) -> str:
    """``file`` as the profile shows it: relative to ``site-packages`` or to this repository's
    root (:data:`ROOT`), else as it is."""
    file = file.split("site-packages/")[-1]
    root = str(ROOT) + "/"
    return file[len(root):] if file.startswith(root) else file


def profile_share(func: Callable[[], Any], path: Path, top: int = 25) -> Dict[str, Any]:
    prof = cProfile.Profile()
    prof.enable()
    func()
    prof.disable()
    prof.dump_stats(str(path))
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    ours_tottime = 0.0
    for (file, line, fn), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "spacy_dice" in file:
            ours_tottime += tt
        rows.append((ct, tt, f"{_short_path(file)}:{line}({fn})"))
    rows.sort(reverse=True)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return {
        "total_s": total,
        "spacy_dice_self_time_share": ours_tottime / total if total else None,
        "top_cumulative": [{"cum_s": ct, "self_s": tt, "where": w} for ct, tt, w in rows[:top]],
        "top_self_time_text": out.getvalue(),
        "prof_file": str(path),
    }


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--batch-size", type=int, default=1000, help="nlp.pipe batch size (docs)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--train-docs", type=int, default=600,
                   help="UNER training docs per timed training pass (batches of ~1000 words)")
    p.add_argument("--losses", default=",".join(LOSS_PRESETS))
    p.add_argument("--skip", default="", help="comma-separated parts to skip: predict,train")
    p.add_argument("--start-step", type=int, default=0,
                   help="training: start dice_ner's update counter here (a scheduled loss, e.g."
                        " ce_then_dsc, is timed in the phase of that step)")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                   help="training speed per CPU second of the process (default) or per wall second")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work_dir)
    data_dir = Path(args.data_dir)
    skip = set(filter(None, args.skip.split(",")))
    report: Dict[str, Any] = {
        "machine": machine(), "batch_size": args.batch_size, "rounds": args.rounds,
        "command": "python benchmarks/run_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    vocab_nlp = spacy.blank("en")
    uner = prepare_data("uner", data_dir, work, 10000)
    uner_train = read_docs(uner["train"], vocab_nlp)
    uner_test = read_docs(uner["test"], vocab_nlp)

    if "predict" not in skip:
        ud = prepare_data("ud_upos", data_dir, work, 10000)
        ud_train = read_docs(ud["train"], vocab_nlp)[:3000]
        ud_test = read_docs(ud["test"], vocab_nlp)
        pairs = {
            "ner": (task_config("uner"), "ner", uner_train, uner_test, "UNER test"),
            "tagger_xpos": (task_config("ud_xpos"), "tagger", ud_train, ud_test, "UD EWT test"),
            "tagger_upos": (task_config("ud_upos"), "tagger", ud_train, ud_test, "UD EWT test"),
        }
        report["predict"] = {}
        for key, (config, comp, train_docs, test_docs, data_name) in pairs.items():
            ours, _ = build(with_loss(config, comp, "ce"), train_docs)
            theirs, _ = build(spacy_baseline(config, comp), train_docs)
            ours_name = f"{config['components'][comp]['factory']}"
            if comp == "tagger":
                ours_name += f" (attr={config['components'][comp]['attr']})"
            theirs_name = spacy_baseline(config, comp)["components"][comp]["factory"]
            res = interleaved({
                ours_name: lambda: predict_wps(ours, test_docs, args.batch_size),
                f"spacy {theirs_name}": lambda: predict_wps(theirs, test_docs, args.batch_size),
            }, args.rounds)
            words = sum(len(d) for d in test_docs)
            report["predict"][key] = {"data": data_name, "words": words, "results": res}
            print(key, {k: round(v["best"]) for k, v in res.items()}, flush=True)
            if args.profile and comp == "ner":
                report["profile_predict_dice_ner"] = profile_share(
                    lambda: predict_wps(ours, test_docs, args.batch_size),
                    work / "profile_predict_dice_ner.prof")
                report["profile_predict_spacy_ner"] = profile_share(
                    lambda: predict_wps(theirs, test_docs, args.batch_size),
                    work / "profile_predict_spacy_ner.prof")
            (out / "speed.json").write_text(json.dumps(report, indent=1))

    if "train" not in skip:
        config = task_config("uner")
        docs = uner_train[: args.train_docs]
        funcs = {}
        pipelines = {}
        rows = [r for r in args.losses.split(",") if r] + ["spacy"]
        for row in rows:
            cfg = spacy_baseline(config, "ner") if row == "spacy" else with_loss(config, "ner", row)
            nlp, examples = build(cfg, uner_train)
            examples = examples[: args.train_docs]
            batches = list(minibatch(examples, size=40))
            optimizer = nlp.create_optimizer()
            if row != "spacy":
                nlp.get_pipe("ner").cfg["update_step"] = args.start_step
            train_wps(nlp, batches[:2], optimizer)  # warm-up
            pipelines[row] = (nlp, batches, optimizer)
            funcs[row] = (lambda n=nlp, b=batches, o=optimizer: train_wps(n, b, o, args.clock))
        res = interleaved(funcs, args.rounds)
        ce = res["ce"]["best"]
        for row in res:
            res[row]["ratio_to_ce"] = res[row]["best"] / ce
        words = sum(len(eg) for batch in pipelines["ce"][1] for eg in batch)
        report["train"] = {"data": f"first {len(docs)} UNER training docs ({words} words), "
                                   "batches of 40 docs", "clock": args.clock,
                           "start_step": args.start_step, "results": res}
        print({k: (round(v["best"]), round(v["ratio_to_ce"], 3)) for k, v in res.items()}, flush=True)
        if args.profile:
            nlp, batches, optimizer = pipelines["dsc"]
            report["profile_train_dsc"] = profile_share(
                lambda: train_wps(nlp, batches, optimizer), work / "profile_train_dsc.prof")
            nlp, batches, optimizer = pipelines["ce"]
            report["profile_train_ce"] = profile_share(
                lambda: train_wps(nlp, batches, optimizer), work / "profile_train_ce.prof")
        (out / "speed.json").write_text(json.dumps(report, indent=1))
    (out / "speed.md").write_text(markdown(report))


def markdown(report: Dict[str, Any]) -> str:
    lines = [f"Machine: {report['machine']}. Command: `{report['command']}`. Best of"
             f" {report['rounds']} interleaved rounds; the machine was shared with other jobs.", ""]
    if "predict" in report:
        lines += [f"Prediction (`nlp.pipe`, batch size {report['batch_size']}, pre-tokenised docs):",
                  "", "| comparison | data | pipeline | words/s (best) | words/s (median) | ratio |",
                  "|---|---|---|---|---|---|"]
        for key, entry in report["predict"].items():
            res = entry["results"]
            names = list(res)
            base = res[names[1]]["best"]
            for name in names:
                lines.append(f"| {key} | {entry['data']} | {name} | {res[name]['best']:,.0f} |"
                             f" {res[name]['median']:,.0f} | {res[name]['best'] / base:.2f} |")
        lines.append("")
    if "train" in report:
        clock = report["train"].get("clock", "wall")
        unit = "words per CPU second of the process" if clock == "cpu" else "words per second"
        lines += [f"Training (`nlp.update`, dice_ner on {report['train']['data']}; {unit}):", "",
                  "| loss | words/s (best) | words/s (median) | ratio to CE |", "|---|---|---|---|"]
        for name, r in report["train"]["results"].items():
            label = "spaCy ner" if name == "spacy" else name
            lines.append(f"| {label} | {r['best']:,.0f} | {r['median']:,.0f} | {r['ratio_to_ce']:.3f} |")
        lines.append("")
    for key in ("profile_predict_dice_ner", "profile_train_dsc", "profile_train_ce"):
        if key in report:
            share = report[key]["spacy_dice_self_time_share"]
            lines.append(f"{key}: {report[key]['total_s']:.2f} s profiled, self time in spacy_dice:"
                         f" {percent(share, 1)}%")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
