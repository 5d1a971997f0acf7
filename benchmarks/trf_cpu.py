"""Train ``dice_ner`` for a fixed number of steps on one backbone and report words/s and F1.

    python benchmarks/trf_cpu.py --train corpus/uner/dev.spacy --test corpus/uner/test.spacy \
        --steps 200 --batch-words 1000 --threads 1 --backbone minilm --backbone cnn \
        --out metrics/trf_cpu.json

Each backbone is trained from its config (``minilm``/``trf:NAME`` -> ``configs/ner_trf.cfg`` with
``--paths.transformer_model`` resolved by :func:`spacy_dice.transformers.resolve_model_name`;
``cnn`` -> ``configs/ner_cnn.cfg``) on the SAME batches: the training examples shuffled with a fixed
seed each epoch and cut into batches whose padded size (longest doc x docs) is at most
``--batch-words`` tokens (spaCy's ``minibatch_by_padded_size``, the trf configs' batcher). The
configs' optimizers are kept (CNN: Adam 1e-3; transformer: Adam with
``warmup_linear``, here warmed up over the first 10% of the steps and decayed to 0 at ``--steps``).
Evaluation happens once, after the last step, on ``--test``.

Reported per run: training words/s (the time of ``nlp.update`` calls only: forward, loss, backward,
optimizer step), prediction words/s (``nlp.evaluate``'s own ``speed``: the pipeline over the test
docs), entity P/R/F1 and the seconds each part took. :func:`run` is also used by
``benchmarks/gpu_check.py`` (``gpu_id >= 0``).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"

LOSSES: Dict[str, Dict[str, Any]] = {
    # The configs' default: the paper's self-adjusting dice loss (DSC).
    "dsc": {
        "@losses": "spacy-dice.DiceLoss.v1", "smooth": 1.0, "alpha": 0.01,
        "square_denominator": True, "level": "instance", "class_reduction": "mean",
    },
    "ce": {"@losses": "spacy-dice.CrossEntropy.v1"},
    # CE, then DSC ramped in over the middle third of the steps (see loss_config)
    "ce_then_dsc": {},
}



def padded_batches(train: List[Any], seed: int, batch_words: int):
    """Endless training batches: ``train`` shuffled each pass (``random.Random(seed)``), cut by
    padded size = longest doc x docs (spaCy's batch_by_padded.v1, the trf configs' batcher), so
    docs of similar length share a batch and little compute goes to padding."""
    from spacy.training.batchers import minibatch_by_padded_size

    rng = random.Random(seed)
    while True:
        order = list(train)
        rng.shuffle(order)
        yield from minibatch_by_padded_size(order, size=batch_words, buffer=256)

def loss_config(loss: str, steps: int) -> Dict[str, Any]:
    """The loss block for ``loss``; ``ce_then_dsc`` is the preset with its ramp over steps/3..2*steps/3."""
    if loss != "ce_then_dsc":
        return dict(LOSSES[loss])
    from spacy_dice.training.config_rewrites import loss_block

    block = loss_block("ce_then_dsc")
    for weight in block["weights"].values():
        weight.update({"begin_step": steps // 3, "end_step": max(steps // 3 + 1, 2 * steps // 3)})
    return block


def backbone_config(backbone: str) -> tuple:
    """(config path, overrides) for ``cnn``, ``minilm`` or ``trf:NAME-OR-FOLDER``."""
    if backbone == "cnn":
        return CONFIGS / "ner_cnn.cfg", {}
    from spacy_dice.transformers import resolve_model_name

    name = backbone[4:] if backbone.startswith("trf:") else backbone
    return CONFIGS / "ner_trf.cfg", {"paths.transformer_model": resolve_model_name(name)}


def run(
    backbone: str,
    train_path: Path,
    test_path: Path,
    *,
    steps: int,
    batch_words: int = 1000,
    loss: str = "dsc",
    gpu_id: int = -1,
    seed: int = 0,
    eval_batch_size: int = 128,
    mixed_precision: bool = False,
    trf_learn_rate: Optional[float] = None,
    trf_grad_factor: Optional[float] = None,
    log: Any = None,
) -> Dict[str, Any]:
    """Train for ``steps`` updates and evaluate; return the measurements (see module doc)."""
    import spacy
    from thinc.api import fix_random_seed, set_gpu_allocator

    from spacy_dice.files import read_examples

    log = log or (lambda text: print(text, flush=True))
    if gpu_id >= 0:
        # require_gpu first: the allocator is routed through PyTorch only once thinc is on the GPU.
        spacy.require_gpu(gpu_id)
        set_gpu_allocator("pytorch")
    fix_random_seed(seed)
    config_path, overrides = backbone_config(backbone)
    is_trf = "paths.transformer_model" in overrides
    if is_trf:
        warmup = max(1, steps // 10)
        overrides.update({
            "training.optimizer.learn_rate.warmup_steps": warmup,
            "training.optimizer.learn_rate.total_steps": steps,
            "components.transformer.model.mixed_precision": bool(mixed_precision),
        })
        if trf_learn_rate is not None:
            overrides["training.optimizer.learn_rate.initial_rate"] = float(trf_learn_rate)
        if trf_grad_factor is not None:  # 0 = frozen transformer (features only)
            overrides["components.ner.model.tok2vec.grad_factor"] = float(trf_grad_factor)
    config = spacy.util.load_config(config_path, overrides=overrides, interpolate=False)
    config["components"]["ner"]["loss"] = loss_config(loss, steps)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    train = read_examples(train_path, nlp)
    test = read_examples(test_path, nlp)
    t0 = time.perf_counter()
    optimizer = nlp.initialize(lambda: train)
    init_s = time.perf_counter() - t0
    log(f"[{backbone}/{loss}] initialized in {init_s:.1f}s; {len(train)} train docs, {len(test)} test docs")

    words = 0
    train_s = 0.0
    losses: Dict[str, float] = {}
    stream = padded_batches(train, seed, batch_words)
    for step in range(1, steps + 1):
        batch = next(stream)
        start = time.perf_counter()
        nlp.update(batch, drop=0.1, sgd=optimizer, losses=losses)
        optimizer.step_schedules()
        train_s += time.perf_counter() - start
        words += sum(len(eg.predicted) for eg in batch)
        if step % max(1, steps // 10) == 0 or step == steps:
            log(
                f"[{backbone}/{loss}] step {step}/{steps}: {words:,} words, "
                f"{words / train_s:,.0f} words/s, loss ner {losses.get('ner', 0.0):.3f}"
            )
            losses = {}
    t0 = time.perf_counter()
    # Sorted by length (the scores do not depend on the order): little padding, as in training.
    scores = nlp.evaluate(sorted(test, key=len), batch_size=eval_batch_size)
    eval_s = time.perf_counter() - t0
    result = {
        "backbone": backbone,
        "loss": loss,
        "steps": steps,
        "batch_words": batch_words,
        "gpu_id": gpu_id,
        "mixed_precision": bool(mixed_precision) if is_trf else None,
        "grad_factor": float(trf_grad_factor if trf_grad_factor is not None else 1.0) if is_trf else None,
        "learn_rate": (
            float(config["training"]["optimizer"]["learn_rate"]["initial_rate"]) if is_trf
            else float(config["training"]["optimizer"]["learn_rate"])
        ),
        "train_words": words,
        "train_seconds": round(train_s, 2),
        "train_words_per_s": round(words / train_s, 1),
        "predict_words_per_s": round(float(scores["speed"]), 1),
        "eval_seconds": round(eval_s, 2),
        "ents_p": round(float(scores["ents_p"] or 0.0), 4),
        "ents_r": round(float(scores["ents_r"] or 0.0), 4),
        "ents_f": round(float(scores["ents_f"] or 0.0), 4),
        "ents_per_type": {
            k: {m: round(float(v), 4) for m, v in d.items()}
            for k, d in (scores.get("ents_per_type") or {}).items()
        },
    }
    log(f"[{backbone}/{loss}] " + json.dumps({k: v for k, v in result.items() if k != "ents_per_type"}))
    return result


def table(results: List[Dict[str, Any]]) -> str:
    lines = [
        "| backbone | loss | grad_factor | learn rate | steps | train words/s | predict words/s | P | R | F1 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['backbone']} | {r['loss']} | {r.get('grad_factor') if r.get('grad_factor') is not None else '-'} |"
            f" {r.get('learn_rate', '')} | {r['steps']} |"
            f" {r['train_words_per_s']:,.0f} |"
            f" {r['predict_words_per_s']:,.0f} | {r['ents_p']:.3f} | {r['ents_r']:.3f} |"
            f" {r['ents_f']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-words", type=int, default=1000,
                        help="padded batch size: longest doc x docs, in tokens")
    parser.add_argument("--backbone", action="append", default=None,
                        help="cnn, minilm or trf:NAME-OR-FOLDER (repeatable; default minilm and cnn)")
    parser.add_argument("--loss", action="append", choices=sorted(LOSSES), default=None)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--trf-learn-rate", type=float, default=None,
                        help="peak learn rate of the transformer backbones (config: 5e-5)")
    parser.add_argument("--trf-grad-factor", type=float, default=None,
                        help="listener grad_factor (config: 1.0; 0 freezes the transformer)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 is faster on a busy shared CPU")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    results = []
    for backbone in args.backbone or ["minilm", "cnn"]:
        for loss in args.loss or ["dsc"]:
            results.append(run(
                backbone, args.train, args.test, steps=args.steps, batch_words=args.batch_words,
                loss=loss, gpu_id=args.gpu_id, mixed_precision=args.mixed_precision,
                trf_learn_rate=args.trf_learn_rate, trf_grad_factor=args.trf_grad_factor,
            ))
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    print(table(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
