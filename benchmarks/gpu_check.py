"""GPU check of spacy-dice with a transformer: the loss runs on the device, DSC costs no speed.

    python benchmarks/gpu_check.py --train corpus/conll2003/train.spacy \
        --test corpus/conll2003/test.spacy --steps 600 --gpu-id 0 --out metrics/gpu_check.json

(``benchmarks/gpu_check.sh`` installs what is missing, converts CoNLL-2003 and runs this.)

1. Instrumented run: ``dice_ner`` on all-MiniLM-L6-v2 (``configs/ner_trf.cfg``), a few updates with
   each loss (DSC, CE) with the loss object's ``__call__`` wrapped: every call must receive cupy
   guesses (``thinc.api.get_array_module(guesses[0]) is cupy``) and return a cupy gradient of the
   same shape and dtype, and a finite value. Also checked: thinc's ops are ``CupyOps`` and the torch
   transformer sits on ``cuda``. Any numpy on the way fails the check.
2. Timed runs (``benchmarks/trf_cpu.run``): the same batches for ``--steps`` updates with CE, then with
   DSC; training words/s, prediction words/s and entity F1 on ``--test``.
3. The verdict: DSC training words/s >= ``--min-ratio`` (0.95) x CE's.

Exit status 0 when every check passes, 1 otherwise; the results go to ``--out`` as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trf_cpu  # noqa: E402  (benchmarks/trf_cpu.py: the shared training loop)


def instrument_loss(loss: Any, record: Dict[str, Any]) -> None:
    """Replace ``loss``'s class by a subclass whose ``__call__`` checks devices (see module doc)."""
    import cupy
    from thinc.api import get_array_module

    cls = type(loss)

    def __call__(self, guesses, truths):
        first = guesses[0] if isinstance(guesses, (list, tuple)) else guesses
        module = get_array_module(first)
        if module is not cupy:
            raise AssertionError(f"{cls.__name__}: guesses are {type(first)} ({module.__name__}), not cupy")
        start = time.perf_counter()
        d_guesses, value = cls.__call__(self, guesses, truths)
        cupy.cuda.get_current_stream().synchronize()
        record["loss_seconds"] += time.perf_counter() - start
        pairs = zip(d_guesses, guesses) if isinstance(guesses, (list, tuple)) else [(d_guesses, guesses)]
        for d, g in pairs:
            if not isinstance(d, cupy.ndarray):
                raise AssertionError(f"{cls.__name__}: gradient is {type(d)}, not a cupy array")
            if d.shape != g.shape or d.dtype != g.dtype:
                raise AssertionError(
                    f"{cls.__name__}: gradient {d.shape}/{d.dtype} for guesses {g.shape}/{g.dtype}"
                )
        if not math.isfinite(float(value)):
            raise AssertionError(f"{cls.__name__}: loss value {value!r}")
        record["calls"] += 1
        record["guess_module"] = module.__name__
        record["grad_type"] = f"{type(d_guesses[0] if isinstance(d_guesses, list) else d_guesses).__module__}.ndarray"
        record["guess_dtype"] = str(first.dtype)
        return d_guesses, value

    loss.__class__ = type(f"DeviceChecked{cls.__name__}", (cls,), {"__call__": __call__})


def device_check(train_path: Path, loss: str, gpu_id: int, steps: int, mixed_precision: bool) -> Dict[str, Any]:
    """The instrumented short run for one loss; raises AssertionError on any CPU fallback."""
    import spacy
    import torch
    from spacy.training import Corpus
    from thinc.api import CupyOps, get_current_ops, set_gpu_allocator

    spacy.require_gpu(gpu_id)
    set_gpu_allocator("pytorch")
    config_path, overrides = trf_cpu.backbone_config("minilm")
    overrides["components.transformer.model.mixed_precision"] = bool(mixed_precision)
    config = spacy.util.load_config(config_path, overrides=overrides, interpolate=False)
    config["components"]["ner"]["loss"] = dict(trf_cpu.LOSSES[loss])
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    train = list(Corpus(str(train_path), limit=256)(nlp))
    optimizer = nlp.initialize(lambda: train)
    ner = nlp.get_pipe("ner")
    record: Dict[str, Any] = {"loss": loss, "calls": 0, "loss_seconds": 0.0}
    instrument_loss(ner.loss, record)
    assert isinstance(get_current_ops(), CupyOps), f"thinc ops are {type(get_current_ops()).__name__}"
    assert isinstance(ner.model.ops, CupyOps), f"ner model ops are {type(ner.model.ops).__name__}"
    hf = nlp.get_pipe("transformer").model.transformer
    record["torch_device"] = str(next(hf.parameters()).device)
    assert record["torch_device"].startswith("cuda"), record["torch_device"]
    for i in range(steps):
        batch = train[i * 32: (i + 1) * 32]
        nlp.update(batch, sgd=optimizer, losses={})
    assert record["calls"] == steps, record
    record["loss_ms_per_call"] = round(1000 * record.pop("loss_seconds") / steps, 3)
    record["torch"] = torch.__version__
    record["gpu"] = torch.cuda.get_device_name(gpu_id)
    return record


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-words", type=int, default=2000, help="padded batch size in tokens")
    parser.add_argument("--gpu-id", type=int, default=0)
    parser.add_argument("--check-steps", type=int, default=5, help="updates of the instrumented run")
    parser.add_argument("--min-ratio", type=float, default=0.95)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--trf-learn-rate", type=float, default=None,
                        help="peak learn rate of MiniLM (config: 5e-5)")
    parser.add_argument("--out", type=Path, default=Path("metrics/gpu_check.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import cupy  # noqa: F401
    except ImportError:
        print("FAIL: cupy is not importable; this check needs a CUDA machine with cupy", flush=True)
        return 1

    report: Dict[str, Any] = {"device_checks": [], "runs": []}
    ok = True
    for loss in ("dsc", "ce"):
        try:
            record = device_check(args.train, loss, args.gpu_id, args.check_steps, args.mixed_precision)
            record["ok"] = True
        except AssertionError as err:
            record = {"loss": loss, "ok": False, "error": str(err)}
            ok = False
        report["device_checks"].append(record)
        print(f"device check [{loss}]: " + json.dumps(record), flush=True)

    for loss in ("ce", "dsc"):
        report["runs"].append(trf_cpu.run(
            "minilm", args.train, args.test, steps=args.steps, batch_words=args.batch_words,
            loss=loss, gpu_id=args.gpu_id, mixed_precision=args.mixed_precision,
            trf_learn_rate=args.trf_learn_rate,
        ))
    by_loss = {r["loss"]: r for r in report["runs"]}
    ratio = by_loss["dsc"]["train_words_per_s"] / by_loss["ce"]["train_words_per_s"]
    report["dsc_over_ce_train_speed"] = round(ratio, 3)
    report["speed_ok"] = ratio >= args.min_ratio
    ok = ok and report["speed_ok"]
    report["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")

    print()
    print(trf_cpu.table(report["runs"]))
    print()
    for record in report["device_checks"]:
        state = "ok" if record["ok"] else "FAIL " + record["error"]
        print(f"loss on device [{record['loss']}]: {state}"
              + (f" ({record['calls']} calls, guesses {record['guess_module']} {record['guess_dtype']},"
                 f" gradient {record['grad_type']}, torch on {record['torch_device']},"
                 f" {record['loss_ms_per_call']} ms/call)" if record["ok"] else ""))
    print(f"DSC/CE training words/s: {ratio:.3f} (target >= {args.min_ratio}): "
          + ("ok" if report["speed_ok"] else "FAIL"))
    print(("PASS" if ok else "FAIL") + f"; results in {args.out}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
