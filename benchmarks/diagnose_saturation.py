#!/usr/bin/env python
"""Where do dice losses stop learning? Per-class gradients over the first training steps.

Trains ``dice_ner`` (configs/ner_cnn.cfg: CNN tok2vec, spaCy's batcher, optimizer and dropout of
that config) on UNER English-EWT (the first 80% of its dev file, as benchmarks/run_accuracy.py) for
``--steps`` updates with each loss, and every ``--every`` steps records, on the batch being trained:

* per gold group (``O`` tokens, entity-tag tokens, and each entity tag): the mean probability of
  the gold class, the share of tokens whose gold probability is below 0.01, the mean L2 norm of the
  gradient w.r.t. the token's logits and the mean gradient on the gold logit (negative = pushed
  up), both for the gradient the component back-propagates (the loss's gradient times the number of
  labelled tokens, ``grad_scale = "labelled"``);
* the loss value, and every ``--eval-every`` steps the F1 on the held-out last 20% of UNER dev.

    python benchmarks/diagnose_saturation.py --steps 300 --every 10

Writes ``benchmarks/results/diagnosis_uner.json`` (every record, the command, seed, commit) and
``diagnosis_uner.md`` (a summary table). The data are read from ``--data-dir`` (default
``../shared/data``); nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy

ROOT = Path(__file__).resolve().parents[1]

from run_accuracy import prepare_data  # noqa: E402

from spacy_dice.formatting import percent  # noqa: E402
from spacy_dice.training import load_config, with_loss  # noqa: E402

# rows: name -> (preset, overrides)
ROWS: Dict[str, Any] = {
    "ce": ("ce", {}),
    "dl": ("dl", {}),
    "dsc": ("dsc", {}),
    "tversky": ("tversky", {}),
    "dl-set": ("dl", {"level": "set"}),
    "dsc-set": ("dsc", {"level": "set"}),
    "tversky-set": ("tversky", {"level": "set"}),
    "ce_then_dsc": ("ce_then_dsc", {}),
    "logdice": ("logdice", {}),
    "logdice-instance": ("logdice", {"level": "instance"}),
}


class Recorder:
    """Wraps a component's loss; computes per-group statistics of each training call."""

    def __init__(self, loss: Any, labels: List[str]) -> None:
        self.inner = loss
        self.labels = labels
        self.record: Optional[Dict[str, Any]] = None
        self.active = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, guesses: Any, truths: Any):
        grads, value = self.inner(guesses, truths)
        if self.active:
            self.record = self.stats(guesses, truths, grads, value)
        return grads, value

    def stats(self, guesses, truths, grads, value) -> Dict[str, Any]:
        P = numpy.concatenate([numpy.asarray(g) for g in guesses]) if isinstance(guesses, list) else numpy.asarray(guesses)
        G = numpy.concatenate([numpy.asarray(g) for g in grads]) if isinstance(grads, list) else numpy.asarray(grads)
        gold = numpy.concatenate([numpy.asarray(t) for t in truths]) if isinstance(truths, list) else numpy.asarray(truths)
        keep = gold >= 0
        P, G, gold = P[keep], G[keep], gold[keep]
        n = int(keep.sum())
        G = G * n  # grad_scale "labelled": what the component back-propagates
        rows = numpy.arange(len(gold))
        p_gold = P[rows, gold]
        g_gold = G[rows, gold]
        g_norm = numpy.sqrt((G * G).sum(axis=1))
        o_id = self.labels.index("O")
        groups = {"O": gold == o_id, "entity": gold != o_id}
        for i, label in enumerate(self.labels):
            if label != "O":
                groups[label] = gold == i
        out: Dict[str, Any] = {"loss": float(value), "n_tokens": n}
        for name, mask in groups.items():
            k = int(mask.sum())
            if not k:
                continue
            out[name] = {
                "n": k,
                "p_gold": float(p_gold[mask].mean()),
                "share_p_below_0.01": float((p_gold[mask] < 0.01).mean()),
                "grad_norm": float(g_norm[mask].mean()),
                "grad_gold_logit": float(g_gold[mask].mean()),
            }
        return out


def dev_f1(nlp, dev_examples) -> Dict[str, float]:
    scores = nlp.evaluate(dev_examples)
    return {"f": float(scores["ents_f"] or 0.0), "p": float(scores["ents_p"] or 0.0),
            "r": float(scores["ents_r"] or 0.0)}


def run_row(name: str, paths: Dict[str, Path], steps: int, every: int, eval_every: int,
            seed: int) -> Dict[str, Any]:
    from spacy.util import fix_random_seed, load_model_from_config, registry, resolve_dot_names

    preset, overrides = ROWS[name]
    config = with_loss(load_config(str(ROOT / "configs" / "ner_cnn.cfg")), "ner", preset, **overrides)
    config["paths"]["train"] = str(paths["train"])
    config["paths"]["dev"] = str(paths["dev"])
    config["system"]["seed"] = seed
    fix_random_seed(seed)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    config = nlp.config.interpolate()
    T = registry.resolve(config["training"])
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    optimizer = T["optimizer"]
    nlp.initialize(lambda: train_corpus(nlp), sgd=optimizer)
    ner = nlp.get_pipe("ner")
    recorder = Recorder(ner.loss, list(ner.class_names))
    ner.loss = recorder
    dev_examples = list(dev_corpus(nlp))
    batcher = T["batcher"]

    def batches():
        while True:
            yield from batcher(train_corpus(nlp))

    records: List[Dict[str, Any]] = []
    evals: List[Dict[str, Any]] = []
    start = time.time()
    for step, batch in zip(range(steps + 1), batches()):
        recorder.active = step % every == 0
        nlp.update(batch, drop=T["dropout"], sgd=optimizer)
        if recorder.active and recorder.record is not None:
            records.append(dict(step=step, **recorder.record))
        if step and step % eval_every == 0:
            evals.append(dict(step=step, **dev_f1(nlp, dev_examples)))
    return {"name": name, "preset": preset, "overrides": overrides,
            "loss": config["components"]["ner"]["loss"], "seed": seed, "steps": steps,
            "records": records, "dev": evals, "seconds": time.time() - start}


def first_step(records: List[Dict[str, Any]], group: str, key: str, test) -> Optional[int]:
    for r in records:
        if group in r and test(r[group][key]):
            return r["step"]
    return None


def markdown(data: Dict[str, Any]) -> str:
    meta = data["meta"]
    lines = ["### Saturation diagnosis (UNER, dice_ner CNN, first steps)", "",
             "Commands: " + "; ".join(f"`{c}`" for c in meta.get("commands", [meta["command"]]))
             + f" (last at commit {meta['commit']}, seed {meta['seed']}).", "",
             "Per row, averaged over the recorded batches of each step window: mean probability of"
             " the gold class (p) and mean L2 norm of the back-propagated logit gradient per token"
             " (|g|), for `O` tokens and entity-tag tokens; `sat` = share of entity tokens with"
             " p_gold < 0.01; dev F1 on the held-out 20% of UNER dev.", ""]
    windows = meta["windows"]
    head = ["row"]
    for a, b in windows:
        head += [f"p O {a}-{b}", f"p ent {a}-{b}", f"sat {a}-{b}", f"|g| O {a}-{b}", f"|g| ent {a}-{b}"]
    head += ["dev F1 by step"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in data["rows"]:
        cells = [row["name"]]
        for a, b in windows:
            rs = [r for r in row["records"] if a <= r["step"] <= b and "entity" in r]
            def m(group, key):
                vals = [r[group][key] for r in rs if group in r]
                return float(numpy.mean(vals)) if vals else float("nan")
            cells += [f"{m('O', 'p_gold'):.3f}", f"{m('entity', 'p_gold'):.3f}",
                      f"{m('entity', 'share_p_below_0.01'):.2f}",
                      f"{m('O', 'grad_norm'):.2e}", f"{m('entity', 'grad_norm'):.2e}"]
        cells.append(", ".join(f"{e['step']}: {percent(e['f'], 1)}" for e in row["dev"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    data_dir = Path(args.data_dir)
    if not (data_dir / "uner_english_ewt").is_dir():
        raise SystemExit(f"UNER not found under {data_dir}; pass --data-dir")
    paths = prepare_data("uner", data_dir, Path(args.work_dir), 0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    command = "python benchmarks/diagnose_saturation.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    third = max(1, args.steps // 3)
    meta = {"command": command, "commit": commit, "seed": args.seed, "steps": args.steps,
            "every": args.every, "eval_every": args.eval_every, "data": "UNER English-EWT dev, first 80%"
            " (train) / last 20% (dev F1)", "config": "configs/ner_cnn.cfg",
            "windows": [(0, third), (third + 1, 2 * third), (2 * third + 1, args.steps)]}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [r for r in args.rows.split(",") if r]
    # keep rows of earlier invocations with the same steps and seed (one file, extended)
    rows = []
    previous = out / "diagnosis_uner.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        if (old["meta"]["steps"], old["meta"]["seed"]) == (args.steps, args.seed):
            rows = [r for r in old["rows"] if r["name"] not in names]
            meta["commands"] = old["meta"].get("commands", [old["meta"]["command"]]) + [command]
    for name in names:
        row = run_row(name, paths, args.steps, args.every, args.eval_every, args.seed)
        print(f"{name}: {row['seconds']:.0f} s, dev {[(e['step'], round(e['f'], 3)) for e in row['dev']]}",
              flush=True)
        rows.append(row)
        data = {"meta": meta, "rows": rows}
        (out / "diagnosis_uner.json").write_text(json.dumps(data, indent=1))
        (out / "diagnosis_uner.md").write_text(markdown(data))


if __name__ == "__main__":
    main()
