#!/usr/bin/env python
"""MRPC on MiniLM with another pair encoding: BERT's ``[SEP]`` between the two sentences.

The shipped encoding joins a pair as ``first ||| second`` (``spacy_dice.corpus.pairs``), so the
wordpieces see ``| | |`` between the sentences. BERT-style tokenizers turn the literal text
``[SEP]`` into their separator token, so ``first [SEP] second`` gives the encoder the boundary it
was pretrained with (not the segment ids: spacy-transformers encodes one text per span). This
script copies the ``mrpc_trf`` corpora (``data/mrpc``) of ``benchmarks/run_accuracy.py`` (which must have run once:
they are under ``--work-dir``) with ``|||`` replaced by ``[SEP]`` and trains the grid's exact row
config on them (CE, same budget and early stopping), one run after the other:

    python benchmarks/mrpc_pair_separator.py --seeds 0,1 --resume

Compare the kept models' dev macro F1 with the ``mrpc_trf_converged`` rows of the same seeds: the
encoding is chosen on dev. Writes ``benchmarks/results/mrpc_trf_sep.json`` after each run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run_accuracy import git_commit, machine, row_config, task_overrides, write_atomic  # noqa: E402

SHIPPED, SEPARATOR = " ||| ", " [SEP] "
MAX_STEPS, EVAL_FREQUENCY, PATIENCE = 2400, 300, 900  # the mrpc_trf_converged budget


def copy_with_separator(source: Path, target: Path) -> Dict[str, int]:
    """Write each split of ``source`` (train / dev / test ``.spacy``) to ``target`` with the pair
    separator replaced, the cats kept; returns the docs per split."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "dev", "test"):
        path = source / f"{split}.spacy"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run benchmarks/run_accuracy.py --task mrpc_trf once first")
        out = DocBin()
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        for i, doc in enumerate(docs):
            if doc.text.count(SHIPPED) != 1:
                raise SystemExit(f"{path}, doc {i}: expected one {SHIPPED.strip()!r} between the sentences,"
                                 f" got {doc.text!r}")
            pair = nlp.make_doc(doc.text.replace(SHIPPED, SEPARATOR))
            pair.cats = dict(doc.cats)
            out.add(pair)
        out.to_disk(target / f"{split}.spacy")
        counts[split] = len(docs)
    return counts


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mrpc_trf_sep.json"))
    p.add_argument("--resume", action="store_true", help="reuse finished runs (result.json) in the work dir")
    args = p.parse_args(argv)
    from spacy_dice.training.executor import thread_env
    from spacy_dice.training.runner import run_training

    work = Path(args.work_dir)
    data = work / "data" / "mrpc_trf_sep"
    counts = copy_with_separator(work / "data" / "mrpc", data)
    command = "python benchmarks/mrpc_pair_separator.py " + " ".join(argv if argv is not None else sys.argv[1:])
    runs: List[Dict[str, Any]] = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        run_dir = work / "runs" / "mrpc_trf_sep" / f"ce-s{seed}"
        if args.resume and (run_dir / "result.json").exists():
            record = json.loads((run_dir / "result.json").read_text())
            record.setdefault("git_commit", git_commit())
        else:
            record = run_training(
                row_config("mrpc_trf", "ce", {}), run_dir, train_path=data / "train.spacy",
                dev_path=data / "dev.spacy", test_path=data / "test.spacy", seed=seed, max_steps=MAX_STEPS,
                eval_frequency=EVAL_FREQUENCY, extra_overrides=task_overrides("mrpc_trf", PATIENCE),
                measure_speed=False, quiet=True, env=thread_env(1)).to_dict()
            record["git_commit"] = git_commit()
        record.pop("metrics", None)
        runs.append(record)
        print(f"=== ce seed {seed}: dev macro F1 {record['best_dev_score']:.4f} (step {record['best_step']}),"
              f" test F1 of paraphrase {record['scores']['f_paraphrase']:.4f}", flush=True)
        meta = {"task": "mrpc_trf", "separator": SEPARATOR.strip(), "command": command, "machine": machine(),
                "max_steps": MAX_STEPS, "eval_frequency": EVAL_FREQUENCY, "patience": PATIENCE, "docs": counts}
        write_atomic(Path(args.out), json.dumps({"meta": meta, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
